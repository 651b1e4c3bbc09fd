// Test-side glue for chorus.js, driven by page.evaluate() from the harness.
// window.t holds clients and sessions by name, every session event in
// t.events (JSON-clean), and each PeerConnection in t.pcs["<session>.<target>"].
import { Chorus, ChorusError, Participant } from '/chorus.js';

const t = {
  Chorus,
  ChorusError,
  Participant,
  clients: {},
  sessions: {},
  events: [],
  pcs: {},
  streams: {},
  ready: false,
};
window.t = t;

/** JSON-clean copy (drops MediaStreamTrack and other live objects). */
function clean(value) {
  if (value === undefined) return null;
  return JSON.parse(
    JSON.stringify(value, (k, v) => {
      if (v instanceof MediaStreamTrack || v instanceof MediaStream) return undefined;
      if (typeof RTCRtpTransceiver !== 'undefined' && v instanceof RTCRtpTransceiver) return undefined;
      if (v instanceof RTCPeerConnection) return undefined;
      return v;
    }),
  );
}

/** Runs fn and returns {ok, value} or {ok: false, code, message, data}, so
 *  that error codes survive page.evaluate(). */
t.settle = async (fn) => {
  try {
    return { ok: true, value: clean(await fn()) };
  } catch (err) {
    return { ok: false, code: err.code ?? null, message: String(err.message), data: clean(err.data) };
  }
};

t.connect = async (name, url, opts = {}) => {
  const client = await Chorus.connect(url, opts);
  t.clients[name] = client;
  client.on('close', (ev) => t.events.push({ client: name, event: 'client.close', params: clean(ev), at: performance.now() }));
  return name;
};

function record(name, event, params) {
  t.events.push({ session: name, event, params: clean(params), at: performance.now() });
}

/** Joins on client @clientName and names the session @name. */
t.join = async (clientName, name, room, opts = {}) => {
  const session = await t.clients[clientName].join(room, opts);
  t.adopt(name, session);
  return { id: session.id, role: session.role, participants: [...session.participants.values()],
           tracks: [...session.tracks.values()], resumeKey: session.resumeKey };
};

/** Registers a session under @name: records its events and PeerConnections. */
t.adopt = (name, session) => {
  t.sessions[name] = session;
  session.on('notification', (method, params) => record(name, method, params));
  for (const ev of ['closed', 'disconnected', 'resumed', 'connectionstatechange', 'track.removed']) {
    session.on(ev, (p) => record(name, ev, p));
  }
  session.on('error', (err) => record(name, 'error', { message: String(err && err.message), code: err && err.code }));
  session.on('peerconnection', ({ target, pc }) => {
    t.pcs[`${name}.${target}`] = pc;
  });
  session.on('track', (entry) => {
    record(name, 'track', entry);
    const el = document.createElement(entry.kind === 'video' ? 'video' : 'audio');
    el.autoplay = true;
    el.muted = true;
    el.playsInline = true;
    el.srcObject = entry.stream;
    el.dataset.track = entry.track;
    if (entry.kind === 'video') el.width = 320;
    document.getElementById('media').appendChild(el);
  });
};

/** Events matching (session, event) and, optionally, a params subset. */
t.find = (session, event, subset = {}) =>
  t.events.filter(
    (e) => e.session === session && e.event === event &&
      Object.entries(subset).every(([k, v]) => e.params && JSON.stringify(e.params[k]) === JSON.stringify(v)),
  );

/** Camera (fake device) and microphone, kept in t.streams[name]. */
t.getUserMedia = async (name, constraints = { audio: true, video: { width: 640, height: 480 } }) => {
  t.streams[name] = await navigator.mediaDevices.getUserMedia(constraints);
  return t.streams[name].getTracks().map((x) => x.kind);
};

t.ready = true;

/** Polls t.pcs[pcName] every 10 ms (page clock, no round trips) and sets
 *  t.firstFrameAt[pcName] = performance.now() at the first decoded video frame. */
t.firstFrameAt = {};
t.watchFirstFrame = (pcName, timeoutMs = 30000) => {
  const until = performance.now() + timeoutMs;
  const poll = async () => {
    const pc = t.pcs[pcName];
    if (pc) {
      let decoded = 0;
      (await pc.getStats()).forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'video') decoded += s.framesDecoded || 0;
      });
      if (decoded > 0) {
        t.firstFrameAt[pcName] = performance.now();
        return;
      }
    }
    if (performance.now() < until) setTimeout(poll, 10);
  };
  poll();
};

const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor;
/** Runs @src (an async function body with `t` and `arg` in scope) through
 *  t.settle(): lets the harness send test steps as strings. */
t.run = (src, arg) => t.settle(() => new AsyncFunction('t', 'arg', src)(t, arg));
