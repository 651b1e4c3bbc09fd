#!/usr/bin/env node
// Captures real SDP from headless Chromium as fixtures for tests/unit/test-sdp.c,
// and checks that Chromium accepts the SDP Chorus writes. Normally run through
// capture.sh (loopback-only network namespace).
//
//   node capture.js [OUT_DIR] [--answer-tool PATH] [--subscriber-offers DIR]
//
// Writes into OUT_DIR (default tests/unit/data/sdp):
//   chromium-av-sendonly.sdp    audio + video, sendonly transceivers
//   chromium-simulcast.sdp      audio + video with 3 rids (q/h/f)
//   chromium-audio-only.sdp     one sendonly audio transceiver
//   chromium-av-datachannel.sdp audio + video + a data channel (m=application)
// With --answer-tool (answer-tool.c, built by capture.sh): Chorus's answer to
// each offer is applied to the offering RTCPeerConnection and the result
// checked (stable, sendonly transceivers, three simulcast encodings).
// With --subscriber-offers DIR: every sequence chorus-sub-SEQ-N.sdp found in
// DIR (offers Chorus generated for a subscriber, N = 1, 2, ...) is applied in
// order to one RTCPeerConnection and each answer written as
// chromium-answer-SEQ-N.sdp.
//
// Every offer is taken after ICE gathering completed, so it carries the
// loopback host candidates that a real publish would trickle.
'use strict';

const http = require('http');
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');

const repoRoot = path.resolve(__dirname, '..', '..', '..');
const { chromium } = require(path.join(repoRoot, 'node_modules', 'playwright-core'));

const PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>capture</title></head>
<body><script>
const pcs = {};
const config = { iceServers: [], bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' };

async function waitGathered(pc) {
  if (pc.iceGatheringState === 'complete') return;
  await new Promise((resolve) => {
    const done = () => { if (pc.iceGatheringState === 'complete') resolve(); };
    pc.addEventListener('icegatheringstatechange', done);
    setTimeout(resolve, 3000);
  });
}

async function offer(kind) {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 1280, height: 720 } });
  const audio = stream.getAudioTracks()[0];
  const video = stream.getVideoTracks()[0];
  const pc = new RTCPeerConnection(config);
  pc.addTransceiver(audio, { direction: 'sendonly', streams: [stream] });
  if (kind === 'simulcast') {
    pc.addTransceiver(video, {
      direction: 'sendonly', streams: [stream],
      sendEncodings: [
        { rid: 'q', scaleResolutionDownBy: 4.0 },
        { rid: 'h', scaleResolutionDownBy: 2.0 },
        { rid: 'f' },
      ],
    });
  } else if (kind !== 'audio-only') {
    pc.addTransceiver(video, { direction: 'sendonly', streams: [stream] });
  }
  if (kind === 'datachannel') pc.createDataChannel('chat');
  await pc.setLocalDescription(await pc.createOffer());
  await waitGathered(pc);
  pcs[kind] = pc;
  return pc.localDescription.sdp;
}

// Applies Chorus's answer to the PeerConnection that made the offer.
async function applyAnswer(kind, sdp) {
  const pc = pcs[kind];
  const report = { error: null };
  try {
    await pc.setRemoteDescription({ type: 'answer', sdp });
  } catch (e) {
    report.error = String(e);
  }
  report.signalingState = pc.signalingState;
  report.transceivers = pc.getTransceivers().map((t) => ({
    mid: t.mid,
    kind: t.sender.track ? t.sender.track.kind : null,
    currentDirection: t.currentDirection,
    encodings: t.sender.getParameters().encodings.length,
    codec: (t.sender.getParameters().codecs || [])[0]?.mimeType || null,
  }));
  pc.close();
  delete pcs[kind];
  return report;
}

// Applies a sequence of offers to one PeerConnection, as renegotiations.
async function answerSequence(offers) {
  const pc = new RTCPeerConnection(config);
  const answers = [];
  try {
    for (const sdp of offers) {
      await pc.setRemoteDescription({ type: 'offer', sdp });
      await pc.setLocalDescription(await pc.createAnswer());
      await waitGathered(pc);
      answers.push(pc.localDescription.sdp);
    }
  } catch (e) {
    answers.push('ERROR ' + String(e));
  }
  pc.close();
  return answers;
}
window.captureOffer = offer;
window.applyAnswer = applyAnswer;
window.answerSequence = answerSequence;
</script></body></html>`;

function parseArgs(argv) {
  const args = { outDir: path.join(repoRoot, 'tests', 'unit', 'data', 'sdp'), answerTool: null, subscriberDir: null };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--answer-tool') args.answerTool = argv[++i];
    else if (argv[i] === '--subscriber-offers') args.subscriberDir = argv[++i];
    else args.outDir = path.resolve(argv[i]);
  }
  return args;
}

// Checks Chromium's view after applying Chorus's answer; returns problems.
function checkReport(kind, report) {
  const problems = [];
  if (report.error) problems.push(report.error);
  if (report.signalingState !== 'stable') problems.push(`signalingState ${report.signalingState}`);
  for (const t of report.transceivers) {
    if (t.currentDirection !== 'sendonly') problems.push(`mid ${t.mid}: currentDirection ${t.currentDirection}`);
    if (kind === 'simulcast' && t.kind === 'video' && t.encodings !== 3)
      problems.push(`mid ${t.mid}: ${t.encodings} encodings instead of 3`);
  }
  return problems;
}

function subscriberSequences(dir) {
  const sequences = {};
  for (const file of fs.readdirSync(dir)) {
    const m = /^chorus-sub-(.+)-(\d+)\.sdp$/.exec(file);
    if (!m) continue;
    (sequences[m[1]] = sequences[m[1]] || [])[Number(m[2]) - 1] = path.join(dir, file);
  }
  return sequences;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  fs.mkdirSync(args.outDir, { recursive: true });

  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end(PAGE);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}/`;

  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      '--allow-loopback-in-peer-connection',
      '--disable-background-networking',
      '--headless',
    ],
  });
  let failed = false;
  try {
    const page = await browser.newPage();
    await page.goto(url);
    const offers = {
      'chromium-av-sendonly.sdp': 'av',
      'chromium-simulcast.sdp': 'simulcast',
      'chromium-audio-only.sdp': 'audio-only',
      'chromium-av-datachannel.sdp': 'datachannel',
    };
    for (const [file, kind] of Object.entries(offers)) {
      const sdp = await page.evaluate((k) => window.captureOffer(k), kind);
      fs.writeFileSync(path.join(args.outDir, file), sdp);
      console.log(`wrote ${file} (${sdp.length} bytes)`);
      if (!args.answerTool) continue;
      const answer = execFileSync(args.answerTool, { input: sdp }).toString();
      const report = await page.evaluate(([k, a]) => window.applyAnswer(k, a), [kind, answer]);
      const problems = checkReport(kind, report);
      console.log(`  Chorus answer to ${kind}: ${problems.length ? 'FAILED ' + problems.join('; ') : 'accepted'} ` +
        JSON.stringify(report.transceivers));
      if (problems.length) failed = true;
    }
    if (args.subscriberDir) {
      for (const [seq, files] of Object.entries(subscriberSequences(args.subscriberDir))) {
        const sdps = files.map((f) => fs.readFileSync(f, 'utf8'));
        const answers = await page.evaluate((o) => window.answerSequence(o), sdps);
        answers.forEach((answer, i) => {
          if (answer.startsWith('ERROR')) {
            console.log(`  subscriber ${seq}-${i + 1}: ${answer}`);
            failed = true;
            return;
          }
          const name = `chromium-answer-${seq}-${i + 1}.sdp`;
          fs.writeFileSync(path.join(args.outDir, name), answer);
          console.log(`wrote ${name} (${answer.length} bytes)`);
        });
      }
    }
  } finally {
    await browser.close();
    server.close();
  }
  if (failed) process.exit(1);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
