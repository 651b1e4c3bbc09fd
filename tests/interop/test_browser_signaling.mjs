#!/usr/bin/env node
// Signaling through web/chorus.js in two headless Chromium pages against a
// real chorus (dev mode): rooms, joins, notifications routed by `to` on an
// admin proxy connection, messages, leave, destroy. One line per check;
// exit status 1 on any failure.
//
//   node tests/interop/test_browser_signaling.mjs   (CHORUS_BUILD_DIR=... to pick a build)
import { Harness, assert, assertEqual } from './browser/harness.mjs';

const EVENT_TIMEOUT_MS = 5000;

let h;
try {
  h = await Harness.start({ name: 'signaling' });
} catch (err) {
  console.log(`FAIL - harness start: ${err.message}`);
  process.exit(1);
}

/** Waits until page's window.t has an event (session, event, params subset); returns it. */
async function waitEvent(page, session, event, subset = {}) {
  try {
    await page.waitForFunction(
      ([s, e, sub]) => window.t.find(s, e, sub).length > 0,
      [session, event, subset],
      { timeout: EVENT_TIMEOUT_MS, polling: 20 },
    );
  } catch {
    throw new Error(`${page.label}: no ${event} for ${session} matching ${JSON.stringify(subset)} ` +
      `within ${EVENT_TIMEOUT_MS} ms`);
  }
  return (await page.evaluate(([s, e, sub]) => window.t.find(s, e, sub), [session, event, subset]))[0].params;
}

/** Events recorded so far in page for (session, event, subset). */
function events(page, session, event, subset = {}) {
  return page.evaluate(([s, e, sub]) => window.t.find(s, e, sub), [session, event, subset]);
}

/** Runs an async expression in the page; returns {ok, value} | {ok:false, code, message}. */
function settle(page, body, arg) {
  return h.evalInPage(page, ([src, a]) => window.t.run(src, a), [body, arg]);
}

async function ok(page, body, arg) {
  const r = await settle(page, body, arg);
  if (!r.ok) throw new Error(`${page.label}: ${r.message} (code ${r.code})`);
  return r.value;
}

async function fails(page, body, arg, code) {
  const r = await settle(page, body, arg);
  assert(!r.ok, `${page.label}: expected error ${code}, got result ${JSON.stringify(r.value)}`);
  assert(r.code === code, `${page.label}: expected error ${code}, got ${r.code} (${r.message})`);
  assert(typeof r.message === 'string' && r.message.length > 0, 'error without a message');
  return r;
}

const room = `sig-${process.pid}-${Date.now() % 100000}`;
const ids = {};
try {
  const A = await h.newPage(undefined, 'A');
  const B = await h.newPage(undefined, 'B');

  await h.check('A and B connect to /ws with subprotocol chorus.v1 (dev mode, no token)', async () => {
    await ok(A, 'return t.connect("a", arg)', h.wsUrl);
    await ok(B, 'return t.connect("b", arg)', h.wsUrl);
    assertEqual(await ok(A, 'return t.clients.a._ws.protocol'), 'chorus.v1', 'A subprotocol');
    assertEqual(await ok(B, 'return t.clients.b._ws.protocol'), 'chorus.v1', 'B subprotocol');
  });

  await h.check('ping answers time_ms', async () => {
    const r = await ok(A, 'return t.clients.a.ping()');
    assert(Number.isInteger(r.time_ms) && r.time_ms > 0, `time_ms ${JSON.stringify(r)}`);
  });

  await h.check('A creates a voice room', async () => {
    const r = await ok(A, 'return t.clients.a.createRoom(arg, {kind: "voice"})', room);
    assertEqual(r.room, room, 'room');
    assertEqual(r.kind, 'voice', 'kind');
  });

  await h.check('creating it again fails with -32009 (conflict)', () =>
    fails(A, 'return t.clients.a.createRoom(arg, {kind: "voice"})', room, -32009));

  await h.check('room.info of a missing room fails with -32004 (not found)', () =>
    fails(A, 'return t.clients.a.roomInfo(arg + "-missing")', room, -32004));

  await h.check('A joins as alice (host)', async () => {
    const r = await ok(A, 'return t.join("a", "alice", arg, {identity: "alice", role: "host"})', room);
    assertEqual(r.role, 'host', 'role');
    assertEqual(r.participants, [], 'participants (excluding self)');
    assert(typeof r.id === 'string' && r.id.length > 0, 'participant id');
    assert(typeof r.resumeKey === 'string' && r.resumeKey.length > 0, 'resume_key');
    ids.alice = r.id;
  });

  await h.check('B joins as bob (listener by default) and sees alice in the join result', async () => {
    const r = await ok(B, 'return t.join("b", "bob", arg, {identity: "bob", metadata: {color: "blue"}})', room);
    assertEqual(r.role, 'listener', 'default voice role');
    assertEqual(r.participants.map((p) => [p.participant, p.identity, p.role]),
      [[ids.alice, 'alice', 'host']], 'participants');
    ids.bob = r.id;
    assert(ids.bob !== ids.alice, 'distinct participant ids');
  });

  await h.check('A sees participant.joined for bob, addressed to alice', async () => {
    const p = await waitEvent(A, 'alice', 'participant.joined', { identity: 'bob' });
    assertEqual([p.room, p.participant, p.role, p.to], [room, ids.bob, 'listener', ids.alice], 'params');
    assertEqual(p.metadata, { color: 'blue' }, 'metadata');
    assertEqual(await ok(A, 'return [...t.sessions.alice.participants.keys()]'), [ids.bob], 'alice.participants');
  });

  await h.check('A proxies carol on the same connection; notifications are routed by `to`', async () => {
    const r = await ok(A, 'return t.join("a", "carol", arg, {identity: "carol", role: "speaker"})', room);
    ids.carol = r.id;
    assertEqual(r.participants.map((p) => p.identity).sort(), ['alice', 'bob'], 'carol sees alice and bob');
    const toBob = await waitEvent(B, 'bob', 'participant.joined', { identity: 'carol' });
    assertEqual(toBob.to, ids.bob, 'to (bob)');
    const toAlice = await waitEvent(A, 'alice', 'participant.joined', { identity: 'carol' });
    assertEqual([toAlice.to, toAlice.participant, toAlice.role], [ids.alice, ids.carol, 'speaker'], 'alice params');
    assertEqual((await events(A, 'alice', 'participant.joined', { identity: 'carol' })).length, 1, 'alice copies');
    assertEqual((await events(A, 'carol', 'participant.joined')).length, 0, 'carol hears of her own join');
    assertEqual(await ok(A, 'return t.clients.a.sessions.length'), 2, 'sessions on A');
  });

  await h.check('a second join with identity bob fails with -32009', () =>
    fails(A, 'return t.clients.a.join(arg, {identity: "bob"})', room, -32009));

  await h.check('alice sends bob a private message', async () => {
    await ok(A, 'return t.sessions.alice.sendMessage({text: "hi bob"}, {to: [arg]})', ids.bob);
    const m = await waitEvent(B, 'bob', 'message');
    assertEqual([m.room, m.from, m.data, m.to], [room, ids.alice, { text: 'hi bob' }, ids.bob], 'message');
  });

  await h.check('bob sends to everyone: alice and carol get it, bob and nobody else twice', async () => {
    await ok(B, 'return t.sessions.bob.sendMessage({text: "hello all", n: 2})');
    for (const who of ['alice', 'carol']) {
      const m = await waitEvent(A, who, 'message', { from: ids.bob });
      assertEqual([m.data, m.to], [{ text: 'hello all', n: 2 }, ids[who]], `${who}'s message`);
    }
    // The private message was handled before this one: carol never got it.
    assertEqual((await events(A, 'carol', 'message')).length, 1, 'carol messages');
    assertEqual((await events(A, 'alice', 'message')).length, 1, 'alice messages');
    assertEqual((await events(B, 'bob', 'message')).length, 1, 'bob messages (not his own)');
  });

  await h.check('message.send to an unknown participant fails with -32004', () =>
    fails(B, 'return t.sessions.bob.sendMessage("x", {to: ["no-such-participant"]})', null, -32004));

  await h.check('room.list and room.info show the three participants', async () => {
    const rooms = await ok(A, 'return t.clients.a.listRooms()');
    const mine = rooms.filter((r) => r.room === room);
    assertEqual(mine.length, 1, 'room listed once');
    assertEqual([mine[0].kind, mine[0].participants, mine[0].publishers], ['voice', 3, 0], 'list entry');
    const info = await ok(B, 'return t.clients.b.roomInfo(arg)', room);
    assertEqual([info.room, info.kind], [room, 'voice'], 'info');
    assertEqual(info.participants.map((p) => `${p.identity}:${p.role}`).sort(),
      ['alice:host', 'bob:listener', 'carol:speaker'], 'info participants');
    assertEqual(info.tracks, [], 'tracks');
  });

  await h.check('an unknown voice method fails with -32601', () =>
    fails(A, 'return t.sessions.alice.call("voice.no.such.method", {})', null, -32601));

  await h.check('B leaves: alice and carol see participant.left (reason left)', async () => {
    await ok(B, 'return t.sessions.bob.leave()');
    await waitEvent(B, 'bob', 'closed', { reason: 'left' });
    for (const who of ['alice', 'carol']) {
      const p = await waitEvent(A, who, 'participant.left', { participant: ids.bob });
      assertEqual([p.room, p.reason, p.to], [room, 'left', ids[who]], `${who}'s participant.left`);
    }
    assertEqual(await ok(A, 'return [...t.sessions.alice.participants.keys()]'), [ids.carol], 'alice.participants');
    await fails(B, 'return t.clients.b.request("message.send", {participant: arg, data: 1})', ids.bob, -32004);
  });

  await h.check('A destroys the room: alice and carol get room.closed; it is no longer listed', async () => {
    await ok(A, 'return t.clients.a.destroyRoom(arg)', room);
    for (const who of ['alice', 'carol']) {
      const p = await waitEvent(A, who, 'room.closed');
      assertEqual([p.room, p.to], [room, ids[who]], `${who}'s room.closed`);
      await waitEvent(A, who, 'closed', { reason: 'room_closed' });
    }
    assertEqual(await ok(A, 'return t.clients.a.sessions.length'), 0, 'sessions left on A');
    const rooms = await ok(A, 'return t.clients.a.listRooms()');
    assertEqual(rooms.filter((r) => r.room === room).length, 0, 'room listed');
    await fails(A, 'return t.clients.a.destroyRoom(arg)', room, -32004);
  });

  // Tokens and resume, in a second room.
  const room2 = `${room}-2`;
  await h.check('a second room for the token and resume checks', () =>
    ok(A, 'return t.clients.a.createRoom(arg, {kind: "voice"})', room2));
  await h.check('alice joins the second room', async () => {
    ids.alice2 = (await ok(A, 'return t.join("a", "alice2", arg, {identity: "alice", role: "host"})', room2)).id;
  });

  await h.check('a token sent with `auth`: identity and role come from its claims', async () => {
    const token = h.mintToken({ identity: 'dave', room: room2, role: 'speaker' });
    await ok(B, 'return t.connect("d", arg.url, {token: arg.token})', { url: h.wsUrl, token });
    assertEqual(await ok(B, 'return [t.clients.d.identity, t.clients.d.admin]'), ['dave', false], 'auth result');
    // Non-admin: bound to the token's identity and role; no room management.
    await fails(B, 'return t.clients.d.join(arg, {identity: "mallory"})', room2, -32002);
    await fails(B, 'return t.clients.d.join(arg, {role: "host"})', room2, -32002);
    await fails(B, 'return t.clients.d.createRoom(arg + "-x")', room2, -32002);
    const r = await ok(B, 'return t.join("d", "dave", arg)', room2);
    assertEqual(r.role, 'speaker', 'role from the token');
    const p = await waitEvent(A, 'alice2', 'participant.joined', { participant: r.id });
    assertEqual([p.identity, p.role], ['dave', 'speaker'], 'as seen by alice');
    // One participant per non-admin connection.
    await fails(B, 'return t.clients.d.join(arg)', room2, -32009);
  });

  await h.check('a token in the URL (?token=) needs no auth request', async () => {
    const token = h.mintToken({ identity: 'frank', room: room2, role: 'listener' });
    await ok(B, 'return t.connect("f", arg)', `${h.wsUrl}?token=${encodeURIComponent(token)}`);
    const r = await ok(B, 'return t.join("f", "frank", arg)', room2);
    assertEqual(r.role, 'listener', 'role');
    await waitEvent(A, 'alice2', 'participant.joined', { identity: 'frank' });
  });

  await h.check('alice kicks frank: his session closes with reason kicked, the others see him go', async () => {
    const frank = await ok(B, 'return t.sessions.frank.id');
    assertEqual(await ok(B, 'return [t.sessions.frank.kind, t.sessions.frank.self.participant === t.sessions.frank.id]'),
      ['voice', true], 'kind and self from the join result');
    await ok(A, 'return t.sessions.alice2.call("voice.kick", {target: arg})', frank);
    await waitEvent(B, 'frank', 'closed', { reason: 'kicked' });
    assertEqual(await ok(B, 'return t.clients.f.sessions.length'), 0, 'frank\'s client keeps no session');
    await waitEvent(A, 'alice2', 'participant.left', { participant: frank, reason: 'kicked' });
    assert(!(await ok(A, 'return t.sessions.alice2.participants.has(arg)', frank)), 'frank still in alice\'s list');
  });

  await h.check('a token with a bad signature fails connect() with -32001', async () => {
    const token = h.mintToken({ identity: 'eve', room: room2 });
    const forged = token.slice(0, -4) + (token.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    await fails(B, 'return t.connect("x", arg.url, {token: arg.token})', { url: h.wsUrl, token: forged }, -32001);
  });

  await h.check('a lost connection (TCP reset, no close frame) is resumed on a new one', async () => {
    const C = await h.newPage(undefined, 'C');
    // Relative URL: through the harness's web server, whose tunnel we can cut.
    await ok(C, 'return t.connect("c1", "/ws")');
    const r = await ok(C, 'return t.join("c1", "erin", arg, {identity: "erin"})', room2);
    ids.erin = r.id;
    await waitEvent(A, 'alice2', 'participant.joined', { identity: 'erin' });
    assert(h.dropProxiedWebSockets() === 1, 'one proxied WebSocket to cut');
    const d = await waitEvent(C, 'erin', 'disconnected');
    assert(d.code !== 1000, `close code ${d.code}`);
    await ok(C, 'return t.connect("c2", "/ws")');
    await fails(C, 'return t.clients.c2.resume(arg, "wrong-key")', ids.erin, -32001);
    const same = await ok(C, 'const s = await t.clients.c2.resume(t.sessions.erin); return s === t.sessions.erin && s.id');
    assertEqual(same, ids.erin, 'the same session object and participant id');
    await waitEvent(C, 'erin', 'resumed');
    // Still in the room: alice never saw erin leave, and her messages arrive
    // on the new connection.
    await ok(A, 'return t.sessions.alice2.sendMessage("welcome back", {to: [arg]})', ids.erin);
    const m = await waitEvent(C, 'erin', 'message', { data: 'welcome back' });
    assertEqual(m.from, ids.alice2, 'from');
    assertEqual((await events(A, 'alice2', 'participant.left', { participant: ids.erin })).length, 0,
      'participant.left for erin');
    // A close frame, unlike the reset, makes erin leave at once.
    await ok(C, 'return t.clients.c2.close()');
    await waitEvent(A, 'alice2', 'participant.left', { participant: ids.erin });
  });

  await h.check('the demo page (web/index.html) connects, lists rooms, joins and chats', async () => {
    const D = await h.newPage('/', 'demo');
    await D.click('#connect');
    await D.waitForSelector('#status:text-is("connected")', { timeout: EVENT_TIMEOUT_MS });
    await D.click('#rooms');
    await D.waitForSelector(`#roomlist:has-text("${room2} (voice, 2)")`, { timeout: EVENT_TIMEOUT_MS });
    await D.fill('#room', room2);
    await D.fill('#identity', 'demo-user');
    await D.click('#join');
    await D.waitForSelector(`#status:text-is("in ${room2}")`, { timeout: EVENT_TIMEOUT_MS });
    const dj = await waitEvent(A, 'alice2', 'participant.joined', { identity: 'demo-user', role: 'listener' });
    await ok(A, 'return t.sessions.alice2.sendMessage({text: "hello demo"})');
    await D.waitForSelector('#chat :text("alice: hello demo")', { timeout: EVENT_TIMEOUT_MS });
    await h.screenshot(D, 'demo');
    await D.click('#leave');
    await waitEvent(A, 'alice2', 'participant.left', { participant: dj.participant, reason: 'left' });
  });

  await h.check('the second room is destroyed', () => ok(A, 'return t.clients.a.destroyRoom(arg)', room2));

  await h.check('both clients close with a close frame (1000)', async () => {
    for (const [page, name] of [[A, 'a'], [B, 'b']]) {
      await ok(page, 'return t.clients[arg].close()', name);
      const ev = await page.evaluate((n) => window.t.events.filter((e) => e.client === n), name);
      assertEqual(ev.map((e) => e.params.code), [1000], `${name} close codes`);
    }
  });
} catch (err) {
  await h.check('test body', () => {
    throw err;
  });
}

const failed = await h.stop();
process.exit(failed ? 1 : 0);
