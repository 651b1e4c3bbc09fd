#!/usr/bin/env node
// Live rooms with real clients of both kinds (issue #7): cross-room PK with
// Chromium hosts and an aiortc audience, and promote/demote of an audience
// member without reconnecting.
//
// Rooms A and B (kind live, created one after the other, so on different
// workers: the log says which). Chromium host HA in A and HB in B publish
// the fake camera + mic and subscribe to "all"; aiortc audience VA1, VA2 in
// A and VB1 in B subscribe to "all" (tests/interop/aiortc_ctl.py, one child
// process for the three).
//   1. Before PK each audience member receives only its own room's host.
//   2. HA: live.pk.start {room: B}. Both rooms hear live.pk started; VA1
//      decodes HB's video (frames on the m-line the offer maps to HB's
//      track, participant = HB) and VB1 decodes HA's; HA decodes HB too.
//   3. HA: live.pk.stop. live.pk stopped in both rooms; new offers without
//      the other room's tracks; their packet counts stop growing while the
//      own host's keep growing. A second PK (start, decode, stop) between
//      the same rooms: the tracks come back on their old m-lines.
//   4. VA2 (audience) may not publish (-32002). HA: live.promote VA2; VA2
//      publishes Opus + VP8 on its existing connection; VA1 and HA decode it.
//   5. HA: live.demote VA2: track.unpublished for both tracks, VA1's next
//      offer lacks them and their packets stop; VA2 still receives HA.
//   Throughout: same WebSockets and PeerConnections (object identity and
//   state), no participant.left / participant.joined after setup.
// Prints the timings: pk.start -> first decoded frame of the other room's
// host, pk.stop -> last packet, promote/publish -> first frame, demote ->
// last packet. Times are wall-clock (Date.now() here, time.time() in
// aiortc_ctl, which samples its counters every 10 ms); audio packets are
// 20 ms apart, so a "last packet" may be a few ms before the request.
//
//   node tests/interop/test_live_pk.mjs    (CHORUS_BUILD_DIR, CHORUS_SIMULCAST=1, CHORUS_TEST_VERBOSE=1)
import { Harness, assert, assertEqual, sleep } from './browser/harness.mjs';
import { AiortcCtl, CtlError } from './aiortc_ctl.mjs';

const STEP_TIMEOUT_MS = 10000;
// Packets must not grow over this window once the offer without the track is in.
const QUIET_WINDOW_MS = 1500;
// Counters settle this long after such an offer before the quiet window.
const SETTLE_MS = 1000;
const MIN_FRAMES = 10; // "decodes": this many frames, not a lucky first one
const simulcast = process.env.CHORUS_SIMULCAST === '1';
const testStart = Date.now();

const tag = `${process.pid % 10000}-${Date.now() % 100000}`;
const roomA = `pk-a-${tag}`;
const roomB = `pk-b-${tag}`;

// Python start-up (aiortc, av, numpy) overlaps with chorus and Chromium.
const started = await Promise.allSettled([Harness.start({ name: 'live-pk' }), AiortcCtl.start()]);
const h = started[0].value;
const ctl = started[1].value;
if (!h || !ctl) {
  const why = started.filter((r) => r.status === 'rejected').map((r) => r.reason.message).join('; ');
  console.log(`FAIL - start (chorus + Chromium, aiortc_ctl): ${why}`);
  if (h) await h.stop();
  if (ctl) ctl.kill();
  process.exit(1);
}

const ok = (page, src, arg) => h.run(page, src, arg);
// A failed gate step (one that later steps build on) skips the rest; a
// failed measurement step does not, so that one server problem does not
// hide the others.
let blockedBy = null;
async function step(name, fn, { gate = true } = {}) {
  if (blockedBy) {
    console.log(`skip - ${name} (needs: ${blockedBy})`);
    return undefined;
  }
  const before = h.failed;
  const value = await h.check(name, fn);
  if (h.failed > before && gate) blockedBy = name;
  return value;
}
const status = (name) => ctl.request('status', { name });
const timings = [];
const timing = (what, ms) => {
  timings.push([what, ms]);
  console.log(`  timing: ${what}: ${ms === null ? '?' : `${Math.round(ms)} ms`}`);
};

/** Polls fn() every 50 ms until it returns a truthy value; fails naming @what with describe(). */
async function until(what, fn, timeoutMs = STEP_TIMEOUT_MS, describe = async () => '') {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms; ${await describe()}`);
    await sleep(50);
  }
}

/** The latest segment (see aiortc_ctl.py) of @track in @st. */
const segOf = (st, track) => [...st.segments].reverse().find((s) => s.track === track) || null;
const activeTracks = (st) => st.segments.filter((s) => s.active).map((s) => s.track).sort();
const lastOffer = (st) => st.offers[st.offers.length - 1] || null;
const segSummary = (st) => JSON.stringify(st.segments.map((s) => ({ track: s.track, mid: s.mid, active: s.active,
  packets: s.packets, frames: s.frames, inactive: s.packets_inactive })));
/** m-lines whose SSRC changed between offers (a recycled mid), as text. */
function recycledMids(st) {
  const seen = new Map(); // mid -> [ssrc, track]
  const out = [];
  for (const o of st.offers) {
    for (const m of o.mlines) {
      if (!m.ssrcs.length) continue;
      const track = (o.tracks.find((x) => x.mid === m.mid) || {}).track || null;
      const prev = seen.get(m.mid);
      if (prev && prev[0] !== m.ssrcs[0]) {
        out.push(`mid ${m.mid} (${m.kind}): SSRC ${prev[0]} (${prev[1]}) -> ${m.ssrcs[0]} (${track}) in offer v${o.version}`);
      }
      seen.set(m.mid, [m.ssrcs[0], track]);
    }
  }
  return out;
}

const describeCtl = (name) => async () => {
  const st = await status(name);
  const o = lastOffer(st);
  return `${name}: segments ${segSummary(st)}; offers ${JSON.stringify(st.offers.map((x) => x.version))}; ` +
    `last offer m-lines ${JSON.stringify(o ? o.mlines.map((m) => [m.mid, m.kind, m.direction, m.ssrcs]) : null)}; ` +
    `recycled m-lines: ${JSON.stringify(recycledMids(st))}; ` +
    `RTP dropped by aiortc's router (no receiver for the SSRC) ${JSON.stringify(st.unrouted)}; ` +
    `pcs ${JSON.stringify(Object.fromEntries(Object.entries(st.pcs).map(([k, v]) => [k, v.state])))}; ` +
    `errors ${JSON.stringify(st.errors)}`;
};

/** Waits until @name has decoded @minFrames video frames of @track (mapped to @participant). */
async function decodes(name, track, participant, minFrames = MIN_FRAMES) {
  const st = await until(`${name} decodes ${minFrames} frames of track ${track}`, async () => {
    const s = await status(name);
    const seg = segOf(s, track);
    return seg && seg.active && seg.frames >= minFrames ? s : null;
  }, STEP_TIMEOUT_MS, describeCtl(name));
  const seg = segOf(st, track);
  assertEqual(seg.participant, participant, `${name}: participant the offer maps track ${track} to`);
  assertEqual(seg.kind, 'video', `${name}: kind of track ${track}`);
  return seg;
}

/**
 * After an offer without @tracks reached @name: waits for it, lets the
 * counters settle, then requires that their packets do not grow for
 * QUIET_WINDOW_MS. Returns {offerMs, lastPacketMs} (wall clock) and the
 * packet totals.
 */
async function stopsReceiving(name, tracks, sinceVersion) {
  const st0 = await until(`${name}: an offer (version > ${sinceVersion}) without ${tracks.join(', ')}`, async () => {
    const s = await status(name);
    const o = lastOffer(s);
    return o && o.version > sinceVersion && !o.tracks.some((x) => tracks.includes(x.track)) &&
      tracks.every((t) => segOf(s, t) && !segOf(s, t).active) ? s : null;
  }, STEP_TIMEOUT_MS, describeCtl(name));
  const offer = st0.offers.find((o) => o.version > sinceVersion && !o.tracks.some((x) => tracks.includes(x.track)));
  await sleep(SETTLE_MS);
  const a = await status(name);
  await sleep(QUIET_WINDOW_MS);
  const b = await status(name);
  for (const t of tracks) {
    const pa = segOf(a, t).packets;
    const pb = segOf(b, t).packets;
    assert(pb === pa, `${name}: packets of track ${t} still growing after the offer without it ` +
      `(${pa} -> ${pb} in ${QUIET_WINDOW_MS} ms; ${segOf(b, t).packets_inactive} arrived after that offer)`);
  }
  const times = tracks.map((t) => segOf(b, t).last_packet_ms).filter((x) => x !== null);
  return { offer, lastPacketMs: times.length ? Math.max(...times) : null, st: b };
}

/** Per-SSRC inbound counters of the Chromium receiver mapped to @track, or null. */
function chromeRecv(page, session, track) {
  return ok(page, `const e = t.sessions[arg.s].remoteTracks.find((x) => x.track === arg.track);
    if (!e) return null;
    const out = { mid: e.mid, participant: e.participant, kind: e.kind, ssrcs: {} };
    (await e.transceiver.receiver.getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp') out.ssrcs[s.ssrc] = { packets: s.packetsReceived || 0, frames: s.framesDecoded || 0 };
    });
    return out;`, { s: session, track });
}
/** Frames (or packets) decoded since @base (per SSRC: a recycled m-line brings a new one). */
function chromeGrowth(now, base, field) {
  let n = 0;
  for (const [ssrc, v] of Object.entries(now.ssrcs)) n += v[field] - ((base && base.ssrcs[ssrc]) ? base.ssrcs[ssrc][field] : 0);
  return n;
}
async function chromeDecodes(page, session, track, participant) {
  let base = null;
  return until(`${page.label} decodes ${MIN_FRAMES} frames of track ${track}`, async () => {
    const r = await chromeRecv(page, session, track);
    if (!r) return null;
    if (!base) base = r;
    if (r.participant !== participant) throw new Error(`${page.label}: track ${track} mapped to ${r.participant}, not ${participant}`);
    return chromeGrowth(r, base, 'frames') >= MIN_FRAMES ? r : null;
  }, STEP_TIMEOUT_MS, async () => `${page.label}: ${JSON.stringify(await chromeRecv(page, session, track))}`);
}

const ids = {}; // name -> participant id
const hostTracks = {}; // 'ha'|'hb' -> {audio, video} track ids
let va2Tracks = null;
let va2MidInHa = null; // HA's subscriber m-line that carried VA2's video
let va2PubSerial = null; // VA2's publisher PeerConnection (aiortc_ctl's serial)
let tSetupDone = 0;
const pages = {};

async function body() {
  // -------------------------------------------------------------------------
  // Setup
  // -------------------------------------------------------------------------
  await step('rooms A and B (live) created one after the other; on different workers (server log)', async () => {
    pages.ha = await h.newPage(undefined, 'HA');
    pages.hb = await h.newPage(undefined, 'HB');
    await ok(pages.ha, 'return t.connect("a", arg)', h.wsUrl);
    await ok(pages.hb, 'return t.connect("b", arg)', h.wsUrl);
    for (const r of [roomA, roomB]) {
      assertEqual(await ok(pages.ha, 'return t.clients.a.createRoom(arg, {kind: "live"})', r), { room: r, kind: 'live' },
        `room.create ${r}`);
    }
    const worker = (room) => {
      const line = h.serverLog.find((l) => l.includes(`room ${room} created`));
      const m = line && line.match(/worker (-?\d+)/);
      return m ? Number(m[1]) : null;
    };
    const wa = worker(roomA);
    const wb = worker(roomB);
    console.log(`  room ${roomA} on worker ${wa}, room ${roomB} on worker ${wb}`);
    assert(wa !== null && wb !== null && wa >= 0 && wb >= 0, `worker of each room in the log: ${wa}, ${wb}`);
    assert(wa !== wb, `rooms on different workers (A ${wa}, B ${wb})`);
  });

  await step(`Chromium hosts HA (A) and HB (B) publish camera+mic${simulcast ? ' (simulcast)' : ''} and subscribe "all"`, async () => {
    const video = simulcast ? { width: 640, height: 480 } : { width: 320, height: 240 };
    for (const [name, page, client, room] of [['ha', pages.ha, 'a', roomA], ['hb', pages.hb, 'b', roomB]]) {
      const r = await ok(page, `const r = await t.join(arg.client, arg.name, arg.room, {identity: arg.name, role: "host"});
        // Every PeerConnection this session ever makes is counted: the test ends with one of each.
        window.pcMade = { publisher: 0, subscriber: 0 };
        t.sessions[arg.name].on('peerconnection', ({ target }) => window.pcMade[target]++);
        return r;`, { client, name, room });
      assertEqual(r.role, 'host', `${name} role`);
      ids[name] = r.id;
      assertEqual(await ok(page, 'return t.getUserMedia("cam", {audio: true, video: arg})', video), ['audio', 'video'],
        'fake devices');
      const pub = await ok(page, `return t.sessions[arg.name].publish(t.streams.cam, {simulcast: arg.simulcast})`,
        { name, simulcast });
      assertEqual(pub.map((x) => x.kind).sort(), ['audio', 'video'], `${name} published kinds`);
      hostTracks[name] = Object.fromEntries(pub.map((x) => [x.kind, x.track]));
      await ok(page, 'return t.sessions[arg].subscribe("all")', name);
    }
    for (const [name, page] of [['ha', pages.ha], ['hb', pages.hb]]) {
      await h.statsUntil(page, `${name}.publisher`, (s) => s.outbound.some((o) => o.kind === 'video' && o.framesEncoded > 0) &&
        s.outbound.some((o) => o.kind === 'audio' && o.packetsSent > 0), `${name} sends audio and video`, STEP_TIMEOUT_MS);
    }
  });

  await step('aiortc audience VA1, VA2 (A) and VB1 (B) join and subscribe "all"', async () => {
    const who = [['va1', roomA], ['va2', roomA], ['vb1', roomB]];
    await Promise.all(who.map(async ([name, room]) => {
      const r = await ctl.request('join', { name, url: h.wsUrl, room, identity: name });
      assertEqual(r.role, 'audience', `${name} default role`);
      ids[name] = r.participant;
      await ctl.request('subscribe', { name, tracks: 'all' });
    }));
    await Promise.all(who.map(([name]) => ctl.request('wait_state', { name, target: 'subscriber' })));
    tSetupDone = Date.now();
  });

  await step('before PK: VA1 and VA2 decode HA\'s video and receive only HA\'s tracks; VB1 only HB\'s', async () => {
    await decodes('va1', hostTracks.ha.video, ids.ha);
    await decodes('va2', hostTracks.ha.video, ids.ha);
    await decodes('vb1', hostTracks.hb.video, ids.hb);
    const own = (n) => [hostTracks[n].audio, hostTracks[n].video].sort();
    for (const [name, host] of [['va1', 'ha'], ['va2', 'ha'], ['vb1', 'hb']]) {
      const st = await status(name);
      assertEqual(activeTracks(st), own(host), `${name}: tracks in its offers`);
      assert(segOf(st, hostTracks[host].audio).packets > 0, `${name}: audio packets of ${host}`);
    }
  });

  // -------------------------------------------------------------------------
  // PK
  // -------------------------------------------------------------------------
  let tPkStart = 0;
  let pkOfferVersion = {};
  await step('HA: live.pk.start {room: B}; both rooms hear live.pk started', async () => {
    tPkStart = Date.now();
    const res = await ok(pages.ha, 'return t.sessions.ha.call("live.pk.start", {room: arg})', roomB);
    console.log(`  live.pk.start result: ${JSON.stringify(res)} (${Date.now() - tPkStart} ms)`);
    for (const [name, room, peer] of [['va1', roomA, roomB], ['va2', roomA, roomB], ['vb1', roomB, roomA]]) {
      const st = await until(`${name}: live.pk started`, async () => {
        const s = await status(name);
        return s.notifications.some((n) => n.method === 'live.pk') ? s : null;
      });
      const pk = st.notifications.filter((n) => n.method === 'live.pk').map((n) => n.params);
      assertEqual(pk, [{ room, peer_room: peer, state: 'started', to: ids[name] }], `${name}: live.pk notifications`);
    }
    for (const [name, page, room, peer] of [['ha', pages.ha, roomA, roomB], ['hb', pages.hb, roomB, roomA]]) {
      await page.waitForFunction((n) => window.t.find(n, 'live.pk').length > 0, name, { timeout: STEP_TIMEOUT_MS });
      const pk = (await page.evaluate((n) => window.t.find(n, 'live.pk'), name)).map((e) => e.params);
      assertEqual(pk, [{ room, peer_room: peer, state: 'started', to: ids[name] }], `${name}: live.pk notifications`);
    }
  });

  await step('PK: VA1 decodes HB\'s video and VB1 decodes HA\'s (offers map them to the other room\'s host)', async () => {
    const [a, b] = await Promise.all([decodes('va1', hostTracks.hb.video, ids.hb), decodes('vb1', hostTracks.ha.video, ids.ha)]);
    timing('pk.start -> VA1 first decoded frame of HB', a.first_frame_ms - tPkStart);
    timing('pk.start -> VB1 first decoded frame of HA', b.first_frame_ms - tPkStart);
    timing('pk.start -> VA1 offer with HB', a.start_ms - tPkStart);
    const all = (n) => [hostTracks.ha.audio, hostTracks.ha.video, hostTracks.hb.audio, hostTracks.hb.video].sort();
    for (const name of ['va1', 'va2', 'vb1']) {
      const st = await status(name);
      assertEqual(activeTracks(st), all(), `${name}: tracks in its offers during PK`);
      const other = name === 'vb1' ? 'ha' : 'hb';
      const seg = segOf(st, hostTracks[other].audio);
      assertEqual(seg.participant, ids[other], `${name}: participant of ${other}'s audio`);
      pkOfferVersion[name] = lastOffer(st).version;
    }
    await until('VA2 and VA1 receive HB\'s audio packets', async () => {
      const [s1, s2] = await Promise.all([status('va1'), status('va2')]);
      return segOf(s1, hostTracks.hb.audio).packets > 20 && segOf(s2, hostTracks.hb.audio).packets > 20;
    }, STEP_TIMEOUT_MS, describeCtl('va2'));
  });

  await step('PK: the Chromium hosts (subscribed "all") decode the other host\'s video', async () => {
    await chromeDecodes(pages.ha, 'ha', hostTracks.hb.video, ids.hb);
    await chromeDecodes(pages.hb, 'hb', hostTracks.ha.video, ids.ha);
  }, { gate: false });

  let tPkStop = 0;
  await step('HA: live.pk.stop; live.pk stopped in both rooms', async () => {
    tPkStop = Date.now();
    assertEqual(await ok(pages.ha, 'return t.sessions.ha.call("live.pk.stop")'), {}, 'live.pk.stop result');
    for (const [name, room, peer] of [['va1', roomA, roomB], ['vb1', roomB, roomA]]) {
      const st = await until(`${name}: live.pk stopped`, async () => {
        const s = await status(name);
        return s.notifications.some((n) => n.method === 'live.pk' && n.params.state === 'stopped') ? s : null;
      });
      const pk = st.notifications.filter((n) => n.method === 'live.pk').map((n) => n.params.state);
      assertEqual(pk, ['started', 'stopped'], `${name}: live.pk states`);
      const stopped = st.notifications.find((n) => n.method === 'live.pk' && n.params.state === 'stopped').params;
      assertEqual(stopped, { room, peer_room: peer, state: 'stopped', to: ids[name] }, `${name}: live.pk stopped`);
    }
  });

  await step('after pk.stop: new offers without the other room\'s tracks; their packets stop, own host\'s go on', async () => {
    const other = { va1: 'hb', va2: 'hb', vb1: 'ha' };
    const own = { va1: 'ha', va2: 'ha', vb1: 'hb' };
    const res = await Promise.all(Object.keys(other).map((name) =>
      stopsReceiving(name, [hostTracks[other[name]].audio, hostTracks[other[name]].video], pkOfferVersion[name])));
    Object.keys(other).forEach((name, i) => {
      const r = res[i];
      timing(`pk.stop -> ${name.toUpperCase()} offer without ${other[name].toUpperCase()}`, r.offer.t_ms - tPkStop);
      timing(`pk.stop -> ${name.toUpperCase()} last packet of ${other[name].toUpperCase()}`, r.lastPacketMs && r.lastPacketMs - tPkStop);
      assertEqual(activeTracks(r.st), [hostTracks[own[name]].audio, hostTracks[own[name]].video].sort(),
        `${name}: tracks in its offers after the PK`);
      const v = segOf(r.st, hostTracks[own[name]].video);
      assert(v.last_packet_ms > r.st.now_ms - 500, `${name}: own host's video still flowing (last packet ` +
        `${r.st.now_ms - v.last_packet_ms} ms ago)`);
    });
    for (const [name, page, gone] of [['ha', pages.ha, 'hb'], ['hb', pages.hb, 'ha']]) {
      const removed = (await page.evaluate((n) => window.t.find(n, 'track.removed'), name)).map((e) => e.params.track).sort();
      assertEqual(removed, [hostTracks[gone].audio, hostTracks[gone].video].sort(), `${name}: track.removed after the PK`);
    }
  }, { gate: false });

  // A second PK between the same rooms: the other host's tracks come back
  // on the m-lines they left (same mids, new offer), which is what a room
  // doing several PK battles in a row sees.
  await step('PK again: VA1 and VB1 decode the other host\'s video again, HA (Chromium) too; pk.stop', async () => {
    const base = {};
    for (const [name, other] of [['va1', 'hb'], ['vb1', 'ha']]) {
      const seg = segOf(await status(name), hostTracks[other].video);
      base[name] = seg.frames;
    }
    const t0 = Date.now();
    await ok(pages.ha, 'return t.sessions.ha.call("live.pk.start", {room: arg})', roomB);
    try {
      await chromeDecodes(pages.ha, 'ha', hostTracks.hb.video, ids.hb);
      await Promise.all([['va1', 'hb'], ['vb1', 'ha']].map(async ([name, other]) => {
        await until(`${name}: ${MIN_FRAMES} more frames of ${other.toUpperCase()}'s video in the second PK`, async () => {
          const seg = segOf(await status(name), hostTracks[other].video);
          return seg && seg.active && seg.frames >= base[name] + MIN_FRAMES;
        }, STEP_TIMEOUT_MS, describeCtl(name));
        timing(`second pk.start -> ${name.toUpperCase()} decodes ${MIN_FRAMES} frames of ${other.toUpperCase()} (50 ms polls)`,
          Date.now() - t0);
      }));
    } finally {
      await ok(pages.ha, 'return t.sessions.ha.call("live.pk.stop")');
    }
  }, { gate: false });

  // -------------------------------------------------------------------------
  // Promote / demote
  // -------------------------------------------------------------------------
  await step('VA2 as audience may not publish: -32002', async () => {
    try {
      await ctl.request('publish', { name: 'va2' });
    } catch (err) {
      if (!(err instanceof CtlError)) throw err;
      assertEqual(err.code, -32002, `publish as audience: error code (${err.message})`);
      return;
    }
    throw new Error('publish as audience succeeded');
  });

  let tPromote = 0;
  let va1OfferBefore = 0;
  await step('HA: live.promote VA2 -> participant.updated cohost; VA2 publishes on its existing connection', async () => {
    va1OfferBefore = lastOffer(await status('va1')).version;
    tPromote = Date.now();
    assertEqual(await ok(pages.ha, 'return t.sessions.ha.call("live.promote", {target: arg})', ids.va2), {},
      'live.promote result');
    for (const name of ['va1', 'va2']) {
      const st = await until(`${name}: participant.updated for VA2`, async () => {
        const s = await status(name);
        return s.notifications.some((n) => n.method === 'participant.updated' && n.params.participant === ids.va2) ? s : null;
      });
      const up = st.notifications.filter((n) => n.method === 'participant.updated').map((n) => n.params);
      assertEqual(up, [{ room: roomA, participant: ids.va2, role: 'cohost', to: ids[name] }],
        `${name}: participant.updated`);
    }
    const before = await status('va2');
    const pub = await ctl.request('publish', { name: 'va2' });
    assertEqual(pub.tracks.map((x) => x.kind).sort(), ['audio', 'video'], 'VA2 published kinds');
    va2Tracks = Object.fromEntries(pub.tracks.map((x) => [x.kind, x.track]));
    await ctl.request('wait_state', { name: 'va2', target: 'publisher' });
    const after = await status('va2');
    assertEqual(after.ws.serial, before.ws.serial, 'VA2 WebSocket');
    assertEqual(after.pcs.subscriber.serial, before.pcs.subscriber.serial, 'VA2 subscriber PeerConnection');
    assertEqual(after.pcs.subscriber.state, 'connected', 'VA2 subscriber PeerConnection state');
    assertEqual(after.participant, ids.va2, 'VA2 participant id');
    assertEqual(after.pcs.publisher.state, 'connected', 'VA2 publisher PeerConnection state');
    va2PubSerial = after.pcs.publisher.serial;
  });

  await step('co-host VA2: VA1\'s offer maps both its tracks to VA2; VB1 gets none', async () => {
    const st = await until('VA1: an offer with VA2\'s tracks', async () => {
      const x = await status('va1');
      return segOf(x, va2Tracks.video) && segOf(x, va2Tracks.audio) ? x : null;
    }, STEP_TIMEOUT_MS, describeCtl('va1'));
    timing('promote -> VA1 offer with VA2 (includes VA2 publishing)', segOf(st, va2Tracks.video).start_ms - tPromote);
    assertEqual(activeTracks(st), [hostTracks.ha.audio, hostTracks.ha.video, va2Tracks.audio, va2Tracks.video].sort(),
      'VA1: tracks in its offers with the co-host');
    for (const k of ['audio', 'video']) assertEqual(segOf(st, va2Tracks[k]).participant, ids.va2, `VA1: participant of VA2's ${k}`);
    const vb1 = await status('vb1');
    assert(!vb1.segments.some((s) => s.participant === ids.va2), 'VB1 got a track of VA2 (another room, no PK)');
  });

  await step('HA (Chromium) decodes VA2\'s video', async () => {
    const r = await chromeDecodes(pages.ha, 'ha', va2Tracks.video, ids.va2);
    va2MidInHa = r.mid;
  }, { gate: false });

  await step('VA1 (aiortc) decodes VA2\'s video and receives its audio', async () => {
    const seg = await decodes('va1', va2Tracks.video, ids.va2);
    timing('promote -> VA1 first decoded frame of VA2 (includes VA2 publishing)', seg.first_frame_ms - tPromote);
    assert(segOf(await status('va1'), va2Tracks.audio).packets > 0, 'VA1: audio packets of VA2');
  }, { gate: false });

  let tDemote = 0;
  await step('HA: live.demote VA2 -> track.unpublished for both tracks; VA1\'s next offer lacks them; packets stop', async () => {
    const since = lastOffer(await status('va1')).version;
    tDemote = Date.now();
    assertEqual(await ok(pages.ha, 'return t.sessions.ha.call("live.demote", {target: arg})', ids.va2), {},
      'live.demote result');
    const want = [va2Tracks.audio, va2Tracks.video].sort();
    for (const name of ['va1', 'va2']) {
      const st = await until(`${name}: track.unpublished for VA2's two tracks`, async () => {
        const s = await status(name);
        return s.notifications.filter((n) => n.method === 'track.unpublished').length >= 2 ? s : null;
      }, STEP_TIMEOUT_MS, async () => JSON.stringify((await status(name)).notifications.map((n) => n.method)));
      const un = st.notifications.filter((n) => n.method === 'track.unpublished').map((n) => n.params);
      assertEqual(un.map((p) => p.track).sort(), want, `${name}: track.unpublished tracks`);
      assert(un.every((p) => p.room === roomA && p.to === ids[name]), `${name}: track.unpublished params ${JSON.stringify(un)}`);
      const roles = st.notifications.filter((n) => n.method === 'participant.updated').map((n) => n.params.role);
      assertEqual(roles, ['cohost', 'audience'], `${name}: participant.updated roles of VA2`);
    }
    await page_waitTrackRemoved(pages.ha, 'ha', want);
    if (va2MidInHa !== null) {
      // Chromium: the m-line that carried VA2's video goes quiet too.
      const pkts = () => ok(pages.ha, `const tr = t.sessions.ha.subscriberPc.getTransceivers().find((x) => x.mid === arg);
        let n = 0;
        (await tr.receiver.getStats()).forEach((s) => { if (s.type === 'inbound-rtp') n += s.packetsReceived || 0; });
        return n;`, va2MidInHa);
      await sleep(SETTLE_MS);
      const n0 = await pkts();
      await sleep(QUIET_WINDOW_MS);
      const n1 = await pkts();
      assert(n1 === n0, `HA: packets on VA2's old m-line (mid ${va2MidInHa}) still growing: ${n0} -> ${n1}`);
    }
    const r = await stopsReceiving('va1', want, since);
    timing('demote -> VA1 offer without VA2', r.offer.t_ms - tDemote);
    timing('demote -> VA1 last packet of VA2', r.lastPacketMs && r.lastPacketMs - tDemote);
    assertEqual(activeTracks(r.st), [hostTracks.ha.audio, hostTracks.ha.video].sort(), 'VA1: tracks after the demotion');
    assert(va1OfferBefore < r.offer.version, 'offer versions increase');
  }, { gate: false });

  await step('nobody reconnected: same WebSockets and PeerConnections (connected), no participant.left/joined', async () => {
    for (const name of ['va1', 'va2', 'vb1']) {
      const st = await status(name);
      assert(st.ws.open && st.ws.close_code === null, `${name}: WebSocket open (close code ${st.ws.close_code})`);
      assertEqual(st.pcs.subscriber.history.length, 1, `${name}: subscriber PeerConnections made`);
      assertEqual(st.pcs.subscriber.state, 'connected', `${name}: subscriber state`);
      const states = st.pcs.subscriber.states.map((x) => x[1]);
      assert(!states.some((s) => ['failed', 'closed', 'disconnected'].includes(s)),
        `${name}: subscriber state history ${JSON.stringify(states)}`);
      assertEqual(st.errors, [], `${name}: offer handling errors`);
      const churn = st.notifications.filter((n) => (n.method === 'participant.left') ||
        (n.method === 'participant.joined' && n.t_ms >= tSetupDone));
      assertEqual(churn.map((n) => [n.method, n.params.participant]), [], `${name}: participant.left / late participant.joined`);
    }
    // VA2: the publisher PeerConnection made after the promotion stays up
    // after the demotion (the refused publish's one was closed at once).
    const va2 = await status('va2');
    assertEqual(va2.pcs.publisher.serial, va2PubSerial, 'VA2 publisher PeerConnection (same object)');
    assertEqual(va2.pcs.publisher.history.slice(va2.pcs.publisher.history.indexOf(va2PubSerial)), [va2PubSerial],
      'VA2 publisher PeerConnections since the promotion');
    assertEqual(va2.pcs.publisher.state, 'connected', 'VA2 publisher PeerConnection state after demotion');
    const pubStates = va2.pcs.publisher.states.map((x) => x[1]);
    assertEqual(pubStates.slice(pubStates.lastIndexOf('connecting')), ['connecting', 'connected'],
      'VA2 publisher state changes since it connected');
    const ha = hostTracks.ha.video;
    const p0 = segOf(va2, ha).packets;
    await sleep(300);
    assert(segOf(await status('va2'), ha).packets > p0, 'VA2 still receives HA\'s video after the demotion');
    for (const [name, page] of [['ha', pages.ha], ['hb', pages.hb]]) {
      const r = await page.evaluate(([n, since]) => ({
        made: window.pcMade,
        states: Object.fromEntries(['publisher', 'subscriber'].map((k) => [k, window.t.pcs[`${n}.${k}`]?.connectionState])),
        same: window.t.pcs[`${n}.subscriber`] === window.t.sessions[n].subscriberPc &&
          window.t.pcs[`${n}.publisher`] === window.t.sessions[n].publisherPc,
        churn: window.t.events.filter((e) => ['client.close', 'disconnected', 'resumed', 'closed', 'participant.left'].includes(e.event) ||
          (e.event === 'participant.joined' && performance.timeOrigin + e.at >= since))
          .map((e) => [e.event, e.params && e.params.participant]),
      }), [name, tSetupDone]);
      assertEqual(r.made, { publisher: 1, subscriber: 1 }, `${name}: PeerConnections made`);
      assertEqual(r.states, { publisher: 'connected', subscriber: 'connected' }, `${name}: PeerConnection states`);
      assert(r.same, `${name}: session PeerConnections are the registered ones`);
      assertEqual(r.churn, [], `${name}: close/disconnect/resume/participant.left/late participant.joined events`);
    }
    // The rooms still hold exactly these participants, with the same ids.
    const infoA = await ok(pages.ha, 'return t.clients.a.roomInfo(arg)', roomA);
    const infoB = await ok(pages.ha, 'return t.clients.a.roomInfo(arg)', roomB);
    assertEqual(infoA.participants.map((p) => [p.participant, p.role]).sort(),
      [[ids.ha, 'host'], [ids.va1, 'audience'], [ids.va2, 'audience']].sort(), 'room A participants');
    assertEqual(infoB.participants.map((p) => [p.participant, p.role]).sort(),
      [[ids.hb, 'host'], [ids.vb1, 'audience']].sort(), 'room B participants');
  });
}

async function page_waitTrackRemoved(page, name, tracks) {
  await until(`${page.label}: track.removed for ${tracks.join(', ')}`, async () => {
    const removed = (await page.evaluate((n) => window.t.find(n, 'track.removed'), name)).map((e) => e.params.track);
    return tracks.every((t) => removed.includes(t));
  });
}

try {
  await body();
} catch (err) {
  await h.check('test body', () => {
    throw err;
  });
}

await h.check('cleanup: everyone leaves, rooms destroyed', async () => {
  await ctl.quit();
  for (const [name, page] of Object.entries(pages)) {
    await ok(page, 'if (t.sessions[arg] && !t.sessions[arg]._closed) await t.sessions[arg].leave()', name);
  }
  if (pages.ha) {
    for (const r of [roomA, roomB]) await ok(pages.ha, 'return t.clients.a.destroyRoom(arg)', r);
  }
});
ctl.kill();
if (h.failed && ctl.log.length) console.log(`--- aiortc_ctl stderr (tail)\n  ${ctl.log.slice(-40).join('\n  ')}`);
const total = Date.now() - testStart;
console.log(`timings: ${timings.map(([w, ms]) => `${w} ${ms === null ? '?' : Math.round(ms)} ms`).join('; ')}`);
console.log(`total ${total} ms`);
const failed = await h.stop();
process.exit(failed ? 1 : 0);
