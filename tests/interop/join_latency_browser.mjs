#!/usr/bin/env node
// Join latency for Chromium subscribers: from the `join` call in the page to
// the first decoded video frame, with a Chromium publisher already flowing.
//
//   node tests/interop/join_latency_browser.mjs [--runs 20] [--pause-ms 200] [--max-p95-ms MS]
//   ... --strip-twcc   diagnostic: the publisher page drops transport-cc from
//                      the server's answer, so that its bandwidth estimate
//                      does not wait for TWCC feedback the server never sends
//
// A measurement, not a test: prints every run with a breakdown, then the
// median, p95 and max of each step. Exits non-zero only when a run decodes
// no frame within 10 s, or with --max-p95-ms when the p95 is above it.
// CHORUS_BUILD_DIR selects the build (default <repo>/build).
//
// Each run opens a fresh page (own browser context) and WebSocket, not
// timed. Then, timed in the page with performance.now() from the join call:
//   join     `join` reply (the page calls subscribe("all") right after it)
//   offer    the subscriber `offer` notification arrives
//   answer   `answer` request sent (offer applied, answer created and set)
//   ice      iceConnectionState "connected"
//   dtls     the DTLS transport "connected"
//   pkt      first inbound video RTP packet, an upper bound: getStats
//            lastPacketReceivedTimestamp of the first snapshot that has
//            packets, capped at recv
//   recv     last packet of the first decodable frame received
//            (requestVideoFrameCallback metadata.receiveTime)
//   frame    first video frame decoded and handed to the compositor
//            (requestVideoFrameCallback metadata.presentationTime): THE number
//   plis     PLIs Chromium itself sent before its first frame: > 0 means the
//            server's keyframe request did not bring a keyframe in time.
// getStats() polling alone is not precise in Chromium: it serves a cached
// report for up to ~50 ms, so framesDecoded > 0 shows up to 50 ms late.
import { Harness, sleep } from './browser/harness.mjs';

const FRAME_TIMEOUT_MS = 10000;

function parseArgs(argv) {
  const out = { runs: 20, pauseMs: 200, maxP95Ms: null, stripTwcc: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v < 0) throw new Error(`${a} needs a non-negative number`);
      return v;
    };
    if (a === '--runs') out.runs = Math.max(1, Math.floor(next()));
    else if (a === '--pause-ms') out.pauseMs = next();
    else if (a === '--max-p95-ms') out.maxP95Ms = next();
    else if (a === '--strip-twcc') out.stripTwcc = true;
    else throw new Error(`unknown argument ${a} (--runs N, --pause-ms MS, --max-p95-ms MS, --strip-twcc)`);
  }
  return out;
}

let args;
try {
  args = parseArgs(process.argv.slice(2));
} catch (err) {
  console.error(err.message);
  process.exit(2);
}

/** Nearest-rank percentile (p95 of 20 runs is the 19th smallest), as join_latency.py. */
function percentile(values, pct) {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((pct / 100) * sorted.length));
  return sorted[rank - 1];
}
const median = (values) => {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

// Runs inside the page (a string body for t.run): joins, subscribes, and
// records page-clock marks until the first decoded video frame.
const RUN_IN_PAGE = `
  const [room, identity, timeoutMs] = arg;
  const client = t.clients.s;
  const marks = {};
  const mark = (name, at = performance.now()) => { if (marks[name] === undefined) marks[name] = at; };
  // Outgoing requests of this client, with their send and reply times.
  const request = client.request.bind(client);
  client.request = (method, params, opts) => {
    mark(method + '.sent');
    const p = request(method, params, opts);
    p.then(() => mark(method + '.reply'), () => mark(method + '.error'));
    return p;
  };
  client.on('offer', () => mark('offer'));
  client.on('trickle', (p) => { if (p.target === 'subscriber') mark('trickle.in'); });

  let pc = null;
  let firstFrameMeta = null;
  const watchPc = (p) => {
    pc = p;
    mark('pc');
    pc.addEventListener('iceconnectionstatechange', () => mark('ice.' + pc.iceConnectionState));
    pc.addEventListener('connectionstatechange', () => mark('pc.' + pc.connectionState));
    pc.addEventListener('icecandidate', (ev) => { if (ev.candidate && ev.candidate.candidate) mark('candidate.local'); });
    pc.addEventListener('signalingstatechange', () => {
      mark('signaling.' + pc.signalingState);
      const dtls = pc.getReceivers().map((r) => r.transport).find((x) => x);
      if (dtls && !dtls.__watched) {
        dtls.__watched = true;
        if (dtls.state !== 'new') mark('dtls.' + dtls.state);
        dtls.addEventListener('statechange', () => mark('dtls.' + dtls.state));
        const ice = dtls.iceTransport;
        if (ice) ice.addEventListener('selectedcandidatepairchange', () => mark('ice.pair'));
      }
    });
  };

  const t0 = performance.now();
  marks.join = t0;
  await t.join('s', 'viewer', room, { identity });
  const session = t.sessions.viewer;
  session.on('peerconnection', ({ target, pc: p }) => { if (target === 'subscriber') watchPc(p); });
  session.on('track', (entry) => {
    mark('track.' + entry.kind);
    if (entry.kind !== 'video') return;
    // client.js puts the stream on a <video> in this same task; watch its first presented frame.
    const v = [...document.querySelectorAll('video')].find((el) => el.dataset.track === entry.track);
    if (!v || !v.requestVideoFrameCallback) return;
    v.requestVideoFrameCallback((now, meta) => {
      // presentationTime: the decoded frame handed to the compositor;
      // receiveTime: the last packet of that frame arrived (WebRTC sources).
      mark('frame', meta.presentationTime);
      if (meta.receiveTime !== undefined) mark('recv', meta.receiveTime);
      mark('render', now);
      firstFrameMeta = { ...JSON.parse(JSON.stringify(meta)) };
    });
  });
  await session.subscribe('all');

  // getStats() answers from a cache for up to ~50 ms in Chromium, so it only
  // brackets the first packet and frame; requestVideoFrameCallback gives
  // the first frame precisely (its metadata carries page-clock times).
  const snapshot = {};
  const deadline = t0 + timeoutMs;
  let statsFrameAt = null;
  for (;;) {
    if (pc) {
      const after = () => performance.now();
      const stats = await pc.getStats();
      let video = null;
      let audio = null;
      stats.forEach((s) => {
        if (s.type !== 'inbound-rtp') return;
        if (s.kind === 'video') video = s;
        if (s.kind === 'audio') audio = s;
      });
      const onPageClock = (epochMs) => epochMs - performance.timeOrigin;
      if (audio && audio.packetsReceived > 0 && audio.lastPacketReceivedTimestamp) {
        mark('pkt.audio', onPageClock(audio.lastPacketReceivedTimestamp));
      }
      // The first snapshot with packets holds the first burst: its last
      // packet time is within a few ms of the first packet.
      if (video && video.packetsReceived > 0 && video.lastPacketReceivedTimestamp && marks.pkt === undefined) {
        mark('pkt', onPageClock(video.lastPacketReceivedTimestamp));
        snapshot.firstPackets = video.packetsReceived;
      }
      if (video && video.framesDecoded > 0) {
        mark('frame.stats', after());
        statsFrameAt = statsFrameAt ?? after();
        Object.assign(snapshot, { pliCount: video.pliCount, firCount: video.firCount, nackCount: video.nackCount,
          packetsReceived: video.packetsReceived, keyFramesDecoded: video.keyFramesDecoded,
          frameWidth: video.frameWidth, frameHeight: video.frameHeight });
      }
      // Done when the frame callback came (or, failing it, 500 ms after
      // getStats saw a decoded frame).
      if (marks.frame !== undefined && statsFrameAt !== null) break;
      if (statsFrameAt !== null && after() - statsFrameAt > 500) {
        snapshot.noFrameCallback = true;
        break;
      }
    }
    if (performance.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  const rel = {};
  for (const [k, v] of Object.entries(marks)) rel[k] = Math.round((v - t0) * 10) / 10;
  return { marks: rel, snapshot, frameMeta: firstFrameMeta, participant: session.id };
`;

// Columns of the per-run table: [header, mark name].
const COLUMNS = [
  ['join', 'join.reply'],
  ['offer', 'offer'],
  ['answer', 'answer.sent'],
  ['ice', 'ice.connected'],
  ['dtls', 'dtls.connected'],
  ['pkt', 'pkt'],
  ['recv', 'recv'],
  ['frame', 'frame'],
];

/** The first decoded frame: the frame callback, else getStats (coarser). */
const frameOf = (r) => r.marks.frame ?? r.marks['frame.stats'];

const fmt = (v, w = 7) => (v === undefined || v === null ? '-' : v.toFixed(0)).padStart(w);

let h;
try {
  h = await Harness.start({ name: 'join-latency' });
} catch (err) {
  console.log(`FAIL - harness start: ${err.message}`);
  process.exit(1);
}

const ok = (page, src, arg) => h.run(page, src, arg);

/** The publisher's own view: resolution, rate and bandwidth estimate (a
 *  slowly paced keyframe shows up as a long pkt -> recv step). */
async function printPublisher(P, when) {
  const st = await h.getStats(P, 'host.publisher');
  const v = st.outbound.find((s) => s.kind === 'video') || {};
  const pair = st.candidatePair.find((c) => c.nominated && c.state === 'succeeded') || {};
  const kbps = (bps) => (bps === undefined ? '?' : Math.round(bps / 1000));
  console.log(`${when}: video ${v.frameWidth}x${v.frameHeight} ${v.framesPerSecond ?? '?'} fps, ` +
    `target ${kbps(v.targetBitrate)} kbps, available outgoing ${kbps(pair.availableOutgoingBitrate)} kbps, ` +
    `quality limited by ${v.qualityLimitationReason} ` +
    `(${JSON.stringify(v.qualityLimitationDurations || {})}), keyframes encoded ${v.keyFramesEncoded}, ` +
    `PLIs received ${v.pliCount}`);
}

const room = `join-latency-${process.pid}`;
const rows = [];
let failedRuns = 0;
let exitCode = 0;
try {
  const P = await h.newPage(undefined, 'P');
  await ok(P, 'return t.connect("p", arg)', h.wsUrl);
  await ok(P, 'return t.clients.p.createRoom(arg, {kind: "live"})', room);
  await ok(P, 'return t.join("p", "host", arg, {identity: "host", role: "host"})', room);
  await ok(P, 'return t.getUserMedia("cam")');
  if (args.stripTwcc) {
    await ok(P, `const orig = RTCPeerConnection.prototype.setRemoteDescription;
      RTCPeerConnection.prototype.setRemoteDescription = function (d) {
        if (d && d.type === 'answer') {
          d = { type: d.type, sdp: d.sdp.split('\\r\\n').filter((l) => !/transport-cc|transport-wide-cc/.test(l)).join('\\r\\n') };
        }
        return orig.call(this, d);
      };`);
  }
  await ok(P, 'return t.sessions.host.publish(t.streams.cam)');
  // Publisher in steady state before the first run (as join_latency.py).
  const until = Date.now() + 10000;
  for (;;) {
    const st = await h.getStats(P, 'host.publisher');
    if (st.outbound.some((s) => s.kind === 'video' && s.framesEncoded > 0)) break;
    if (Date.now() > until) throw new Error('the Chromium publisher encodes no video');
    await sleep(50);
  }
  await sleep(1000);
  await printPublisher(P, 'publisher before the runs');

  console.log(`Chromium subscriber join -> first decoded frame, ${args.runs} runs, pause ${args.pauseMs} ms ` +
    '(ms from the join call, page clock)');
  console.log(`${'run'.padStart(4)}${COLUMNS.map(([c]) => c.padStart(7)).join('')}   plis  size`);
  for (let i = 0; i < args.runs; i++) {
    const S = await h.newPage(undefined, `S${i}`);
    await ok(S, 'return t.connect("s", arg)', h.wsUrl);
    const r = await ok(S, RUN_IN_PAGE, [room, `viewer-${i}`, FRAME_TIMEOUT_MS]);
    const m = r.marks;
    // getStats can only bound the first packet from above (cached snapshots);
    // it certainly came no later than the last packet of the first frame.
    if (m.pkt !== undefined && m.recv !== undefined && m.pkt > m.recv) m.pkt = m.recv;
    const line = `${String(i).padStart(4)}${COLUMNS.map(([, k]) => fmt(m[k])).join('')}` +
      `${fmt(r.snapshot.pliCount, 7)}  ${r.snapshot.frameWidth ?? '?'}x${r.snapshot.frameHeight ?? '?'}`;
    console.log(line);
    if (frameOf(r) === undefined) {
      failedRuns++;
      console.log(`     run ${i}: no decoded frame within ${FRAME_TIMEOUT_MS} ms; marks ${JSON.stringify(m)}`);
    }
    rows.push(r);
    await ok(S, 'if (t.sessions.viewer) await t.sessions.viewer.leave()').catch(() => {});
    await S.context().close();
    h.pages = h.pages.filter((p) => p !== S);
    await sleep(args.pauseMs);
  }

  console.log('step (ms from join)   median    p95    max    min  runs');
  for (const [name, key] of COLUMNS) {
    const values = rows.map((r) => r.marks[key]).filter((v) => v !== undefined);
    if (!values.length) continue;
    console.log(`  ${name.padEnd(18)}${fmt(median(values))}${fmt(percentile(values, 95))}` +
      `${fmt(Math.max(...values))}${fmt(Math.min(...values))}  ${String(values.length).padStart(4)}`);
  }
  // Where the time goes: each step from the one before it.
  console.log('step (ms from previous step)   median    p95    max');
  for (let c = 1; c < COLUMNS.length; c++) {
    const [name, key] = COLUMNS[c];
    const [pname, pkey] = COLUMNS[c - 1];
    const values = rows.filter((r) => r.marks[key] !== undefined && r.marks[pkey] !== undefined)
      .map((r) => r.marks[key] - r.marks[pkey]);
    if (!values.length) continue;
    console.log(`  ${`${pname} -> ${name}`.padEnd(27)}${fmt(median(values))}${fmt(percentile(values, 95))}` +
      `${fmt(Math.max(...values))}`);
  }
  const frames = rows.map((r) => frameOf(r) ?? Infinity);
  const noCallback = rows.filter((r) => r.marks.frame === undefined && frameOf(r) !== undefined).length;
  if (noCallback) console.log(`runs timed by getStats (no frame callback): ${noCallback}`);
  const plis = rows.filter((r) => (r.snapshot.pliCount || 0) > 0).length;
  console.log(`runs where Chromium had to send its own PLI before the first frame: ${plis} of ${rows.length}`);
  const summary = `chromium join -> first decoded video frame: runs ${frames.length}, median ${median(frames).toFixed(0)} ms, ` +
    `p95 ${percentile(frames, 95).toFixed(0)} ms, max ${Math.max(...frames).toFixed(0)} ms, ` +
    `min ${Math.min(...frames).toFixed(0)} ms${failedRuns ? `, ${failedRuns} runs without a frame` : ''}`;
  console.log(summary);
  if (failedRuns) exitCode = 1;
  if (args.maxP95Ms !== null && percentile(frames, 95) > args.maxP95Ms) {
    console.log(`FAIL: p95 ${percentile(frames, 95).toFixed(0)} ms > ${args.maxP95Ms} ms`);
    exitCode = 1;
  }
  await printPublisher(P, 'publisher after the runs');
  await ok(P, 'await t.sessions.host.leave()');
  await ok(P, 'return t.clients.p.destroyRoom(arg)', room);
} catch (err) {
  console.log(`FAIL: ${err.message}`);
  exitCode = 1;
}
if (exitCode) h.dumpLogs();
const failedChecks = await h.stop();
process.exit(exitCode || (failedChecks ? 1 : 0));
