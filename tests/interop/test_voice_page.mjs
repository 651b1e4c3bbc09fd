#!/usr/bin/env node
// web/voice.html in two headless Chromium pages against a real chorus (dev
// mode): a host and a listener in one voice room, driven through the page's
// own form and buttons and checked through its DOM and WebRTC stats.
//
// Host joins (the page creates the room, 6 seats) and takes seat 1; the
// listener joins; both list each other. The listener's "Take a seat" without
// an invitation shows the server's -32002 error; it raises a hand, the host
// sees it and invites; the listener accepts and sits: the seat shows in both
// grids and the listener's microphone is published (outbound audio grows),
// the host receives it (inbound audio grows). The server's `speakers`
// notifications light the speaking seat with its level (a continuous tone is
// the fake microphone); one fed through chorus.js checks the ring alone.
// The host mutes the listener: both pages show it, its seat stops lighting
// and the host stops receiving its audio. The listener leaves its seat
// (unpublishes); the host kicks it: the listener's page says it was kicked.
// Screenshots: tests/artifacts/voice-page-*.png.
//
//   node tests/interop/test_voice_page.mjs   (CHORUS_BUILD_DIR=... to pick a build)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Harness, assert, assertEqual, sleep } from './browser/harness.mjs';

const STEP_TIMEOUT_MS = 10000;
const SEATS = 6;

/**
 * Writes a 1 s, 440 Hz, -12 dBFS mono WAV. Chromium's default fake
 * microphone only beeps (a few tens of ms every ~400 ms), too short for a
 * speaker detector that wants ~200 ms of voice; this file, looped as the fake
 * microphone, makes every seated participant speak continuously.
 */
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
  const amplitude = 32767 * 10 ** (-12 / 20);
  for (let i = 0; i < samples; i++) {
    buf.writeInt16LE(Math.round(amplitude * Math.sin((2 * Math.PI * 440 * i) / rate)), 44 + i * 2);
  }
  fs.writeFileSync(file, buf);
}

const toneDir = fs.mkdtempSync(path.join(os.tmpdir(), 'chorus-voice-page-'));
const toneWav = path.join(toneDir, 'tone.wav');
writeToneWav(toneWav);
process.on('exit', () => fs.rmSync(toneDir, { recursive: true, force: true }));

let h;
try {
  h = await Harness.start({ name: 'voice-page', chromiumArgs: [`--use-file-for-fake-audio-capture=${toneWav}`] });
} catch (err) {
  console.log(`FAIL - harness start: ${err.message}`);
  process.exit(1);
}

/** What the page shows, for failure messages. */
function snapshot(page) {
  return page.evaluate(() => {
    const txt = (sel) => [...document.querySelectorAll(sel)].map((e) => e.textContent.trim().replace(/\s+/g, ' '));
    return { status: txt('#status')[0], error: txt('#error')[0], notice: txt('#notice')[0],
      seats: txt('#seats li'), people: txt('#people li'), hands: txt('#hands li'), mystate: txt('#mystate')[0] };
  }).catch((err) => `(no snapshot: ${err.message})`);
}

/** Waits until fn(arg) is truthy in the page; fails naming @what, with a DOM snapshot. */
async function until(page, what, fn, arg, timeoutMs = STEP_TIMEOUT_MS) {
  try {
    return await (await page.waitForFunction(fn, arg, { timeout: timeoutMs, polling: 50 })).jsonValue();
  } catch (err) {
    throw new Error(`${page.label}: ${what}: not within ${timeoutMs} ms; page: ${JSON.stringify(await snapshot(page))}`);
  }
}

const texts = (page, sel) =>
  page.$$eval(sel, (els) => els.map((e) => e.textContent.trim().replace(/\s+/g, ' ')));

/** Lets h.getStats/h.statsUntil reach the page's PeerConnections as "publisher"/"subscriber". */
async function exposePcs(page) {
  await page.evaluate(() => {
    window.t = {
      get pcs() {
        const me = window.chorusPage.me;
        const out = {};
        if (me && me.publisherPc) out.publisher = me.publisherPc;
        if (me && me.subscriberPc) out.subscriber = me.subscriberPc;
        return out;
      },
    };
  });
}

const sum = (list, kind, field) => list.filter((s) => s.kind === kind).reduce((a, s) => a + (s[field] || 0), 0);
const audioSummary = (s) => ({
  inbound: sum(s.inbound, 'audio', 'packetsReceived'),
  outbound: sum(s.outbound, 'audio', 'packetsSent'),
});

async function joinVia(page, identity, role) {
  await page.fill('#identity', identity);
  await page.selectOption('#role', role);
  await page.click('#join');
  await until(page, `joined as ${identity}`, (want) => document.getElementById('status').textContent === want,
    `in ${room} as ${identity} (${role})`);
  // `speakers` goes out on change only: keep every one from the start.
  await page.evaluate(() => {
    window.speakersSeen = [];
    window.chorusPage.me.on('speakers', (n) => window.speakersSeen.push(n));
  });
}

/**
 * Waits until the host page's latest `speakers` notification and its seat
 * grid agree on @identity: speaking (its seat lit with the reported level)
 * or not (absent or level <= 0.02, seat dark). Fails with what was received.
 */
async function speakingShown(page, identity, speaking, timeoutMs) {
  try {
    return await (await page.waitForFunction(([who, want]) => {
      const me = window.chorusPage.me;
      const p = [...me.participants.values()].find((x) => x.identity === who);
      const li = p && document.querySelector(`#seats li[data-participant="${p.participant}"]`);
      const last = window.speakersSeen[window.speakersSeen.length - 1];
      if (!li || !last) return null;
      const s = last.speakers.find((x) => x.participant === p.participant);
      const loud = !!s && s.level > 0.02;
      if (loud !== want || li.classList.contains('speaking') !== want) return null;
      if (want && li.dataset.level !== s.level.toFixed(2)) return null;
      return { level: s ? s.level : null, notifications: window.speakersSeen.length };
    }, [identity, speaking], { timeout: timeoutMs, polling: 50 })).jsonValue();
  } catch {
    const seen = await page.evaluate(() => ({ n: window.speakersSeen.length, last: window.speakersSeen.slice(-1)[0] }));
    throw new Error(`${page.label}: ${identity} ${speaking ? 'not shown speaking' : 'still shown speaking'} ` +
      `within ${timeoutMs} ms; ${seen.n} \`speakers\` notification(s), last ${JSON.stringify(seen.last)}`);
  }
}

/** Seat index -> shown name, for occupied seats. */
const seatNames = (page) => page.$$eval('#seats li[data-participant]',
  (els) => Object.fromEntries(els.map((e) => [e.dataset.seat, e.querySelector('.name').textContent])));

const room = `voice-page-${process.pid}-${Date.now() % 100000}`;
try {
  const H = await h.newPage(`/voice.html?room=${room}&seats=${SEATS}`, 'host');
  const L = await h.newPage(`/voice.html?room=${room}&seats=${SEATS}`, 'listener');
  await exposePcs(H);
  await exposePcs(L);

  await h.check(`host joins through the form (room created with ${SEATS} seats)`, async () => {
    await joinVia(H, 'ana', 'host');
    assertEqual(await texts(H, '#people .who'), ['ana (you) - host'], 'host page participants');
    assertEqual((await texts(H, '#seats li .name')).length, SEATS, 'seat count');
    assertEqual(await seatNames(H), {}, 'occupied seats');
    assertEqual(await texts(H, '#error'), [''], 'error line');
  });

  await h.check('host takes a seat: seat 1 is theirs and the microphone is published', async () => {
    await H.click('#take');
    await until(H, 'host in seat 1', () => document.querySelector('#seats li[data-seat="0"] .name')?.textContent === 'ana (you)');
    await h.statsUntil(H, 'publisher', (s) => sum(s.outbound, 'audio', 'packetsSent') > 0, 'host outbound audio',
      STEP_TIMEOUT_MS, audioSummary);
  }, { dependent: true });

  await h.check('listener joins: both pages list both participants, the listener sees the host seated', async () => {
    await joinVia(L, 'ben', 'listener');
    await until(H, 'host lists ben', () => document.querySelectorAll('#people li').length === 2);
    assertEqual(await texts(H, '#people .who'), ['ana (you) - host, seat 1', 'ben - listener'], 'host page participants');
    assertEqual(await texts(L, '#people .who'), ['ben (you) - listener', 'ana - host, seat 1'], 'listener page participants');
    assertEqual(await seatNames(L), { 0: 'ana' }, 'listener page seats');
    assertEqual(await texts(L, '#people li button'), [], 'listener has no moderation buttons');
    assertEqual(await texts(H, '#people li[data-participant] button'), ['Invite to seat', 'Mute', 'Kick'],
      'host moderation buttons for ben');
  }, { dependent: true });

  await h.check('listener taking a seat uninvited shows the server error -32002', async () => {
    await L.click('#take');
    const err = await until(L, 'error shown', () => document.getElementById('error').textContent || null);
    assert(err.startsWith('Error -32002: voice.seat.take: '), `error line: ${JSON.stringify(err)}`);
    assertEqual(await seatNames(L), { 0: 'ana' }, 'seats unchanged');
  }, { dependent: true });

  await h.check('listener raises a hand: the host sees it in raised hands', async () => {
    await L.click('#hand');
    await until(H, 'hand on host page', () => document.querySelectorAll('#hands li').length === 1);
    assertEqual(await texts(H, '#hands li'), ['ben Invite to seat'], 'host raised hands');
    assertEqual(await texts(L, '#hand'), ['Lower hand'], 'listener hand button');
    assertEqual(await texts(L, '#error'), [''], 'listener error cleared');
    assert((await texts(H, '#people li')).some((t) => t.startsWith('ben - listener hand raised')), 'hand badge in list');
  }, { dependent: true });

  let inbound0 = 0;
  await h.check('host invites, listener accepts: seat 2 in both grids, the listener publishes audio', async () => {
    await H.click('#hands li button:text-is("Invite to seat")');
    const invite = await until(L, 'invitation shown',
      () => !document.getElementById('invite').hidden && document.getElementById('invitetext').textContent);
    assertEqual(invite, 'ana invited you to a seat.', 'invitation text');
    await L.click('#accept');
    await until(L, 'listener seated', () => document.querySelector('#seats li[data-seat="1"] .name')?.textContent === 'ben (you)');
    await until(H, 'host sees ben seated', () => document.querySelector('#seats li[data-seat="1"] .name')?.textContent === 'ben');
    assertEqual(await seatNames(H), { 0: 'ana (you)', 1: 'ben' }, 'host page seats');
    assertEqual(await seatNames(L), { 0: 'ana', 1: 'ben (you)' }, 'listener page seats');
    await until(H, 'hand answered', () => document.querySelectorAll('#hands li').length === 0);
    const first = await h.statsUntil(L, 'publisher', (s) => sum(s.outbound, 'audio', 'packetsSent') > 0,
      'listener outbound audio', STEP_TIMEOUT_MS, audioSummary);
    const p0 = sum(first.outbound, 'audio', 'packetsSent');
    await h.statsUntil(L, 'publisher', (s) => sum(s.outbound, 'audio', 'packetsSent') > p0 + 20,
      'listener outbound audio growing', STEP_TIMEOUT_MS, audioSummary);
  }, { dependent: true });

  await h.check('host receives the listener\'s audio: inbound packetsReceived grows', async () => {
    const first = await h.statsUntil(H, 'subscriber', (s) => sum(s.inbound, 'audio', 'packetsReceived') > 0,
      'host inbound audio', STEP_TIMEOUT_MS, audioSummary);
    inbound0 = sum(first.inbound, 'audio', 'packetsReceived');
    const grown = await h.statsUntil(H, 'subscriber', (s) => sum(s.inbound, 'audio', 'packetsReceived') > inbound0 + 25,
      'host inbound audio growing', STEP_TIMEOUT_MS, audioSummary);
    inbound0 = sum(grown.inbound, 'audio', 'packetsReceived');
    assert(Number(await H.textContent('#audiocount')) >= 1, 'host page plays at least one audio stream');
    assert(await H.$$eval('#audio audio', (els) => els.every((a) => a.srcObject && !a.paused)), 'audio elements playing');
  }, { dependent: true });

  // The tone used as the fake microphone makes both seated participants speak.
  await h.check('the server\'s `speakers` notifications light the listener\'s seat with its level', async () => {
    const r = await speakingShown(H, 'ben', true, 5000);
    console.log(`  ben speaking at level ${r.level.toFixed(2)} after ${r.notifications} \`speakers\` notification(s)`);
  }, { dependent: true });
  await h.screenshot(H, 'host');

  await h.check('a `speakers` notification lights the speaker\'s seat ring with its level, an empty one clears it', async () => {
    // Fed as a frame from the server through chorus.js's own parsing and
    // routing (by `to`), so this checks the page whether or not the server
    // sends `speakers` yet; DOM read in the same task, so no real
    // notification can interleave.
    const r = await H.evaluate(() => {
      const { client, me } = window.chorusPage;
      const ben = [...me.participants.values()].find((p) => p.identity === 'ben').participant;
      const feed = (speakers) => client._onMessage(JSON.stringify({ jsonrpc: '2.0', method: 'speakers',
        params: { room: me.room, speakers, to: me.id } }));
      const li = document.querySelector(`#seats li[data-participant="${ben}"]`);
      const look = () => ({ speaking: li.classList.contains('speaking'), level: li.dataset.level ?? null,
        css: li.querySelector('.avatar').style.getPropertyValue('--level'),
        lit: document.querySelectorAll('#seats li.speaking').length });
      // The server only sends on change: put its latest notification back
      // afterwards, and keep these out of the record of what it sent.
      const real = window.speakersSeen.slice();
      feed([{ participant: ben, level: 0.8 }]);
      const on = look();
      feed([]);
      const off = look();
      if (real.length) feed(real[real.length - 1].speakers);
      window.speakersSeen = real;
      return { on, off };
    });
    assertEqual(r.on, { speaking: true, level: '0.80', css: '0.80', lit: 1 }, 'seat while speaking');
    assertEqual(r.off, { speaking: false, level: null, css: '0.00', lit: 0 }, 'seat after');
  }, { dependent: true });

  await h.check('host mutes the listener: both pages show it, the host stops receiving its audio', async () => {
    await H.click('#people li[data-participant] button:text-is("Mute")');
    await until(H, 'muted badge on host page', () => !!document.querySelector('#seats li[data-seat="1"] .badge.muted'));
    await until(L, 'muted badge on listener page', () => !!document.querySelector('#seats li[data-seat="1"] .badge.muted'));
    await until(L, 'listener told', () => document.getElementById('mystate').textContent.includes('muted by a host'));
    assertEqual(await texts(H, '#people li[data-participant] button'), ['Unmute', 'Kick'], 'host buttons for ben');
    await sleep(500); // packets already in flight
    const a = sum((await h.getStats(H, 'subscriber')).inbound, 'audio', 'packetsReceived');
    await sleep(2000);
    const b = sum((await h.getStats(H, 'subscriber')).inbound, 'audio', 'packetsReceived');
    assert(a > inbound0, `host inbound audio ${inbound0} -> ${a} before the mute took effect`);
    assert(b - a <= 5, `host still receives audio 0.5..2.5 s after voice.mute: ${a} -> ${b} packets`);
  }, { dependent: true });

  await h.check('the muted listener\'s seat stops lighting (muted speakers leave `speakers`)', async () => {
    await speakingShown(H, 'ben', false, 3000);
  }, { dependent: true });
  await h.screenshot(L, 'listener');

  await h.check('listener leaves the seat: its microphone is unpublished', async () => {
    await L.click('#leaveseat');
    await until(L, 'seat 2 empty on listener page', () => !document.querySelector('#seats li[data-seat="1"][data-participant]'));
    await until(H, 'seat 2 empty on host page', () => !document.querySelector('#seats li[data-seat="1"][data-participant]'));
    await until(H, 'host sees track.unpublished', () => {
      const me = window.chorusPage.me;
      const ben = [...me.participants.values()].find((p) => p.identity === 'ben');
      return [...me.tracks.values()].filter((t) => t.participant === ben.participant).length === 0;
    });
    assertEqual(await L.isHidden('#micmute'), true, 'mic button hidden');
    assert((await L.textContent('#mystate')).includes('no seat'), 'listener state says no seat');
  }, { dependent: true });

  await h.check('host kicks the listener: its page says so, the host page drops it', async () => {
    await H.click('#people li[data-participant] button:text-is("Kick")');
    const notice = await until(L, 'kick notice', () => !document.getElementById('notice').hidden &&
      document.getElementById('notice').textContent);
    assertEqual(notice, 'You were removed from the room by a host (kicked).', 'listener notice');
    assertEqual(await L.isVisible('#joinform'), true, 'join form back');
    assertEqual(await L.isHidden('#roomview'), true, 'room view hidden');
    await until(H, 'host list back to 1', () => document.querySelectorAll('#people li').length === 1);
    assertEqual(await seatNames(H), { 0: 'ana (you)' }, 'host page seats');
    assert((await texts(H, '#log div')).some((t) => t.endsWith('ben left (kicked)')), 'host activity log');
  }, { dependent: true });

  await h.check('host leaves', async () => {
    await H.click('#leave');
    const notice = await until(H, 'leave notice', () => !document.getElementById('notice').hidden &&
      document.getElementById('notice').textContent);
    assertEqual(notice, 'You left the room.', 'host notice');
  }, { dependent: true });

  await h.check('no uncaught errors in the pages', async () => {
    const errors = h.consoleLog.filter((l) => / pageerror\]/.test(l));
    assertEqual(errors, [], 'page errors');
  });
} catch (err) {
  await h.check('test body', () => {
    throw err;
  });
}

const failed = await h.stop();
process.exit(failed ? 1 : 0);
