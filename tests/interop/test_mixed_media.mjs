#!/usr/bin/env node
// Media between the two kinds of real client through Chorus: Chromium
// (web/chorus.js) and aiortc (tests/interop/aiortc_peer.py, a child process).
//
// (a) A Chromium page publishes camera+mic in a live room; an aiortc
//     subscriber subscribes to "all" for 5 s: it must receive audio and
//     video RTP and decode video frames (and audio), for P's two tracks.
// (b) An aiortc publisher (Opus tone + VP8 pattern); a Chromium page
//     subscribes: its inbound video packetsReceived and framesDecoded and
//     its inbound audio packetsReceived must grow, with VP8 and Opus.
// Each direction has 10 s for media once the peers are set up. Prints the
// numbers (packets, frames, first-frame times from `join`).
//
//   node tests/interop/test_mixed_media.mjs      (CHORUS_BUILD_DIR, CHORUS_TEST_VERBOSE=1)
import { Harness, assert, assertEqual, sleep } from './browser/harness.mjs';
import { AiortcPeer } from './aiortc_peer.mjs';

const MEDIA_TIMEOUT_MS = 10000;
const SUBSCRIBE_WINDOW_S = 5;
// Python start-up (importing aiortc, av, numpy) comes on top of the media time.
const PEER_STARTUP_MS = 10000;

let h;
try {
  h = await Harness.start({ name: 'mixed' });
} catch (err) {
  console.log(`FAIL - harness start: ${err.message}`);
  process.exit(1);
}

const ok = (page, src, arg) => h.run(page, src, arg);

const statsUntil = (page, pcName, pred, what, timeoutMs = MEDIA_TIMEOUT_MS) =>
  h.statsUntil(page, pcName, pred, what, timeoutMs, inboundSummary);

function inboundSummary(stats) {
  if (!stats) return null;
  return stats.inbound.map((s) => ({ kind: s.kind, packets: s.packetsReceived, framesDecoded: s.framesDecoded,
    pliCount: s.pliCount, firCount: s.firCount, nackCount: s.nackCount }));
}

const sum = (list, kind, field) => list.filter((s) => s.kind === kind).reduce((a, s) => a + (s[field] || 0), 0);
const codecOf = (stats, kind) => {
  const rtp = stats.inbound.find((s) => s.kind === kind);
  const codec = rtp && stats.codec.find((c) => c.id === rtp.codecId);
  return codec ? codec.mimeType : null;
};

const tag = `${process.pid}-${Date.now() % 100000}`;

/** Checks of one direction: after its first failure the rest of that
 *  direction is skipped, but the other direction still runs. */
function section() {
  let failedHere = false;
  return async (name, fn) => {
    if (failedHere) {
      console.log(`skip - ${name} (an earlier check of this direction failed)`);
      return false;
    }
    const before = h.failed;
    const value = await h.check(name, async () => {
      await fn();
      return true;
    });
    if (h.failed > before) failedHere = true;
    return value === true;
  };
}
const peers = [];

// ---------------------------------------------------------------------------
// (a) Chromium publisher -> aiortc subscriber
// ---------------------------------------------------------------------------
async function chromiumToAiortc() {
  const room = `mixed-a-${tag}`;
  const step = section();
  const P = await h.newPage(undefined, 'P');
  let hostId;
  let published;
  let ok1 = await step('(a) Chromium P creates a live room, joins as host, publishes camera+mic', async () => {
    await ok(P, 'return t.connect("p", arg)', h.wsUrl);
    await ok(P, 'return t.clients.p.createRoom(arg, {kind: "live"})', room);
    hostId = (await ok(P, 'return t.join("p", "host", arg, {identity: "host", role: "host"})', room)).id;
    assertEqual(await ok(P, 'return t.getUserMedia("cam")'), ['audio', 'video'], 'fake devices');
    published = await ok(P, 'return t.sessions.host.publish(t.streams.cam)');
    assertEqual(published.map((x) => x.kind).sort(), ['audio', 'video'], 'published kinds');
    await statsUntil(P, 'host.publisher', (s) => sum(s.outbound, 'video', 'framesEncoded') > 0 &&
      sum(s.outbound, 'audio', 'packetsSent') > 0, 'P outbound media');
  });
  if (!ok1) return;

  let report;
  ok1 = await step(`(a) aiortc subscriber runs ${SUBSCRIBE_WINDOW_S} s on "all" and reports`, async () => {
    const peer = AiortcPeer.spawn('subscribe', { url: h.wsUrl, room, identity: 'aio-viewer',
      seconds: SUBSCRIBE_WINDOW_S });
    peers.push(peer);
    report = await peer.finish(PEER_STARTUP_MS + MEDIA_TIMEOUT_MS);
    const decodedAfterMs = report.first_frame_ms.video;
    console.log(`  aiortc subscriber: offer ${report.offer_ms} ms, connected ${report.connected_ms} ms, ` +
      `first video frame ${decodedAfterMs} ms, first audio frame ${report.first_frame_ms.audio} ms after join`);
    const win = report.window_s;
    console.log(`  received in ${win} s: video ${report.packets.video} packets / ${report.frames.video} frames ` +
      `decoded (${(report.frames.video / win).toFixed(1)} fps over the window, size ` +
      `${JSON.stringify(report.tracks.filter((t) => t.kind === 'video').map((t) => t.frame_size))}), ` +
      `audio ${report.packets.audio} packets / ${report.frames.audio} frames; rtx ${report.rtx_packets}`);
    const st = await h.getStats(P, 'host.publisher');
    const v = st.outbound.find((s) => s.kind === 'video') || {};
    console.log(`  Chromium publisher: video ${v.frameWidth}x${v.frameHeight} ${v.framesPerSecond ?? '?'} fps, ` +
      `target ${Math.round((v.targetBitrate || 0) / 1000)} kbps, quality limited by ${v.qualityLimitationReason}, ` +
      `keyframes ${v.keyFramesEncoded}, PLIs received ${v.pliCount}`);
    assert(report.error === null, `aiortc subscriber error: ${report.error}`);
    assertEqual(report.state, 'connected', 'subscriber PeerConnection state');
  });
  if (!ok1) return;

  await step('(a) the aiortc subscriber got P\'s two tracks, mapped by the offer', async () => {
    const got = report.tracks.map((t) => [t.track, t.participant, t.kind]).sort();
    const want = published.map((x) => [x.track, hostId, x.kind]).sort();
    assertEqual(got, want, 'received tracks');
  });
  await step('(a) aiortc received audio and video RTP and decoded video (and audio) frames', async () => {
    assert(report.packets.video > 0, `video packets ${report.packets.video}`);
    assert(report.packets.audio > 0, `audio packets ${report.packets.audio}`);
    assert(report.frames.video > 0, `decoded video frames ${report.frames.video}`);
    assert(report.frames.audio > 0, `decoded audio frames ${report.frames.audio}`);
  });

  await step('(a) P leaves; room destroyed', async () => {
    await ok(P, 'await t.sessions.host.leave()');
    await ok(P, 'return t.clients.p.destroyRoom(arg)', room);
  });
}

// ---------------------------------------------------------------------------
// (b) aiortc publisher -> Chromium subscriber
// ---------------------------------------------------------------------------
async function aiortcToChromium() {
  const room = `mixed-b-${tag}`;
  const step = section();
  const S = await h.newPage(undefined, 'S');
  let peer;
  let publishedEv;
  let ok1 = await step('(b) S creates a live room; aiortc publisher joins as host, publishes, connects', async () => {
    await ok(S, 'return t.connect("s", arg)', h.wsUrl);
    await ok(S, 'return t.clients.s.createRoom(arg, {kind: "live"})', room);
    // The window is ended by peer.stop() once S has checked; 60 s is a cap.
    peer = AiortcPeer.spawn('publish', { url: h.wsUrl, room, identity: 'aio-host', seconds: 60 });
    peers.push(peer);
    publishedEv = await peer.waitEvent('published', PEER_STARTUP_MS);
    await peer.waitEvent('connected', MEDIA_TIMEOUT_MS);
    assertEqual(publishedEv.tracks.map((x) => x.kind).sort(), ['audio', 'video'], 'published kinds');
  });
  if (!ok1) return;

  let joinAt = 0;
  let hostId;
  ok1 = await step('(b) S joins as audience, subscribes to all, gets a track per aiortc track', async () => {
    joinAt = await ok(S, `const at = performance.now();
      t.watchFirstFrame("viewer.subscriber");
      await t.join("s", "viewer", arg, {identity: "viewer"});
      return at;`, room);
    hostId = peer.events.find((e) => e.event === 'joined').participant;
    await ok(S, 'return t.sessions.viewer.subscribe("all")');
    await S.waitForFunction(() => window.t.find('viewer', 'track').length >= 2, null, { timeout: MEDIA_TIMEOUT_MS });
    const tracks = (await S.evaluate(() => window.t.find('viewer', 'track'))).map((e) => e.params);
    assertEqual(tracks.map((x) => [x.track, x.participant, x.kind]).sort(),
      publishedEv.tracks.map((x) => [x.track, hostId, x.kind]).sort(), 'track events');
  });
  if (!ok1) return;

  const t0 = Date.now();
  let first;
  let last;
  await step('(b) S decodes video: inbound packetsReceived and framesDecoded grow', async () => {
    first = await statsUntil(S, 'viewer.subscriber', (s) => sum(s.inbound, 'video', 'framesDecoded') > 0,
      'first decoded video frame');
    const p0 = sum(first.inbound, 'video', 'packetsReceived');
    const f0 = sum(first.inbound, 'video', 'framesDecoded');
    last = await statsUntil(S, 'viewer.subscriber', (s) => sum(s.inbound, 'video', 'packetsReceived') > p0 + 10 &&
      sum(s.inbound, 'video', 'framesDecoded') > f0 + 10, 'video growing', MEDIA_TIMEOUT_MS - (Date.now() - t0));
  });
  await step('(b) S receives audio: inbound packetsReceived grows', async () => {
    const a = await statsUntil(S, 'viewer.subscriber', (s) => sum(s.inbound, 'audio', 'packetsReceived') > 0,
      'first audio packet');
    const p0 = sum(a.inbound, 'audio', 'packetsReceived');
    last = await statsUntil(S, 'viewer.subscriber', (s) => sum(s.inbound, 'audio', 'packetsReceived') > p0 + 20,
      'audio growing', Math.max(1000, MEDIA_TIMEOUT_MS - (Date.now() - t0)));
  });
  await step('(b) S received VP8 video and Opus audio', async () => {
    assertEqual([codecOf(last, 'video'), codecOf(last, 'audio')], ['video/VP8', 'audio/opus'], 'inbound codecs');
  });

  // Let a few more seconds accumulate so the numbers printed mean something.
  await sleep(Math.max(0, 3000 - (Date.now() - t0)));
  await step('(b) numbers (S inbound, aiortc outbound)', async () => {
    const st = await h.getStats(S, 'viewer.subscriber');
    const firstFrameAt = await S.evaluate(() => window.t.firstFrameAt['viewer.subscriber'] ?? null);
    const v = st.inbound.find((s) => s.kind === 'video') || {};
    console.log(`  Chromium subscriber: first decoded video frame ${firstFrameAt === null ? '?' :
      Math.round(firstFrameAt - joinAt)} ms after join; video ${sum(st.inbound, 'video', 'packetsReceived')} packets, ` +
      `${sum(st.inbound, 'video', 'framesDecoded')} frames decoded (${v.frameWidth}x${v.frameHeight}, ` +
      `${v.framesPerSecond ?? '?'} fps, keyframes ${v.keyFramesDecoded}, PLIs sent ${v.pliCount}, ` +
      `NACKs ${v.nackCount}, packets lost ${v.packetsLost}); audio ${sum(st.inbound, 'audio', 'packetsReceived')} ` +
      `packets, lost ${sum(st.inbound, 'audio', 'packetsLost')}`);
    peer.stop();
    const rep = await peer.finish(MEDIA_TIMEOUT_MS);
    assert(rep.error === null, `aiortc publisher error: ${rep.error}`);
    console.log(`  aiortc publisher: connected ${rep.connected_ms} ms after join; sent video ` +
      `${rep.packets_sent.video} packets (${rep.frames_produced.video} frames), audio ${rep.packets_sent.audio} ` +
      `packets in ${rep.window_s} s after connected`);
    assert(rep.packets_sent.video > 0 && rep.packets_sent.audio > 0, `publisher sent ${JSON.stringify(rep.packets_sent)}`);
    // S joined after the publisher started, so it can only have less.
    assert(sum(st.inbound, 'video', 'packetsReceived') <= rep.packets_sent.video,
      `S received more video packets than were sent (${sum(st.inbound, 'video', 'packetsReceived')} > ` +
      `${rep.packets_sent.video})`);
  });

  await step('(b) S leaves; room destroyed', async () => {
    await ok(S, 'if (t.sessions.viewer) await t.sessions.viewer.leave()');
    await ok(S, 'return t.clients.s.destroyRoom(arg)', room);
  });
}

try {
  await chromiumToAiortc();
  await aiortcToChromium();
} catch (err) {
  await h.check('test body', () => {
    throw err;
  });
}
for (const p of peers) {
  p.kill();
  if (h.failed && p.log.length) console.log(`--- ${p.label} stderr (tail)\n  ${p.log.slice(-30).join('\n  ')}`);
}
const failed = await h.stop();
process.exit(failed ? 1 : 0);
