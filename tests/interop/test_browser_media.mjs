#!/usr/bin/env node
// Audio+video from one Chromium page through Chorus to another, via
// web/chorus.js.
//
// Page P (host of a live room) publishes camera+mic; page S (audience)
// joins and subscribes to "all". Checks, within 10 s: S's inbound video
// packetsReceived and framesDecoded grow, inbound audio packets grow, and
// both PeerConnections use an AES-GCM SRTP cipher. Prints the time from S's
// join request to its first decoded video frame.
//
//   node tests/interop/test_browser_media.mjs
//   CHORUS_SIMULCAST=1 node ...    publish video as 3 simulcast encodings
import { Harness, assert, assertEqual, sleep } from './browser/harness.mjs';

const MEDIA_TIMEOUT_MS = 10000;
const simulcast = process.env.CHORUS_SIMULCAST === '1';

let h;
try {
  h = await Harness.start({ name: 'media' });
} catch (err) {
  console.log(`FAIL - harness start: ${err.message}`);
  process.exit(1);
}

const ok = (page, src, arg) => h.run(page, src, arg);

/** Polls getStats(pcName) until pred(stats) is true; returns the stats. */
const statsUntil = (page, pcName, pred, what, timeoutMs = MEDIA_TIMEOUT_MS) =>
  h.statsUntil(page, pcName, pred, what, timeoutMs, summary);

function summary(stats) {
  if (!stats) return null;
  const pick = (s) => ({ kind: s.kind, rid: s.rid, packets: s.packetsReceived ?? s.packetsSent,
    framesDecoded: s.framesDecoded, framesEncoded: s.framesEncoded });
  return { inbound: stats.inbound.map(pick), outbound: stats.outbound.map(pick),
    transport: stats.transport.map((t) => ({ dtlsState: t.dtlsState, srtpCipher: t.srtpCipher })) };
}

const sum = (list, kind, field) => list.filter((s) => s.kind === kind).reduce((a, s) => a + (s[field] || 0), 0);
const GCM = /AES_(128_|256_)?GCM/;

const room = `media-${process.pid}-${Date.now() % 100000}`;
const ids = {};
let published = [];
try {
  const P = await h.newPage(undefined, 'P');
  const S = await h.newPage(undefined, 'S');

  await h.check('P creates a live room and joins as host; S connects', async () => {
    await ok(P, 'return t.connect("p", arg)', h.wsUrl);
    await ok(S, 'return t.connect("s", arg)', h.wsUrl);
    await ok(P, 'return t.clients.p.createRoom(arg, {kind: "live"})', room);
    ids.host = (await ok(P, 'return t.join("p", "host", arg, {identity: "host", role: "host"})', room)).id;
  });

  await h.check(`P publishes camera+mic (simulcast ${simulcast ? 'on' : 'off'})`, async () => {
    assertEqual(await ok(P, 'return t.getUserMedia("cam")'), ['audio', 'video'], 'fake devices');
    published = await ok(P, 'return t.sessions.host.publish(t.streams.cam, {simulcast: arg})', simulcast);
    assertEqual(published.map((x) => x.kind).sort(), ['audio', 'video'], 'published kinds');
    for (const x of published) assert(typeof x.track === 'string' && x.mid !== undefined, `track entry ${JSON.stringify(x)}`);
    const video = published.find((x) => x.kind === 'video');
    if (simulcast) assertEqual([...video.simulcast].sort(), ['f', 'h', 'q'], 'simulcast rids');
  }, { dependent: true });

  let joinAt = 0;
  await h.check('S joins as audience and subscribes to all', async () => {
    joinAt = await ok(S, `const at = performance.now();
      t.watchFirstFrame("viewer.subscriber");
      await t.join("s", "viewer", arg, {identity: "viewer"});
      return at;`, room);
    ids.viewer = await ok(S, 'return t.sessions.viewer.id');
    await ok(S, 'return t.sessions.viewer.subscribe("all")');
  }, { dependent: true });

  await h.check('S gets a track event for each of P\'s tracks, mapped by the offer', async () => {
    await S.waitForFunction(() => window.t.find('viewer', 'track').length >= 2, null, { timeout: MEDIA_TIMEOUT_MS });
    const tracks = (await S.evaluate(() => window.t.find('viewer', 'track'))).map((e) => e.params);
    assertEqual(tracks.map((x) => [x.track, x.participant, x.kind]).sort(),
      published.map((x) => [x.track, ids.host, x.kind]).sort(), 'track events');
  }, { dependent: true });

  await h.check('P sends: outbound video frames encoded and audio packets sent', async () => {
    await statsUntil(P, 'host.publisher',
      (s) => sum(s.outbound, 'video', 'framesEncoded') > 0 && sum(s.outbound, 'audio', 'packetsSent') > 0,
      'publisher outbound');
    if (simulcast) {
      const st = await h.getStats(P, 'host.publisher');
      assertEqual(st.outbound.filter((x) => x.kind === 'video').map((x) => x.rid).sort(), ['f', 'h', 'q'], 'rids');
    }
  }, { dependent: true });

  let firstFrameMs = null;
  await h.check('S decodes video: packetsReceived and framesDecoded grow', async () => {
    const first = await statsUntil(S, 'viewer.subscriber', (s) => sum(s.inbound, 'video', 'framesDecoded') > 0,
      'first decoded frame');
    firstFrameMs = await S.evaluate(() => window.t.firstFrameAt['viewer.subscriber'] ?? null);
    const p0 = sum(first.inbound, 'video', 'packetsReceived');
    const f0 = sum(first.inbound, 'video', 'framesDecoded');
    await statsUntil(S, 'viewer.subscriber',
      (s) => sum(s.inbound, 'video', 'packetsReceived') > p0 + 10 && sum(s.inbound, 'video', 'framesDecoded') > f0 + 10,
      'video growing');
  }, { dependent: true });

  await h.check('S receives audio: packetsReceived grows', async () => {
    const first = await statsUntil(S, 'viewer.subscriber', (s) => sum(s.inbound, 'audio', 'packetsReceived') > 0,
      'first audio packet');
    const p0 = sum(first.inbound, 'audio', 'packetsReceived');
    await statsUntil(S, 'viewer.subscriber', (s) => sum(s.inbound, 'audio', 'packetsReceived') > p0 + 20,
      'audio growing');
  }, { dependent: true });

  await h.check('RTCP terminated by Chorus: P gets receiver reports, S gets sender reports', async () => {
    const deadline = Date.now() + 5000;
    let rr = [], sr = [];
    while (Date.now() < deadline) {
      // Kinds that have reports (with simulcast, one per video layer sent).
      rr = await ok(P, `const out = new Set(); (await t.sessions.host.publisherPc.getStats()).forEach((x) => {
        if (x.type === 'remote-inbound-rtp') out.add(x.kind); }); return [...out].sort();`);
      sr = await ok(S, `const out = new Set(); (await t.sessions.viewer.subscriberPc.getStats()).forEach((x) => {
        if (x.type === 'remote-outbound-rtp' && x.packetsSent > 0) out.add(x.kind); }); return [...out].sort();`);
      if (rr.length === 2 && sr.length === 2) break;
      await sleep(200);
    }
    assertEqual(rr, ['audio', 'video'], 'publisher remote-inbound-rtp (from Chorus RRs)');
    assertEqual(sr, ['audio', 'video'], 'subscriber remote-outbound-rtp (from Chorus SRs)');
  }, { dependent: true });

  await h.check('ICE restart of both PeerConnections: new server credentials, media keeps flowing', async () => {
    const ufrag = (page, pc) => ok(page, `const m = ${pc}.remoteDescription.sdp.match(/a=ice-ufrag:(\\S+)/);
      return m ? m[1] : null;`);
    const pub0 = await ufrag(P, 't.sessions.host.publisherPc');
    const sub0 = await ufrag(S, 't.sessions.viewer.subscriberPc');
    await ok(P, 'return t.sessions.host.restartIce({subscriber: false})');
    await ok(S, 'return t.sessions.viewer.restartIce({publisher: false})');
    const deadline = Date.now() + MEDIA_TIMEOUT_MS;
    let pub1 = pub0, sub1 = sub0;
    while ((pub1 === pub0 || sub1 === sub0) && Date.now() < deadline) {
      await sleep(50);
      pub1 = await ufrag(P, 't.sessions.host.publisherPc');
      sub1 = await ufrag(S, 't.sessions.viewer.subscriberPc');
    }
    assert(pub1 && pub1 !== pub0, `publisher: server ufrag ${pub0} -> ${pub1}`);
    assert(sub1 && sub1 !== sub0, `subscriber: server ufrag ${sub0} -> ${sub1}`);
    const before = await h.getStats(S, 'viewer.subscriber');
    const f0 = sum(before.inbound, 'video', 'framesDecoded');
    await statsUntil(S, 'viewer.subscriber', (s) => sum(s.inbound, 'video', 'framesDecoded') > f0 + 30,
      'video decoding after the restarts');
  }, { dependent: true });

  await h.check('join-to-first-decoded-frame time', async () => {
    // Measured in the page (getStats every 10 ms): precise enough to spot
    // a 1 s DTLS retransmission tail.
    assert(firstFrameMs !== null, 'no first frame');
    const ms = Math.round(firstFrameMs - joinAt);
    console.log(`  join-to-first-decoded-frame: ${ms} ms`);
    assert(ms < MEDIA_TIMEOUT_MS, `${ms} ms`);
  }, { dependent: true });

  await h.check('SRTP cipher is AES-GCM on both PeerConnections', async () => {
    for (const [page, pc] of [[S, 'viewer.subscriber'], [P, 'host.publisher']]) {
      const st = await h.getStats(page, pc);
      const ciphers = st.transport.map((x) => x.srtpCipher);
      assert(ciphers.length > 0 && ciphers.every((c) => GCM.test(c || '')), `${pc} srtpCipher ${JSON.stringify(ciphers)}`);
      assert(st.transport.every((x) => x.dtlsState === 'connected'), `${pc} dtlsState`);
    }
  }, { dependent: true });

  await h.check('P mutes and unmutes its audio: S\'s session shows it (track.updated)', async () => {
    const audio = published.find((x) => x.kind === 'audio').track;
    const mutedOnS = () => ok(S, 'return t.sessions.viewer.tracks.get(arg).muted', audio);
    assertEqual(await mutedOnS(), false, 'before');
    await ok(P, 'return t.sessions.host.muteTrack(arg, true)', audio);
    await S.waitForFunction((id) => window.t.sessions.viewer.tracks.get(id).muted === true, audio,
      { timeout: MEDIA_TIMEOUT_MS });
    await ok(P, 'return t.sessions.host.muteTrack(arg, false)', audio);
    await S.waitForFunction((id) => window.t.sessions.viewer.tracks.get(id).muted === false, audio,
      { timeout: MEDIA_TIMEOUT_MS });
    assertEqual(await ok(S, 'return [t.sessions.viewer.kind, t.sessions.viewer.self.role]'), ['live', 'audience'],
      'kind and self from the join result');
  }, { dependent: true });

  await h.screenshot(S, 'subscriber');
  await h.check('P and S leave; the room is destroyed', async () => {
    await ok(S, 'if (t.sessions.viewer) await t.sessions.viewer.leave()');
    await ok(P, 'if (t.sessions.host) await t.sessions.host.leave()');
    await ok(P, 'return t.clients.p.destroyRoom(arg)', room);
  });
} catch (err) {
  await h.check('test body', () => {
    throw err;
  });
}

const failed = await h.stop();
process.exit(failed ? 1 : 0);
