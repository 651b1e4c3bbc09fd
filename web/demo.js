// Demo page logic (web/index.html): one connection, one participant, chat,
// publish camera+mic, subscribe to everything.
import { Chorus } from './chorus.js';

const $ = (id) => document.getElementById(id);
const ROLES = { voice: ['listener', 'speaker', 'host'], live: ['audience', 'cohost', 'host'] };

let client = null;
let me = null;

function status(text, cls = 'ok') {
  $('status').textContent = text;
  $('status').className = cls;
}

function fail(err) {
  console.error(err);
  status(err.code !== undefined ? `${err.message} (${err.code})` : String(err.message || err), 'err');
}

/** Wraps a click handler: errors go to the status line. */
const guard = (fn) => async (ev) => {
  ev.preventDefault();
  try {
    await fn();
  } catch (err) {
    fail(err);
  }
};

function chat(text, sys = false) {
  const line = document.createElement('div');
  line.textContent = text;
  if (sys) line.className = 'sys';
  $('chat').appendChild(line);
  $('chat').scrollTop = $('chat').scrollHeight;
}

function nameOf(id) {
  if (me && id === me.id) return `${me.identity} (you)`;
  const p = me && me.participants.get(id);
  return p ? p.identity : id;
}

function renderParticipants() {
  const ul = $('participants');
  ul.replaceChildren();
  if (!me) return;
  const rows = [{ participant: me.id, identity: me.identity, role: me.role, me: true }, ...me.participants.values()];
  for (const p of rows) {
    const li = document.createElement('li');
    li.textContent = `${p.identity} - ${p.role}${p.seat != null ? `, seat ${p.seat}` : ''}` +
      `${p.hand_raised ? ' (hand raised)' : ''}${p.me ? ' (you)' : ''}`;
    if (p.me) li.className = 'me';
    ul.appendChild(li);
  }
}

function setJoined(joined) {
  for (const id of ['leave', 'message', 'send', 'publish', 'subscribe']) $(id).disabled = !joined;
  $('join').disabled = joined || !client;
}

function renderRoles() {
  $('role').replaceChildren(...ROLES[$('kind').value].map((r) => new Option(r)));
}

function addMedia(entry) {
  const fig = document.createElement('figure');
  fig.dataset.mid = entry.mid;
  const el = document.createElement(entry.kind === 'video' ? 'video' : 'audio');
  el.autoplay = true;
  el.playsInline = true;
  el.srcObject = entry.stream;
  if (entry.kind === 'audio') el.hidden = true;
  const cap = document.createElement('figcaption');
  cap.textContent = `${nameOf(entry.participant)} ${entry.kind}`;
  fig.append(el, cap);
  if (entry.kind === 'audio') cap.hidden = true;
  $('media').appendChild(fig);
}

function removeMedia(entry) {
  const fig = $('media').querySelector(`figure[data-mid="${CSS.escape(entry.mid)}"]`);
  if (fig) fig.remove();
}

$('host').textContent = location.host;
$('identity').value = `guest-${Math.random().toString(36).slice(2, 6)}`;
renderRoles();
$('kind').addEventListener('change', renderRoles);

$('connect').addEventListener('click', guard(async () => {
  if (client) {
    await client.close();
    return;
  }
  status('connecting...');
  client = await Chorus.connect('/ws');
  client.on('close', (ev) => {
    status(`disconnected (${ev.code})`, 'err');
    client = null;
    me = null;
    $('connect').textContent = 'Connect';
    for (const id of ['create', 'rooms']) $(id).disabled = true;
    setJoined(false);
    renderParticipants();
  });
  $('connect').textContent = 'Disconnect';
  for (const id of ['create', 'rooms']) $(id).disabled = false;
  setJoined(false);
  status('connected');
}));

$('create').addEventListener('click', guard(async () => {
  const r = await client.createRoom($('room').value, { kind: $('kind').value });
  status(`created ${r.kind} room ${r.room}`);
}));

$('rooms').addEventListener('click', guard(async () => {
  const rooms = await client.listRooms();
  $('roomlist').textContent = rooms.length
    ? rooms.map((r) => `${r.room} (${r.kind}, ${r.participants})`).join(', ')
    : 'no rooms';
}));

$('join').addEventListener('click', guard(async () => {
  me = await client.join($('room').value, { identity: $('identity').value, role: $('role').value });
  for (const ev of ['participant.joined', 'participant.left', 'participant.updated']) me.on(ev, renderParticipants);
  me.on('participant.joined', (p) => chat(`${p.identity} joined`, true));
  me.on('participant.left', (p) => chat(`${nameOf(p.participant)} left (${p.reason})`, true));
  me.on('message', (m) => chat(`${nameOf(m.from)}: ${typeof m.data === 'object' ? m.data.text : m.data}`));
  me.on('track', addMedia);
  me.on('track.removed', removeMedia);
  me.on('error', fail);
  me.on('closed', ({ reason }) => {
    chat(`you left the room (${reason})`, true);
    me = null;
    $('media').replaceChildren();
    setJoined(false);
    renderParticipants();
  });
  renderParticipants();
  setJoined(true);
  chat(`joined ${me.room} as ${me.role}`, true);
  status(`in ${me.room}`);
}));

$('leave').addEventListener('click', guard(() => me.leave()));

$('chatform').addEventListener('submit', guard(async () => {
  const text = $('message').value.trim();
  if (!text) return;
  await me.sendMessage({ text });
  chat(`${me.identity} (you): ${text}`);
  $('message').value = '';
}));

$('publish').addEventListener('click', guard(async () => {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 480 } });
  const tracks = await me.publish(stream, { simulcast: $('simulcast').checked });
  const fig = document.createElement('figure');
  const video = document.createElement('video');
  video.autoplay = true;
  video.muted = true;
  video.playsInline = true;
  video.srcObject = stream;
  const cap = document.createElement('figcaption');
  cap.textContent = `you (${tracks.map((t) => t.kind).join(' + ')})`;
  fig.append(video, cap);
  $('media').prepend(fig);
  $('publish').disabled = true;
}));

$('subscribe').addEventListener('click', guard(async () => {
  await me.subscribe('all');
  $('subscribe').disabled = true;
  status('subscribed to all tracks');
}));
