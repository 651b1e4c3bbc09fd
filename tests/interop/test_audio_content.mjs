#!/usr/bin/env node
// What subscribers HEAR of Chromium's audio, not only how many packets came.
//
// Chromium publishes Opus wrapped in RED (RFC 2198) once Chorus's publish
// answer accepts audio/red. Chorus passes RED on to subscribers whose answer
// negotiated it (outer PT their RED pt, each block's PT their Opus pt) and
// reduces it to the primary Opus block for those that did not (aiortc 1.4
// has no RED). Forwarded as it came, labelled Opus, RED is garbage to an Opus
// decoder while every packet counter still looks healthy: so this test
// checks the decoded sound.
//
// P (Chromium, host of a live room) publishes its fake microphone playing a
//   440 Hz tone (a WAV this test writes): Chorus's answer must put RED first
//   and P's send codec must be audio/red (else the rest proves nothing).
// S (Chromium, audience, subscribes "all"): RED negotiated (offer and
//   answer); every payload its receiver gets is RED under S's RED PT with
//   S's Opus PT in every block and the redundant block kept (read by an
//   RTCRtpScriptTransform on the receiver: Chromium's getStats names the
//   inner codec, audio/opus, even for RED); NetEq discards the redundant
//   copies; ~50 packets/s, none lost; the tone's audio level and energy,
//   little concealment; the received track's spectrum (AnalyserNode) peaks
//   at 440 Hz.
// A (aiortc, audience, subscribes "all", aiortc_peer.py --analyze-audio):
//   only its Opus PT arrives (RED reduced to the primary block), ~50
//   packets/s, none lost, about a frame decoded per packet, and the decoded
//   frames are the 440 Hz tone (FFT per frame).
//
//   node tests/interop/test_audio_content.mjs    (CHORUS_BUILD_DIR, CHORUS_TEST_VERBOSE=1)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Harness, assert, assertEqual, sleep } from './browser/harness.mjs';
import { AiortcPeer } from './aiortc_peer.mjs';

const TONE_HZ = 440;
const TONE_DBFS = -12;
const STEP_TIMEOUT_MS = 10000;
// S's measurement window, once its audio flows and has settled.
const SETTLE_MS = 1000;
const WINDOW_MS = 3000;
// A's window after `subscribe` (its connect takes ~0.1-0.5 s of it).
const AIORTC_WINDOW_S = 6;
// Python start-up (importing aiortc, av, numpy) comes on top.
const PEER_STARTUP_MS = 10000;
// Opus at 20 ms ptime: 50 packets/s, also inside RED.
const PACKET_RATE = [45, 55];
// A frame is the tone when its peak is this close to TONE_HZ (the peak of a
// zero-padded 20 ms frame is found to a few Hz; the page analyser's bins are
// sampleRate/8192 = 5.9 Hz wide).
const FREQ_TOLERANCE_HZ = 10;
// The tone is -12 dBFS peak, i.e. ~0.25 of full scale; silence is ~0.
const LEVEL_RANGE = [0.1, 0.5];
// Whole frames: Opus's first decoded frames ramp up, so A's first few are skipped.
const SKIP_FRAMES = 10;

/** A 1 s, 440 Hz mono WAV at -12 dBFS: a whole number of periods, so it loops without a click. */
function writeToneWav(file) {
  const rate = 48000;
  const samples = rate;
  const buf = Buffer.alloc(44 + samples * 2);
  buf.write('RIFF', 0);
  buf.writeUInt32LE(36 + samples * 2, 4);
  buf.write('WAVEfmt ', 8);
  buf.writeUInt32LE(16, 16); // fmt chunk size
  buf.writeUInt16LE(1, 20); // PCM
  buf.writeUInt16LE(1, 22); // mono
  buf.writeUInt32LE(rate, 24);
  buf.writeUInt32LE(rate * 2, 28); // bytes per second
  buf.writeUInt16LE(2, 32); // block align
  buf.writeUInt16LE(16, 34); // bits per sample
  buf.write('data', 36);
  buf.writeUInt32LE(samples * 2, 40);
  const amplitude = 32767 * 10 ** (TONE_DBFS / 20);
  for (let i = 0; i < samples; i++) {
    buf.writeInt16LE(Math.round(amplitude * Math.sin((2 * Math.PI * TONE_HZ * i) / rate)), 44 + i * 2);
  }
  fs.writeFileSync(file, buf);
}

const toneDir = fs.mkdtempSync(path.join(os.tmpdir(), 'chorus-audio-content-'));
const toneWav = path.join(toneDir, 'tone.wav');
writeToneWav(toneWav);
process.on('exit', () => fs.rmSync(toneDir, { recursive: true, force: true }));

let h;
try {
  h = await Harness.start({ name: 'audio-content', chromiumArgs: [`--use-file-for-fake-audio-capture=${toneWav}`] });
} catch (err) {
  console.log(`FAIL - harness start: ${err.message}`);
  process.exit(1);
}

const ok = (page, src, arg) => h.run(page, src, arg);
const audioOf = (stats, dir) => stats[dir].find((s) => s.kind === 'audio') || null;
const codecOf = (stats, rtp) => {
  const c = rtp && stats.codec.find((x) => x.id === rtp.codecId);
  return c ? c.mimeType : null;
};
const inboundAudio = (s) => {
  const a = audioOf(s, 'inbound');
  return a && { codec: codecOf(s, a), packets: a.packetsReceived, lost: a.packetsLost,
    samples: a.totalSamplesReceived, concealed: a.concealedSamples, silentConcealed: a.silentConcealedSamples,
    level: a.audioLevel, energy: a.totalAudioEnergy, duration: a.totalSamplesDuration };
};
const within = (x, [lo, hi]) => x >= lo && x <= hi;
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : null;
};
const fmt = (x, d = 3) => (typeof x === 'number' ? x.toFixed(d) : String(x));

const tag = `${process.pid}-${Date.now() % 100000}`;
const room = `audio-${tag}`;
let peer = null;

/** Setup steps build on each other: after the first failure the rest are skipped. */
const step = (name, fn) => h.check(name, fn, { dependent: true });

/** The audio m-section of @sdp: PT order, {pt: codec name}, {pt: fmtp}, and the RED and Opus PTs. */
function audioCodecs(sdp) {
  const section = sdp.split(/\r?\n(?=m=)/).find((m) => m.startsWith('m=audio'));
  assert(section, `no m=audio in ${JSON.stringify(sdp.slice(0, 200))}`);
  const order = section.split(/\r?\n/)[0].split(' ').slice(3);
  const rtpmap = {};
  const fmtp = {};
  for (const line of section.split(/\r?\n/)) {
    let m = line.match(/^a=rtpmap:(\d+) ([^/]+)\//);
    if (m) rtpmap[m[1]] = m[2].toLowerCase();
    m = line.match(/^a=fmtp:(\d+) (.*)$/);
    if (m) fmtp[m[1]] = m[2];
  }
  const ptOf = (name) => Object.keys(rtpmap).find((pt) => rtpmap[pt] === name) ?? null;
  return { order, rtpmap, fmtp, red: ptOf('red'), opus: ptOf('opus') };
}

/**
 * Runs in a Worker as the RTCRtpScriptTransform of S's audio receiver: sees
 * every received RTP payload (Chromium hands the transform the payload as
 * it came, before NetEq splits RED) with its payload type, checks the RFC
 * 2198 structure and the PT of every block, and passes the frame on
 * unchanged. Posts a summary every 10 frames.
 */
const RED_PROBE_WORKER = `
const sum = { frames: 0, payloadTypes: {}, mimeTypes: {}, redOk: 0, redundantBlocks: {}, blockPts: {},
  bad: [], first: [] };
function parseRed(b) {
  let pos = 0;
  let data = 0;
  const pts = [];
  for (;;) {
    if (pos >= b.length) return 'headers run past the payload';
    if (!(b[pos] & 0x80)) break;
    if (pos + 4 > b.length) return 'a block header runs past the payload';
    pts.push(b[pos] & 0x7f);
    data += ((b[pos + 2] & 0x03) << 8) | b[pos + 3];
    pos += 4;
  }
  pts.push(b[pos] & 0x7f);
  const primary = b.length - (pos + 1) - data;
  if (primary < 0) return 'blocks longer than the payload';
  if (primary === 0) return 'empty primary block';
  return { pts, redundant: pts.length - 1 };
}
onrtctransform = (e) => {
  const tr = e.transformer;
  tr.readable.pipeThrough(new TransformStream({
    transform(frame, ctl) {
      try {
        const m = frame.getMetadata();
        const b = new Uint8Array(frame.data);
        sum.frames++;
        sum.payloadTypes[m.payloadType] = (sum.payloadTypes[m.payloadType] || 0) + 1;
        sum.mimeTypes[m.mimeType] = (sum.mimeTypes[m.mimeType] || 0) + 1;
        if (sum.first.length < 3) sum.first.push({ pt: m.payloadType, mime: m.mimeType, bytes: Array.from(b.slice(0, 8)) });
        const r = parseRed(b);
        if (typeof r === 'string') {
          if (sum.bad.length < 5) sum.bad.push({ seq: m.sequenceNumber, pt: m.payloadType, why: r, bytes: Array.from(b.slice(0, 8)) });
        } else {
          sum.redOk++;
          sum.redundantBlocks[r.redundant] = (sum.redundantBlocks[r.redundant] || 0) + 1;
          for (const pt of r.pts) sum.blockPts[pt] = (sum.blockPts[pt] || 0) + 1;
        }
      } catch (err) {
        if (sum.bad.length < 5) sum.bad.push({ why: String(err) });
      }
      ctl.enqueue(frame);
      if (sum.frames % 10 === 0) self.postMessage(sum);
    },
  })).pipeTo(tr.writable);
};
`;

async function body() {
  const P = await h.newPage(undefined, 'P');
  const S = await h.newPage(undefined, 'S');
  let hostId;
  let published;

  await step('P creates a live room, joins as host, publishes its microphone (the 440 Hz tone)', async () => {
    await ok(P, 'return t.connect("p", arg)', h.wsUrl);
    await ok(P, 'return t.clients.p.createRoom(arg, {kind: "live"})', room);
    hostId = (await ok(P, 'return t.join("p", "host", arg, {identity: "host", role: "host"})', room)).id;
    // Capture processing off: noise suppression takes a steady tone for
    // noise (measured: level 0.03 instead of 0.25 at S).
    assertEqual(await ok(P, 'return t.getUserMedia("mic", {video: false, audio: {echoCancellation: false, ' +
      'noiseSuppression: false, autoGainControl: false}})'), ['audio'], 'devices');
    published = await ok(P, 'return t.sessions.host.publish(t.streams.mic)');
    assertEqual(published.map((x) => x.kind), ['audio'], 'published kinds');
  });

  await step('P sends audio/red: Chorus\'s publish answer puts RED first, Chromium\'s send codec is RED', async () => {
    await h.statsUntil(P, 'host.publisher', (s) => (audioOf(s, 'outbound')?.packetsSent || 0) > 0,
      'P outbound audio', STEP_TIMEOUT_MS);
    const { answer, sendCodecs } = await ok(P, `const pc = t.pcs["host.publisher"];
      return { answer: pc.remoteDescription.sdp,
        sendCodecs: pc.getSenders().find((x) => x.track && x.track.kind === 'audio').getParameters().codecs
          .map((c) => c.mimeType) };`);
    const a = audioCodecs(answer);
    // Without RED from the publisher this test proves nothing about RED.
    assert(a.red !== null, `Chorus's publish answer has no RED (audio PTs ${JSON.stringify(a.rtpmap)}): ` +
      'RED is not accepted from publishers');
    assertEqual([a.order[0], a.fmtp[a.red]], [a.red, `${a.opus}/${a.opus}`], 'answer: first PT, RED fmtp');
    assertEqual(sendCodecs[0], 'audio/red', 'P sender\'s first (send) codec');
  });

  // A starts now and runs its window while S is checked.
  await step('A (aiortc) starts: joins as audience, subscribes to all', async () => {
    peer = AiortcPeer.spawn('subscribe', { url: h.wsUrl, room, identity: 'aio-listener',
      seconds: AIORTC_WINDOW_S, extraArgs: ['--analyze-audio'] });
    await peer.waitEvent('joined', PEER_STARTUP_MS);
  });

  await step('S joins as audience, subscribes to all (a RED probe on its receiver), gets P\'s audio track', async () => {
    await ok(S, 'return t.connect("s", arg)', h.wsUrl);
    await ok(S, 'return t.join("s", "viewer", arg, {identity: "viewer"})', room);
    // The transform goes on at the 'track' event, before the first packet.
    await ok(S, `const w = new Worker(URL.createObjectURL(new Blob([arg], { type: 'text/javascript' })));
      t.redProbe = null;
      w.onmessage = (e) => { t.redProbe = e.data; };
      w.onerror = (e) => { t.redProbe = { error: String(e.message) }; };
      t.sessions.viewer.on('peerconnection', ({ target, pc }) => {
        if (target !== 'subscriber') return;
        pc.addEventListener('track', (e) => {
          if (e.track.kind === 'audio') e.receiver.transform = new RTCRtpScriptTransform(w, {});
        });
      });`, RED_PROBE_WORKER);
    await ok(S, 'return t.sessions.viewer.subscribe("all")');
    await S.waitForFunction(() => window.t.find('viewer', 'track').length >= 1, null, { timeout: STEP_TIMEOUT_MS });
    const tracks = (await S.evaluate(() => window.t.find('viewer', 'track'))).map((e) => e.params);
    assertEqual(tracks.map((x) => [x.track, x.participant, x.kind]),
      published.map((x) => [x.track, hostId, x.kind]), 'track events');
    // client.js mutes its elements; Chromium applies the element's volume
    // before it measures audioLevel, so a muted element reads as silence.
    // The spectrum is read from the received track itself, through Web Audio.
    await ok(S, `const el = document.querySelector('#media audio');
      if (!el || !el.srcObject) throw new Error('no <audio> element for the received track');
      el.muted = false;
      el.volume = 1;
      const ctx = new AudioContext();
      await ctx.resume();
      const an = ctx.createAnalyser();
      an.fftSize = 8192;
      an.smoothingTimeConstant = 0;
      ctx.createMediaStreamSource(el.srcObject).connect(an);
      t.analyser = { ctx, an };`);
  });

  let s0;
  let sdpS;
  await step('S receives audio', async () => {
    await h.statsUntil(S, 'viewer.subscriber', (s) => (audioOf(s, 'inbound')?.packetsReceived || 0) > 0,
      'S first inbound audio packet', STEP_TIMEOUT_MS, inboundAudio);
    await sleep(SETTLE_MS);
    s0 = await h.getStats(S, 'viewer.subscriber');
    sdpS = await ok(S, `const pc = t.pcs["viewer.subscriber"];
      return { offer: pc.remoteDescription.sdp, answer: pc.localDescription.sdp };`);
  });
  if (h.failed) return;

  // From here on each check stands alone (a failure does not hide the others).
  let codecsS;
  await h.check('S negotiated RED: Chorus\'s offer lists red first (fmtp opus/opus), S\'s answer keeps it', async () => {
    const o = audioCodecs(sdpS.offer);
    codecsS = audioCodecs(sdpS.answer);
    assert(o.red !== null && codecsS.red !== null, `RED in offer/answer: ${JSON.stringify([o.rtpmap, codecsS.rtpmap])}`);
    assertEqual([o.order[0], o.fmtp[o.red]], [o.red, `${o.opus}/${o.opus}`], 'offer: first PT, RED fmtp');
    assertEqual([codecsS.red, codecsS.opus], [o.red, o.opus], 'answer: RED and Opus PTs');
  });

  const peaks = [];
  await h.check(`S's received track sounds at ${TONE_HZ} Hz (AnalyserNode spectrum peak, ${WINDOW_MS / 1000} s)`, async () => {
    const t0 = Date.now();
    while (Date.now() - t0 < WINDOW_MS) {
      peaks.push(await ok(S, `const { ctx, an } = t.analyser;
        const db = new Float32Array(an.frequencyBinCount);
        an.getFloatFrequencyData(db);
        const binHz = ctx.sampleRate / an.fftSize;
        let peak = 0;
        let total = 0;
        const power = Array.from(db, (x) => (Number.isFinite(x) ? 10 ** (x / 10) : 0));
        power.forEach((p, i) => { total += p; if (p > power[peak]) peak = i; });
        // Energy within 30 Hz of the peak (Blackman main lobe +-3 bins) over all of it.
        let near = 0;
        for (let i = Math.max(0, peak - 5); i <= Math.min(power.length - 1, peak + 5); i++) near += power[i];
        return { hz: peak * binHz, peakDb: db[peak], purity: total > 0 ? near / total : 0, state: ctx.state };`));
      await sleep(200);
    }
    const hz = peaks.map((p) => p.hz);
    console.log(`  S spectrum peaks (Hz): ${hz.map((x) => x.toFixed(0)).join(' ')}; peak dB median ` +
      `${fmt(median(peaks.map((p) => p.peakDb)), 1)}, purity median ${fmt(median(peaks.map((p) => p.purity)))}`);
    const off = peaks.filter((p) => Math.abs(p.hz - TONE_HZ) > FREQ_TOLERANCE_HZ);
    assert(peaks.length >= 10, `only ${peaks.length} spectrum samples`);
    assert(off.length === 0, `${off.length}/${peaks.length} spectrum samples peak away from ${TONE_HZ} Hz: ` +
      JSON.stringify(off.slice(0, 5)));
    const purity = median(peaks.map((p) => p.purity));
    assert(purity >= 0.9, `median share of the energy at the peak ${fmt(purity)} < 0.9: not a clean tone`);
  });

  const s1 = await h.getStats(S, 'viewer.subscriber');
  await h.check('S decodes the tone: ~50 packets/s, tone level and energy, concealment < 2 %', async () => {
    const a = inboundAudio(s0);
    const b = inboundAudio(s1);
    const secs = b.duration - a.duration;
    const packets = b.packets - a.packets;
    const samples = b.samples - a.samples;
    const concealed = b.concealed - a.concealed;
    const energyRate = (b.energy - a.energy) / secs;
    // A steady tone of peak level L has an energy rate (sum of level^2 x
    // duration, per second) of about L^2.
    console.log(`  S over ${fmt(secs, 2)} s of audio: ${packets} packets (${fmt(packets / secs, 1)}/s), ` +
      `lost ${b.lost - a.lost}, ${samples} samples, concealed ${concealed} (silent ${b.silentConcealed - a.silentConcealed}), ` +
      `audioLevel ${fmt(b.level)}, energy rate ${fmt(energyRate, 4)}/s (level^2 ${fmt(b.level * b.level, 4)})`);
    assert(secs >= WINDOW_MS / 1000 - 0.5, `only ${fmt(secs, 2)} s of audio played out in the window`);
    assert(within(packets / secs, PACKET_RATE), `S received ${fmt(packets / secs, 1)} packets/s, want ` +
      `${PACKET_RATE[0]}..${PACKET_RATE[1]}`);
    assert(within(b.level, LEVEL_RANGE), `S audioLevel ${fmt(b.level)} outside ${LEVEL_RANGE} (silence is ~0)`);
    assert(within(energyRate, [LEVEL_RANGE[0] ** 2, LEVEL_RANGE[1] ** 2]),
      `S totalAudioEnergy grew ${fmt(energyRate, 4)}/s, outside ${LEVEL_RANGE[0] ** 2}..${LEVEL_RANGE[1] ** 2}`);
    assert(samples > 0 && concealed / samples < 0.02, `S concealed ${concealed} of ${samples} samples ` +
      `(${fmt((100 * concealed) / Math.max(1, samples), 1)} %): undecodable payloads are concealed`);
  });

  await h.check('S gets RED passed through: every payload is RED (S\'s RED PT), every block S\'s Opus PT, ' +
    'redundancy kept (NetEq discards the copies)', async () => {
    const st = s1;
    const a = audioOf(st, 'inbound');
    const probe = await S.evaluate(() => window.t.redProbe);
    const discarded = a.packetsDiscarded - audioOf(s0, 'inbound').packetsDiscarded;
    const received = a.packetsReceived - audioOf(s0, 'inbound').packetsReceived;
    console.log(`  S RED probe: ${JSON.stringify(probe)}`);
    console.log(`  S inbound: ${a.packetsReceived} packets, ${a.packetsDiscarded} discarded by the jitter buffer ` +
      `(${discarded} of ${received} in the window); stats codec ${codecOf(st, a)} (Chromium names the inner codec)`);
    assert(probe && !probe.error, `no RED probe summary from S's receiver transform: ${JSON.stringify(probe)}`);
    // Padding-only packets (bandwidth probes) count as received but carry no frame.
    assert(probe.frames >= a.packetsReceived * 0.9, `the probe saw ${probe.frames} payloads, S received ` +
      `${a.packetsReceived} packets`);
    assertEqual(probe.payloadTypes, { [codecsS.red]: probe.frames }, 'payload types of S\'s audio packets');
    assertEqual(probe.mimeTypes, { 'audio/red': probe.frames }, 'MIME types of S\'s audio payloads');
    assertEqual(probe.bad, [], 'payloads that are not well-formed RED');
    assertEqual(Object.keys(probe.blockPts), [codecsS.opus], 'PTs inside the RED blocks');
    const withRedundancy = probe.frames - (probe.redundantBlocks[0] || 0);
    assert(withRedundancy >= probe.frames * 0.9, `only ${withRedundancy} of ${probe.frames} RED payloads carry a ` +
      `redundant block (${JSON.stringify(probe.redundantBlocks)})`);
    // NetEq splits RED and drops each redundant copy of a packet it already has.
    assert(received > 0 && discarded >= received * 0.9, `S's jitter buffer discarded ${discarded} of ${received} ` +
      'packets: the redundant copies of RED should be (nearly) all of them');
  });

  await h.check('S lost no audio packet (loopback: a sequence gap is a packet Chorus numbered, then dropped)', async () => {
    const a = audioOf(s1, 'inbound');
    assertEqual(a.packetsLost, 0, `S inbound audio packetsLost (of ${a.packetsReceived} received)`);
  });

  // A's checks read its report: skipped without a good one.
  let report = null;
  const reportOk = await h.check(`A's report: connected, one audio track from P`, async () => {
    const r = await peer.finish(AIORTC_WINDOW_S * 1000 + STEP_TIMEOUT_MS);
    assert(r.error === null, `aiortc subscriber error: ${r.error}`);
    assertEqual(r.state, 'connected', 'A subscriber PeerConnection state');
    assertEqual(r.tracks.map((x) => [x.track, x.participant, x.kind]),
      published.map((x) => [x.track, hostId, x.kind]), 'A received tracks');
    assertEqual(r.audio_analysis.length, 1, 'analysed audio tracks');
    report = r;
    return true;
  });
  const stepA = (name, fn) => (reportOk ? h.check(name, fn) : console.log(`skip - ${name} (no usable report from A)`));

  await stepA('A receives Opus, not RED: only its Opus payload type, ~50 packets/s, a frame per packet', async () => {
    const an = report.audio_analysis[0];
    const spanS = (an.last_packet_ms - an.first_packet_ms) / 1000;
    const rate = (an.packets - 1) / spanS;
    console.log(`  A: ${an.packets} audio packets over ${fmt(spanS, 2)} s (${fmt(rate, 1)}/s), payload types ` +
      `${JSON.stringify(an.payload_types)} (negotiated ${JSON.stringify(an.codecs)}), sequence span ${an.seq_span}, ` +
      `${an.frames.length} frames decoded`);
    const opusPts = Object.entries(an.codecs).filter(([, mime]) => mime.toLowerCase() === 'audio/opus').map(([pt]) => pt);
    assertEqual(opusPts.length, 1, `Opus payload types negotiated by A (${JSON.stringify(an.codecs)})`);
    assert(!Object.values(an.codecs).some((m) => m.toLowerCase() === 'audio/red'), 'aiortc 1.4 negotiated RED?');
    assertEqual(an.payload_types, { [opusPts[0]]: an.packets }, 'payload types of A\'s audio packets');
    assertEqual(an.seq_unique, an.packets, 'A\'s audio packets with distinct sequence numbers (duplicates?)');
    assert(spanS >= AIORTC_WINDOW_S - 2, `A's audio flowed for only ${fmt(spanS, 2)} s of its ${AIORTC_WINDOW_S} s`);
    assert(within(rate, PACKET_RATE), `A received ${fmt(rate, 1)} packets/s, want ${PACKET_RATE[0]}..${PACKET_RATE[1]}`);
    // aiortc's jitter buffer holds some back at the start and the end (measured: 275 of 296).
    assert(an.frames.length >= an.packets * 0.85 && an.frames.length <= an.packets,
      `A decoded ${an.frames.length} frames from ${an.packets} packets`);
  });

  await stepA('A lost no audio packet (no gap in its sequence numbers)', async () => {
    const an = report.audio_analysis[0];
    assertEqual(an.seq_span - an.seq_unique, 0, `A's missing sequence numbers (span ${an.seq_span}, ` +
      `received ${an.seq_unique})`);
  });

  await stepA(`A's decoded frames are the ${TONE_HZ} Hz tone (FFT per frame)`, async () => {
    const frames = report.audio_analysis[0].frames.slice(SKIP_FRAMES);
    const [hzMed, rmsMed, purityMed] = [0, 1, 2].map((i) => median(frames.map((f) => f[i] ?? 0)));
    const off = frames.filter(([hz]) => hz === null || Math.abs(hz - TONE_HZ) > FREQ_TOLERANCE_HZ);
    const quiet = frames.filter(([, rms]) => rms < LEVEL_RANGE[0] / 2);
    console.log(`  A frames after the first ${SKIP_FRAMES}: ${frames.length}; peak Hz median ${fmt(hzMed, 1)}, ` +
      `RMS median ${fmt(rmsMed)} (a -12 dBFS sine: 0.177), purity median ${fmt(purityMed)}; ` +
      `${off.length} off ${TONE_HZ}±${FREQ_TOLERANCE_HZ} Hz, ${quiet.length} quiet`);
    assert(frames.length >= (AIORTC_WINDOW_S - 2) * 50, `only ${frames.length} frames to analyse`);
    // A lost or late packet is concealed by a decoder; 2 % leaves room for a few, not for garbage.
    assert(off.length <= frames.length * 0.02, `${off.length}/${frames.length} frames peak away from ` +
      `${TONE_HZ} Hz; first: ${JSON.stringify(off.slice(0, 5))}`);
    assert(quiet.length <= frames.length * 0.02, `${quiet.length}/${frames.length} frames quieter than RMS ` +
      `${LEVEL_RANGE[0] / 2}; first: ${JSON.stringify(quiet.slice(0, 5))}`);
    assert(within(rmsMed, [0.12, 0.24]), `median frame RMS ${fmt(rmsMed)}, want ~0.177 (a -12 dBFS sine)`);
    assert(purityMed >= 0.95, `median tone purity ${fmt(purityMed)} < 0.95`);
  });

  await h.check('P leaves; room destroyed', async () => {
    await ok(P, 'await t.sessions.host.leave()');
    await ok(P, 'return t.clients.p.destroyRoom(arg)', room);
  });
}

try {
  await body();
} catch (err) {
  await h.check('test body', () => {
    throw err;
  });
}
if (peer) {
  peer.kill();
  if (h.failed && peer.log.length) console.log(`--- ${peer.label} stderr (tail)\n  ${peer.log.slice(-30).join('\n  ')}`);
}
const failed = await h.stop();
process.exit(failed ? 1 : 0);
