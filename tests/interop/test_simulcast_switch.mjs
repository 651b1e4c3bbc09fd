#!/usr/bin/env node
// Simulcast layer switching: a Chromium page publishes a 960x540 camera
// with 3 layers (q/h/f); a subscriber starts on "low", switches to "high";
// the publisher stops its top layer (the subscriber falls back to the
// middle one) and starts it again (back to the top); then the subscriber
// switches to "low". It keeps decoding throughout while the decoded frame
// size follows the layer.
import { Harness, assert, sleep } from './browser/harness.mjs';

const h = await Harness.start({ name: 'simulcast' });
const ok = (page, src, arg) => h.run(page, src, arg);
async function inboundVideo(page) {
  try {
    return (await h.getStats(page, 'viewer.subscriber')).inbound.find((x) => x.kind === 'video') || null;
  } catch (err) {
    if (/no PeerConnection/.test(err.message)) return null;
    throw err;
  }
}
/** Waits until the decoded width satisfies pred and frames keep coming. */
/* What the publisher page encodes per rid: tells a layer Chromium did not
 * send (CPU or bandwidth limited: its own choice) from one Chorus did not
 * forward. */
async function publisherLayers(P) {
  return ok(P, `const stats = await t.sessions.host.publisherPc.getStats();
    const out = [];
    stats.forEach((r) => { if (r.type === 'outbound-rtp' && r.kind === 'video')
      out.push(r.rid + ':' + (r.frameWidth || 0) + 'w/' + (r.framesEncoded || 0) + 'f/' + r.qualityLimitationReason); });
    return out.sort().join(' ');`);
}

async function waitWidth(page, pred, what, timeoutMs = 15000, publisher = null) {
  const deadline = Date.now() + timeoutMs;
  let last = null;
  for (;;) {
    const v = await inboundVideo(page);
    if (v && v.frameWidth && pred(v.frameWidth)) return v;
    last = v;
    if (Date.now() > deadline) {
      const pub = publisher ? `; publisher encodes ${await publisherLayers(publisher)}` : '';
      throw new Error(`${what}: not within ${timeoutMs} ms (last ${last?.frameWidth}x${last?.frameHeight}, frames ${last?.framesDecoded})${pub}`);
    }
    await sleep(200);
  }
}

try {
  const P = await h.newPage(undefined, 'P');
  const S = await h.newPage(undefined, 'S');
  let video = null;
  await h.check('P publishes 960x540 with 3 simulcast layers; S subscribes on "low"', async () => {
    await ok(P, 'return t.connect("p", arg)', h.wsUrl);
    await ok(S, 'return t.connect("s", arg)', h.wsUrl);
    await ok(P, 'return t.clients.p.createRoom("sim", {kind: "live"})');
    await ok(P, 'return t.join("p", "host", "sim", {identity: "host", role: "host"})');
    await ok(P, 'return t.getUserMedia("cam", {audio: true, video: {width: 960, height: 540}})');
    const pub = await ok(P, 'return t.sessions.host.publish(t.streams.cam, {simulcast: true})');
    video = pub.find((x) => x.kind === 'video');
    assert(video.simulcast.length === 3, JSON.stringify(video));
    await ok(S, 'return t.join("s", "viewer", "sim", {identity: "viewer"})');
    await ok(S, 'return t.sessions.viewer.subscribe("all", {quality: "low"})');
  }, { dependent: true });

  const sizes = [];
  await h.check('S decodes the low layer', async () => {
    const v = await waitWidth(S, (w) => w > 0 && w <= 300, 'low layer');
    sizes.push(`${v.frameWidth}x${v.frameHeight}`);
  }, { dependent: true });

  // The publisher needs a few seconds of feedback before it sends the top layer.
  await h.check('switch to "high": the frame size grows to the top layer, decoding goes on', async () => {
    const before = await inboundVideo(S);
    await ok(S, 'return t.sessions.viewer.updateSubscription(arg, {quality: "high"})', video.track);
    const v = await waitWidth(S, (w) => w >= 900, 'high layer', 20000, P);
    await sleep(1000);
    const after = await inboundVideo(S);
    assert(after.framesDecoded > v.framesDecoded + 10, `frames ${v.framesDecoded} -> ${after.framesDecoded} in 1 s after the switch`);
    assert(after.frameWidth >= 900, `back to ${after.frameWidth}`);
    sizes.push(`${v.frameWidth}x${v.frameHeight}`);
  }, { dependent: true });

  const setTopLayer = (active) => ok(P, `const sender = t.sessions.host.publisherPc.getSenders()
      .find((x) => x.track && x.track.kind === 'video');
    const p = sender.getParameters();
    for (const e of p.encodings) if (e.rid === 'f') e.active = arg;
    await sender.setParameters(p);
    return p.encodings.map((e) => e.rid + ':' + e.active).join(',');`, active);

  await h.check('the top layer stops: S falls back to the next layer and keeps decoding', async () => {
    await setTopLayer(false);
    const v = await waitWidth(S, (w) => w > 300 && w < 900, 'fallback to the middle layer', 10000, P);
    await sleep(1000);
    const after = await inboundVideo(S);
    assert(after.framesDecoded > v.framesDecoded + 10, `frames ${v.framesDecoded} -> ${after.framesDecoded}`);
    sizes.push(`${v.frameWidth}x${v.frameHeight}`);
  }, { dependent: true });

  await h.check('the top layer comes back: S returns to it', async () => {
    await setTopLayer(true);
    const v = await waitWidth(S, (w) => w >= 900, 'back to the top layer', 15000, P);
    sizes.push(`${v.frameWidth}x${v.frameHeight}`);
  }, { dependent: true });

  await h.check('switch back to "low": the frame size shrinks, decoding goes on', async () => {
    const before = await inboundVideo(S);
    await ok(S, 'return t.sessions.viewer.updateSubscription(arg, {quality: "low"})', video.track);
    const v = await waitWidth(S, (w) => w <= 300, 'back to low');
    await sleep(1000);
    const after = await inboundVideo(S);
    assert(after.framesDecoded > before.framesDecoded + 20, `frames ${before.framesDecoded} -> ${after.framesDecoded}`);
    sizes.push(`${v.frameWidth}x${v.frameHeight}`);
    console.log(`  decoded sizes: ${sizes.join(' -> ')}; freezes ${after.freezeCount}, keyframes ${after.keyFramesDecoded}`);
  }, { dependent: true });
} catch (err) {
  await h.check('test body', () => { throw err; });
}
process.exit((await h.stop()) ? 1 : 0);
