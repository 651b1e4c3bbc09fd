#!/usr/bin/env node
// web/live.html in headless Chromium pages against a real chorus (dev mode),
// driven through the page's form and buttons, checked through its DOM and
// WebRTC stats.
//
// A host joins (the page creates the live room) and goes live with
// simulcast; an audience member joins and decodes the host's video in its
// stage grid; the host page's viewer count comes from `live.viewers`; chat
// and a gift from the audience show on the host page. A second host in
// another room goes live and the first host starts a PK: both rooms show
// it, the audience decodes the other room's host too; stopping
// the PK leaves only the room's own host. The host promotes the audience
// member to co-host (its studio opens), the co-host goes live and shows in
// the host's grid, and the host demotes it again. Screenshots:
// tests/artifacts/live-page-*.png.
//
//   node tests/interop/test_live_page.mjs   (CHORUS_BUILD_DIR=... to pick a build)
import { Harness, assert, assertEqual } from './browser/harness.mjs';

const STEP_TIMEOUT_MS = 10000;

let h;
try {
  h = await Harness.start({ name: 'live-page' });
} catch (err) {
  console.log(`FAIL - harness start: ${err.message}`);
  process.exit(1);
}

/** What the page shows, for failure messages. */
function snapshot(page) {
  return page.evaluate(() => {
    const txt = (sel) => [...document.querySelectorAll(sel)].map((e) => e.textContent.trim().replace(/\s+/g, ' '));
    return { status: txt('#status')[0], error: txt('#error')[0], notice: txt('#notice')[0], viewers: txt('#viewers')[0],
      pk: txt('#pkstate')[0], live: txt('#livestate')[0], stage: txt('#stage figcaption'), people: txt('#people li'),
      chat: txt('#chat div').slice(-8) };
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
const videoSummary = (s) => ({
  inbound: s.inbound.filter((x) => x.kind === 'video').map((x) => ({ mid: x.mid, frames: x.framesDecoded })),
  outbound: s.outbound.filter((x) => x.kind === 'video').map((x) => ({ rid: x.rid, frames: x.framesEncoded })),
});
/** Frames decoded on the subscriber m-line @mid. */
const framesOf = (stats, mid) => stats.inbound.filter((x) => x.kind === 'video' && x.mid === mid)
  .reduce((a, x) => a + (x.framesDecoded || 0), 0);

/** Waits until the element @id shows exactly @want. */
const shows = (page, id, want, what = `#${id} shows "${want}"`) =>
  until(page, what, ([i, w]) => document.getElementById(i).textContent === w, [id, want]);

/** Waits until a #people row reads exactly @row. */
const listed = (page, row) =>
  until(page, `people row "${row}"`,
    (r) => [...document.querySelectorAll('#people li')].some((li) => li.textContent === r), row);

async function joinVia(page, room, identity, role) {
  await page.fill('#room', room);
  await page.fill('#identity', identity);
  await page.selectOption('#role', role);
  await page.click('#join');
  await until(page, `joined as ${identity}`, (want) => document.getElementById('status').textContent === want,
    `in ${room} as ${identity} (${role})`);
}

/** The stage tile captioned @caption: waits for it, for its video to play, returns its mid. */
async function tileMid(page, caption, timeoutMs = STEP_TIMEOUT_MS) {
  return until(page, `stage tile "${caption}" playing`, (c) => {
    const fig = [...document.querySelectorAll('#stage figure')].find((f) => f.querySelector('figcaption').textContent === c);
    const v = fig && fig.querySelector('video');
    return v && v.dataset.mid && v.videoWidth > 0 && !v.paused ? v.dataset.mid : null;
  }, caption, timeoutMs);
}

/** Waits for frames decoded on @mid to grow by more than @n. */
async function decodes(page, mid, n, what) {
  const first = await h.statsUntil(page, 'subscriber', (s) => framesOf(s, mid) > 0, `${what}: first frame`,
    STEP_TIMEOUT_MS, videoSummary);
  const f0 = framesOf(first, mid);
  await h.statsUntil(page, 'subscriber', (s) => framesOf(s, mid) > f0 + n, `${what}: frames growing`,
    STEP_TIMEOUT_MS, videoSummary);
}

const tag = `${process.pid}-${Date.now() % 100000}`;
const roomA = `live-a-${tag}`;
const roomB = `live-b-${tag}`;
try {
  const H = await h.newPage('/live.html', 'host');
  const A = await h.newPage('/live.html', 'audience');
  for (const p of [H, A]) await exposePcs(p);

  await h.check('host joins through the form (room created), camera preview plays', async () => {
    await joinVia(H, roomA, 'hana', 'host');
    assertEqual(await H.isVisible('#studio'), true, 'studio shown');
    await until(H, 'preview playing', () => document.getElementById('preview').videoWidth > 0);
    assertEqual(await H.textContent('#viewers'), '0', 'viewers');
    assertEqual(await texts(H, '#stage figure'), [], 'stage');
    assertEqual(await H.textContent('#error'), '', 'error line');
  });

  await h.check('host goes live with simulcast: 3 encodings negotiated, the lowest encoding', async () => {
    await H.click('#golive');
    await until(H, 'live state', () => document.getElementById('livestate').textContent === 'LIVE (simulcast, 3 layers)');
    // Chromium encodes fewer layers than negotiated at 640x480 (its
    // resolution-based layer limit), so only the lowest one is required.
    const st = await h.statsUntil(H, 'publisher',
      (s) => s.outbound.some((x) => x.kind === 'video' && x.rid === 'q' && x.framesEncoded > 0),
      'lowest video layer encoding', STEP_TIMEOUT_MS, videoSummary);
    assertEqual(st.outbound.filter((x) => x.kind === 'video').map((x) => x.rid).sort(), ['f', 'h', 'q'], 'rids');
  }, { dependent: true });

  let hostMid = null;
  await h.check('audience joins: the host\'s video plays in its stage grid, framesDecoded grows', async () => {
    await joinVia(A, roomA, 'avi', 'audience');
    assertEqual(await A.isHidden('#studio'), true, 'no studio for the audience');
    assertEqual(await A.isVisible('#gifts'), true, 'gift buttons');
    hostMid = await tileMid(A, 'hana (host)');
    await decodes(A, hostMid, 20, 'audience decodes the host');
    assertEqual(await texts(A, '#stage figcaption'), ['hana (host)'], 'stage captions');
    assertEqual(await A.$$eval('#stage figure audio', (els) => els.length), 1, 'host audio element');
  }, { dependent: true });

  await h.check('viewer count from live.viewers: 1 on the host page and on the audience page', async () => {
    await until(H, 'host viewers 1', () => document.getElementById('viewers').textContent === '1');
    assertEqual(await A.textContent('#viewers'), '1', 'audience page viewers');
    assertEqual(await texts(H, '#people li'), ['hana (you) - host', 'avi - audience Promote'], 'host people list');
  }, { dependent: true });

  await h.check('audience chat message and gift appear on the host page', async () => {
    await A.fill('#message', 'hello from the audience');
    await A.click('#send');
    await until(H, 'chat on host page', () => [...document.querySelectorAll('#chat div')]
      .some((d) => d.textContent === 'avi: hello from the audience'));
    assert((await texts(A, '#chat div')).includes('you: hello from the audience'), 'echo on audience page');
    assertEqual(await A.inputValue('#message'), '', 'input cleared');
    await A.click('#gifts button[data-gift="rose"]');
    await until(H, 'gift on host page', () => [...document.querySelectorAll('#chat div.gift')]
      .some((d) => d.textContent === 'avi sent a gift: 🌹 rose'));
  }, { dependent: true });

  for (const p of [A, H]) await p.evaluate(() => window.scrollTo(0, 0));
  await h.screenshot(A, 'audience');
  await h.screenshot(H, 'host');

  const B = await h.newPage('/live.html', 'host-b');
  await exposePcs(B);
  await h.check('PK: a host in another room goes live; the first host starts a PK; all pages show it', async () => {
    await joinVia(B, roomB, 'bo', 'host');
    await B.uncheck('#simulcast');
    await until(B, 'preview', () => document.getElementById('preview').videoWidth > 0);
    await B.click('#golive');
    await until(B, 'B live', () => document.getElementById('livestate').textContent === 'LIVE');
    await H.fill('#pkroom', roomB);
    await H.click('#pkstart');
    await shows(H, 'pkstate', `PK with ${roomB}`);
    await shows(A, 'pkstate', `PK with ${roomB}`);
    await shows(B, 'pkstate', `PK with ${roomA}`);
  }, { dependent: true });

  // PROTOCOL.md: during a PK "each room's audience also receives the other
  // room's host tracks" (forwarded across rooms and worker threads).
  await h.check('PK: the audience decodes the other room\'s host in a second tile', async () => {
    const mid = await tileMid(A, `host of ${roomB} (PK)`, 6000);
    assert(mid !== hostMid, `PK tile on its own m-line (${mid})`);
    await decodes(A, mid, 20, 'audience decodes the PK host');
    assertEqual((await texts(A, '#stage figcaption')).sort(), [`host of ${roomB} (PK)`, 'hana (host)'].sort(),
      'stage captions');
    await tileMid(H, `host of ${roomB} (PK)`); // the host sees its opponent too
    await h.screenshot(A, 'audience-pk');
  }, { dependent: true });

  await h.check('PK stop: the state is cleared on every page, only the room\'s own host is on stage', async () => {
    await H.click('#pkstop');
    for (const p of [H, A, B]) await until(p, 'PK state hidden', () => document.getElementById('pkstate').hidden);
    await until(A, 'one tile left', () => [...document.querySelectorAll('#stage figcaption')].length === 1);
    assertEqual(await texts(A, '#stage figcaption'), ['hana (host)'], 'stage captions');
    assert((await texts(A, '#chat div')).includes(`PK with ${roomB} ended`), 'PK end told in chat');
    await decodes(A, hostMid, 10, 'audience still decodes the host');
  }, { dependent: true });

  await h.check('host promotes the audience member: its studio opens', async () => {
    await H.click('#people li button:text-is("Promote")');
    await until(A, 'studio open after promotion', () => !document.getElementById('studio').hidden &&
      document.getElementById('preview').videoWidth > 0);
    assert((await texts(A, '#chat div')).includes('you are now a co-host'), 'promotion told in chat');
    await listed(H, 'avi - co-host Demote');
    // live.viewers is sent at most every 2 s.
    await until(H, 'viewers back to 0', () => document.getElementById('viewers').textContent === '0', undefined, 5000);
  }, { dependent: true });

  await h.check('the co-host goes live: the host decodes it in its co-host grid', async () => {
    await A.click('#golive');
    await until(A, 'co-host live', () => document.getElementById('livestate').textContent.startsWith('LIVE'));
    const mid = await tileMid(H, 'avi (co-host)');
    await decodes(H, mid, 20, 'host decodes the co-host');
    assertEqual(await texts(H, '#stage figcaption'), ['avi (co-host)'], 'host stage captions');
    await H.evaluate(() => window.scrollTo(0, 0));
    await h.screenshot(H, 'host-with-cohost');
  }, { dependent: true });

  await h.check('host demotes the co-host: its studio closes, it stops publishing', async () => {
    await H.click('#people li button:text-is("Demote")');
    await until(A, 'studio closed after demotion', () => document.getElementById('studio').hidden);
    await listed(H, 'avi - audience Promote');
    await until(H, 'co-host tile gone from the host page', () => document.querySelectorAll('#stage figure').length === 0);
    await until(H, 'viewers 1 again', () => document.getElementById('viewers').textContent === '1', undefined, 5000);
  }, { dependent: true });

  await h.check('audience and hosts leave through the page', async () => {
    for (const p of [A, B, H]) {
      await p.click('#leave');
      const notice = await until(p, 'leave notice', () => !document.getElementById('notice').hidden &&
        document.getElementById('notice').textContent);
      assertEqual(notice, 'You left the room.', `${p.label} notice`);
    }
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
