// Captures the RTP a headless Chromium (libwebrtc) sends for one video
// codec: Chromium offers a send-only video track from its fake camera, the
// aiortc recorder (recorder.py) answers, records the decrypted packets and
// sends PLIs to get more keyframes. Writes RAW.jsonl (one packet a line) and
// RAW.meta.json (Chromium's outbound-rtp stats, the offer's codec line).
//
//   node capture-chromium.mjs --codec VP8|VP9|H264|AV1 --out RAW.jsonl
//        [--width 320 --height 240 --fps 30 --max-bitrate 300000
//         --seconds 3 --pli-at 1.0,2.0 --fmtp packetization-mode=1
//         --scalability-mode L1T1]
//
// Run it in a network namespace that has only lo (capture-all.sh does):
// nothing leaves loopback.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import readline from 'node:readline';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..', '..', '..', '..', '..');
const require = createRequire(import.meta.url);
const { chromium } = require(path.join(repoRoot, 'node_modules', 'playwright-core'));

function parseArgs(argv) {
  const o = { width: 320, height: 240, fps: 30, maxBitrate: 300000, seconds: 3, pliAt: '1.0,2.0',
              fmtp: '', scalabilityMode: '' };
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--/, '').replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    o[k] = ['width', 'height', 'fps', 'maxBitrate', 'seconds'].includes(k) ? Number(argv[i + 1]) : argv[i + 1];
  }
  if (!o.codec || !o.out) throw new Error('--codec and --out are required');
  return o;
}

const PAGE = `<!doctype html><meta charset="utf-8"><title>capture</title><script>
window.offer = async (o) => {
  const stream = await navigator.mediaDevices.getUserMedia({
    video: { width: o.width, height: o.height, frameRate: o.fps } });
  const pc = new RTCPeerConnection({ iceServers: [] });
  window.pc = pc;
  const enc = { maxBitrate: o.maxBitrate };
  if (o.scalabilityMode) enc.scalabilityMode = o.scalabilityMode;
  const tr = pc.addTransceiver(stream.getVideoTracks()[0], { direction: 'sendonly', sendEncodings: [enc] });
  const caps = RTCRtpSender.getCapabilities('video').codecs;
  const want = caps.filter((c) => c.mimeType.toLowerCase() === 'video/' + o.codec.toLowerCase() &&
                                  (!o.fmtp || (c.sdpFmtpLine || '').includes(o.fmtp)));
  if (!want.length) throw new Error('codec not offered: ' + o.codec + ' ' + o.fmtp + ' in ' +
                                    JSON.stringify(caps.map((c) => [c.mimeType, c.sdpFmtpLine])));
  tr.setCodecPreferences([want[0], ...caps.filter((c) => c.mimeType.toLowerCase() === 'video/rtx')]);
  const done = new Promise((r) => pc.addEventListener('icegatheringstatechange',
    () => pc.iceGatheringState === 'complete' && r()));
  await pc.setLocalDescription();
  await done;
  return { sdp: pc.localDescription.sdp, codec: want[0] };
};
window.answer = (sdp) => window.pc.setRemoteDescription({ type: 'answer', sdp });
window.stats = async () => {
  const out = [];
  (await window.pc.getStats()).forEach((s) => { if (s.type === 'outbound-rtp' || s.type === 'codec') out.push({ ...s }); });
  return out;
};
</script>`;

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const web = http.createServer((req, res) => res.writeHead(200, { 'Content-Type': 'text/html' }).end(PAGE));
  await new Promise((r) => web.listen(0, '127.0.0.1', r));
  const rec = spawn('/usr/bin/python3', [path.join(here, 'recorder.py'), '--out', o.out,
                                         '--seconds', String(o.seconds), '--pli-at', o.pliAt],
                    { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: rec.stdout });
  const nextMsg = () => new Promise((resolve, reject) => {
    lines.once('line', (l) => resolve(JSON.parse(l)));
    rec.once('exit', (code) => reject(new Error(`recorder exited ${code}`)));
  });
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
           '--allow-loopback-in-peer-connection', '--disable-background-networking',
           '--disable-component-update', '--no-first-run'],
  });
  try {
    const page = await (await browser.newContext()).newPage();
    page.on('console', (m) => console.error(`[page] ${m.text()}`));
    await page.goto(`http://127.0.0.1:${web.address().port}/capture.html`);
    const off = await page.evaluate((x) => window.offer(x), o);
    rec.stdin.write(JSON.stringify({ offer: off.sdp }) + '\n');
    const ans = await nextMsg();
    await page.evaluate((sdp) => window.answer(sdp), ans.answer);
    const done = await nextMsg();
    const stats = await page.evaluate(() => window.stats());
    fs.writeFileSync(o.out.replace(/\.jsonl$/, '') + '.meta.json',
                     JSON.stringify({ options: o, offeredCodec: off.codec, stats, chromium: browser.version() }, null, 1));
    const ob = stats.find((s) => s.type === 'outbound-rtp') || {};
    console.error(`capture: ${done.done} packets; encoder ${ob.encoderImplementation}, ` +
                  `${ob.framesEncoded} frames, ${ob.keyFramesEncoded} keyframes, ${ob.frameWidth}x${ob.frameHeight}, ` +
                  `scalability ${ob.scalabilityMode}`);
  } finally {
    await browser.close();
    web.close();
    rec.kill();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
