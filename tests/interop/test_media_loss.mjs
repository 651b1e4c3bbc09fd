#!/usr/bin/env node
// Media under 5 % random loss on the publisher's path and 5 % on the
// subscriber's path (Chorus's test loss shim: this machine has no netem).
// Chorus must NACK the publisher and use its retransmissions (RTX), and
// answer the subscriber's NACKs from its history, so that the subscriber
// keeps decoding. Counters in /metrics prove both repair paths ran; the
// subscriber's getStats shows what it experienced.
import { Harness, assert, sleep } from './browser/harness.mjs';

const LOSS_PCT = '5';
const h = await Harness.start({
  name: 'loss',
  serverEnv: { CHORUS_TEST_PUBLISHER_LOSS_PCT: process.env.PUB_LOSS ?? LOSS_PCT, CHORUS_TEST_SUBSCRIBER_LOSS_PCT: process.env.SUB_LOSS ?? LOSS_PCT },
});
const ok = (page, src, arg) => h.run(page, src, arg);
const metrics = () => h.metrics();
const video = (st) => st.inbound.find((x) => x.kind === 'video') || {};

try {
  const P = await h.newPage(undefined, 'P');
  const S = await h.newPage(undefined, 'S');
  await h.check(`P publishes, S subscribes (${LOSS_PCT} % loss each way)`, async () => {
    await ok(P, 'return t.connect("p", arg)', h.wsUrl);
    await ok(S, 'return t.connect("s", arg)', h.wsUrl);
    await ok(P, 'return t.clients.p.createRoom("loss", {kind: "live"})');
    await ok(P, 'return t.join("p", "host", "loss", {identity: "host", role: "host"})');
    await ok(P, 'return t.getUserMedia("cam")');
    await ok(P, 'return t.sessions.host.publish(t.streams.cam, {simulcast: false})');
    await ok(S, 'return t.join("s", "viewer", "loss", {identity: "viewer"})');
    await ok(S, 'return t.sessions.viewer.subscribe("all")');
  }, { dependent: true });

  let s0;
  await h.check('S decodes video', async () => {
    const deadline = Date.now() + 10000;
    for (;;) {
      try {
        s0 = video(await h.getStats(S, 'viewer.subscriber'));
        if ((s0.framesDecoded || 0) > 0) break;
      } catch (err) {
        if (!/no PeerConnection/.test(err.message)) throw err; // the offer is on its way
      }
      if (Date.now() > deadline) throw new Error('no frame decoded within 10 s');
      await sleep(100);
    }
  }, { dependent: true });

  await h.check('over 8 s under loss S keeps decoding (> 10 fps), with few freezes', async () => {
    await sleep(8000);
    const s1 = video(await h.getStats(S, 'viewer.subscriber'));
    const frames = s1.framesDecoded - s0.framesDecoded;
    const fps = frames / 8;
    const freezes = (s1.freezeCount || 0) - (s0.freezeCount || 0);
    const frozenS = (s1.totalFreezesDuration || 0) - (s0.totalFreezesDuration || 0);
    console.log(`  subscriber: ${frames} frames decoded in 8 s (${fps.toFixed(1)} fps), ${s1.frameWidth}x${s1.frameHeight}, ` +
      `packets lost ${s1.packetsLost}, NACKs sent ${s1.nackCount}, freezes ${freezes} (${frozenS.toFixed(2)} s frozen)`);
    assert(fps > 10, `${fps} fps`);
    assert(frozenS < 2, `${frozenS} s frozen`);
  }, { dependent: true });

  await h.check('Chorus NACKed the publisher, used its RTX, and answered the subscriber from history', async () => {
    const m = await metrics();
    const line = ['nacks_sent', 'rtx_recovered', 'nacks_received', 'retransmitted', 'retransmit_missed',
      'retransmit_limited']
      .map((k) => `${k} ${m[`chorus_media_${k}_total`]}`).join(', ');
    console.log(`  chorus: ${line}`);
    assert(m.chorus_media_nacks_sent_total > 0, 'no NACK sent upstream');
    assert(m.chorus_media_rtx_recovered_total > 0, 'no publisher RTX recovered');
    assert(m.chorus_media_nacks_received_total > 0, 'no subscriber NACK');
    assert(m.chorus_media_retransmitted_total > 0, 'no retransmission to the subscriber');
    // The bounds on answering NACKs (repeats, budget) are for storms: real
    // loss is answered in full.
    assert(m.chorus_media_retransmit_limited_total === 0,
      `${m.chorus_media_retransmit_limited_total} of a real subscriber's NACKs left unanswered`);
  });
} catch (err) {
  await h.check('test body', () => { throw err; });
}
process.exit((await h.stop()) ? 1 : 0);
