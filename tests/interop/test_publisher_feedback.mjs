#!/usr/bin/env node
// Chorus sends transport-wide CC feedback to publishers, so a browser's
// send-side estimator ramps up and sends every simulcast layer. Without it
// Chromium stays near its start rate (and backs off to 30 kbps): the high
// layers never arrive.
//
// A Chromium page publishes a 1280x720 camera + mic with 3-layer simulcast
// (q/h/f). Checks, within 30 s: the
// publisher's estimate (availableOutgoingBitrate) passes 1 Mbps, all three
// encodings are sent, Chorus counts feedback sent and RTP from all three
// layers received.
import { Harness, assert } from './browser/harness.mjs';

const h = await Harness.start({ name: 'feedback' });
const ok = (page, src, arg) => h.run(page, src, arg);
const metrics = () => h.metrics();

try {
  const P = await h.newPage(undefined, 'P');
  await h.check('P publishes camera+mic with 3-layer simulcast', async () => {
    await ok(P, 'return t.connect("p", arg)', h.wsUrl);
    await ok(P, 'return t.clients.p.createRoom("fb", {kind: "live"})');
    await ok(P, 'return t.join("p", "host", "fb", {identity: "host", role: "host"})');
    // 1280x720: libwebrtc sends 3 simulcast layers only from 960x540 up.
    await ok(P, 'return t.getUserMedia("cam", {audio: true, video: {width: 1280, height: 720}})');
    await ok(P, 'return t.sessions.host.publish(t.streams.cam, {simulcast: true})');
  }, { dependent: true });

  await h.check('after 6 s the publisher estimates over 1 Mbps and sends all three encodings', async () => {
    const deadline = Date.now() + 30000; const t0 = Date.now();
    let last = '';
    for (;;) {
      const st = await h.getStats(P, 'host.publisher');
      const avail = st.candidatePair?.availableOutgoingBitrate ??
        (Array.isArray(st.candidatePair) ? Math.max(...st.candidatePair.map((c) => c.availableOutgoingBitrate || 0)) : 0);
      const video = st.outbound.filter((x) => x.kind === 'video');
      const sending = video.filter((x) => (x.framesEncoded || 0) > 0 && x.active !== false).map((x) => x.rid).sort();
      last = `available ${avail} bps; encodings sending ${JSON.stringify(sending)}; ` +
        video.map((x) => `${x.rid}:${x.frameWidth}x${x.frameHeight} ${x.qualityLimitationReason}`).join(' ');
      // Held after 6 s: without feedback Chromium backs off within seconds.
      if (Date.now() - t0 > 6000 && avail > 1e6 && sending.length === 3) break;
      if (process.env.VERBOSE) console.log(`  t=${Date.now() - t0} ${last}`);
      if (Date.now() > deadline) throw new Error(`not within 30 s: ${last}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    console.log(`  ${last}`);
  }, { dependent: true });

  await h.check('Chorus sent feedback and received RTP of every layer', async () => {
    const m = await metrics();
    assert(m.chorus_media_twcc_feedback_sent_total > 0, `feedback ${m.chorus_media_twcc_feedback_sent_total}`);
    assert(m.chorus_media_rtp_unmatched_total === 0 || m.chorus_media_rtp_unmatched_total === undefined,
      `unmatched ${m.chorus_media_rtp_unmatched_total}`);
    console.log(`  feedback packets sent ${m.chorus_media_twcc_feedback_sent_total}, RTP received ${m.chorus_media_rtp_received_total}`);
  });
} catch (err) {
  await h.check('test body', () => { throw err; });
}
process.exit((await h.stop()) ? 1 : 0);
