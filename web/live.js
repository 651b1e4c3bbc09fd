// Live co-streaming page (web/live.html). Hosts and co-hosts get a studio
// (camera preview, go live with simulcast, PK with another room for hosts);
// everyone sees the stage (every remote video and audio it receives: the
// room's hosts and co-hosts and, during a PK, the other room's host), the
// viewer count, chat and gifts. Hosts promote and demote.
import { ChorusError } from './chorus.js';
import { $, button, endSession, guard, joinFromForm, showError } from './page.js';


const GIFTS = { rose: '🌹', heart: '💖', rocket: '🚀' };
const PUBLISHING_ROLES = ['host', 'cohost'];

const state = {
  client: null,
  me: null,
  preview: null, // MediaStream from the camera while the studio is open
  live: null, // published entries while live
  liveChain: Promise.resolve(),
  viewers: 0,
  pk: null, // peer room name while a PK runs
  /** participant id -> identity, kept after they leave (for chat history). */
  names: new Map(),
  /** participant id -> {fig, video, caption} stage tile. */
  tiles: new Map(),
  ending: false,
};

// Exposed for debugging in the console (and for the browser tests).
window.chorusPage = {
  get client() { return state.client; },
  get me() { return state.me; },
  get state() { return state; },
};



function chat(text, cls = '') {
  const line = document.createElement('div');
  line.textContent = text;
  if (cls) line.className = cls;
  $('chat').appendChild(line);
  $('chat').scrollTop = $('chat').scrollHeight;
}

function nameOf(id) {
  const me = state.me;
  if (me && id === me.id) return 'you';
  const p = me && me.participants.get(id);
  return p ? p.identity : state.names.get(id) || id;
}

const isHost = () => state.me && state.me.role === 'host';
const publishes = () => state.me && PUBLISHING_ROLES.includes(state.me.role);


// --- rendering ---

/** A stage tile's caption: who, or which PK room for the other room's host. */
function tileLabel(participant) {
  const p = state.me && state.me.participants.get(participant);
  if (p) return `${p.identity} (${p.role === 'cohost' ? 'co-host' : p.role})`;
  if (state.pk) return `host of ${state.pk} (PK)`;
  return participant;
}

function renderStage() {
  for (const [participant, tile] of state.tiles) {
    const own = state.me && state.me.participants.has(participant);
    tile.fig.classList.toggle('pk', !own);
    tile.caption.textContent = tileLabel(participant);
    tile.video.setAttribute('aria-label', `Video of ${tile.caption.textContent}`);
  }
  $('nostage').hidden = state.tiles.size > 0;
  $('nostage').textContent = publishes() ? 'Nobody else is on stage.' : 'Nobody is live yet.';
}

function renderPeople() {
  const me = state.me;
  const all = [{ participant: me.id, identity: me.identity, role: me.role, isMe: true }, ...me.participants.values()];
  const items = all.map((p) => {
    const li = document.createElement('li');
    li.dataset.participant = p.participant;
    if (p.isMe) li.className = 'me';
    const who = document.createElement('span');
    who.className = 'who';
    who.textContent = `${p.identity}${p.isMe ? ' (you)' : ''} - ${p.role === 'cohost' ? 'co-host' : p.role}`;
    li.append(who);
    if (isHost() && !p.isMe) {
      li.append(' ');
      if (p.role === 'audience') li.append(button('Promote', `Make ${p.identity} a co-host`, () => promote(p, true)));
      if (p.role === 'cohost') li.append(button('Demote', `Move ${p.identity} to the audience`, () => promote(p, false)));
    }
    return li;
  });
  $('people').replaceChildren(...items);
  $('count').textContent = String(all.length);
}

function renderHeader() {
  $('viewers').textContent = String(state.viewers);
  $('pkstate').hidden = !state.pk;
  $('pkstate').textContent = state.pk ? `PK with ${state.pk}` : '';
  $('pkstate').classList.toggle('on', !!state.pk);
  $('pkstop').disabled = !state.pk;
  $('pkstart').disabled = !!state.pk;
}

function renderStudio() {
  const open = publishes();
  $('studio').hidden = !open;
  $('pk').hidden = !isHost();
  $('golive').hidden = !!state.live;
  $('endlive').hidden = !state.live;
  $('golive').disabled = !state.preview;
  const layers = state.live ? Math.max(1, ...state.live.map((e) => (e.simulcast || []).length)) : 0;
  $('livestate').textContent = state.live ? `LIVE${layers > 1 ? ` (simulcast, ${layers} layers)` : ''}` : 'not live';
  $('livestate').classList.toggle('live-dot', !!state.live);
  // Gifts are for the audience; hosts receive them.
  $('gifts').hidden = open;
}

function render() {
  if (!state.me) return;
  renderHeader();
  renderStudio();
  renderPeople();
  renderStage();
}

// --- stage media ---

function tileFor(participant) {
  let tile = state.tiles.get(participant);
  if (tile) return tile;
  const fig = document.createElement('figure');
  fig.className = 'tile';
  fig.dataset.participant = participant;
  const video = document.createElement('video');
  video.autoplay = true;
  video.muted = true; // sound goes through the tile's <audio> elements
  video.playsInline = true;
  const caption = document.createElement('figcaption');
  fig.append(video, caption);
  $('stage').appendChild(fig);
  tile = { fig, video, caption };
  state.tiles.set(participant, tile);
  return tile;
}

function onTrack(entry) {
  const tile = tileFor(entry.participant);
  if (entry.kind === 'video') {
    tile.video.srcObject = entry.stream;
    tile.video.dataset.mid = entry.mid;
  } else {
    const audio = document.createElement('audio');
    audio.autoplay = true;
    audio.dataset.mid = entry.mid;
    audio.srcObject = entry.stream;
    tile.fig.appendChild(audio);
  }
  renderStage();
}

function onTrackRemoved(entry) {
  const tile = state.tiles.get(entry.participant);
  if (!tile) return;
  if (entry.kind === 'video' && tile.video.dataset.mid === entry.mid) {
    tile.video.srcObject = null;
    delete tile.video.dataset.mid;
  }
  const audio = tile.fig.querySelector(`audio[data-mid="${CSS.escape(entry.mid)}"]`);
  if (audio) {
    audio.srcObject = null;
    audio.remove();
  }
  if (!tile.video.dataset.mid && !tile.fig.querySelector('audio')) {
    tile.fig.remove();
    state.tiles.delete(entry.participant);
  }
  renderStage();
}

// --- studio ---

/** Opens or closes the studio to match our role: preview, and live only while allowed. */
function syncStudio() {
  return queue(async () => {
    if (!state.me) return;
    if (publishes() && !state.preview) {
      state.preview = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 480 } });
      $('preview').srcObject = state.preview;
    } else if (!publishes() && state.preview) {
      await stopLive();
      stopPreview();
    }
  }).catch(showError);
}

/** Runs fn after the studio's earlier steps (preview, go live, end live); re-renders after. */
function queue(fn) {
  const run = state.liveChain.then(fn).finally(render);
  state.liveChain = run.catch(() => {});
  return run;
}

function stopPreview() {
  if (!state.preview) return;
  state.preview.getTracks().forEach((t) => t.stop());
  state.preview = null;
  $('preview').srcObject = null;
}

/** Publishes the preview; simulcast when asked and the browser takes it. */
async function goLive() {
  const me = state.me;
  const simulcast = $('simulcast').checked;
  let entries;
  try {
    entries = await me.publish(state.preview, { simulcast });
  } catch (err) {
    // A browser that refuses three encodings fails before the server is
    // asked (no ChorusError): publish plainly instead.
    if (!simulcast || err instanceof ChorusError) throw err;
    console.warn('live: simulcast refused by the browser, publishing one encoding', err);
    entries = await me.publish(state.preview, { simulcast: false });
  }
  state.live = entries;
  chat('you are live', 'sys');
}

async function stopLive() {
  const entries = state.live;
  if (!entries) return;
  state.live = null;
  for (const e of entries) {
    try {
      await state.me.unpublish(e);
    } catch (err) {
      // Already gone server-side (e.g. after a demotion): nothing to undo.
      if (err.code !== -32004) throw err;
    }
  }
  chat('you are no longer live', 'sys');
}

async function promote(p, up) {
  await state.me.call(up ? 'live.promote' : 'live.demote', { target: p.participant });
}

// --- joining and leaving ---

function renderMessage(m) {
  const from = nameOf(m.from);
  const data = m.data;
  if (data && typeof data === 'object' && data.type === 'gift') {
    const emoji = GIFTS[data.gift] || '🎁';
    chat(`${from} sent a gift: ${emoji} ${data.gift}`, 'gift');
  } else if (data && typeof data === 'object' && typeof data.text === 'string') {
    chat(`${from}: ${data.text}`);
  } else {
    chat(`${from}: ${JSON.stringify(data)}`);
  }
}

function attach(me) {
  for (const p of me.participants.values()) state.names.set(p.participant, p.identity);
  me.on('participant.joined', (p) => {
    state.names.set(p.participant, p.identity);
    chat(`${p.identity} joined (${p.role})`, 'sys');
    render();
  });
  me.on('participant.left', (p) => {
    if (p.participant === me.id) {
      end(p.reason === 'kicked' ? 'You were removed from the room (kicked).' : `You left the room (${p.reason}).`);
      return;
    }
    chat(`${nameOf(p.participant)} left`, 'sys');
    render();
  });
  me.on('participant.updated', (p) => {
    const role = p.role === 'cohost' ? 'a co-host' : p.role;
    if (p.participant === me.id) {
      chat(`you are now ${role}`, 'sys');
      syncStudio();
    } else {
      chat(`${nameOf(p.participant)} is now ${role}`, 'sys');
    }
    render();
  });
  me.on('live.viewers', (n) => {
    state.viewers = n.count;
    renderHeader();
  });
  me.on('live.pk', (n) => {
    state.pk = n.state === 'started' ? n.peer_room : null;
    chat(n.state === 'started' ? `PK with ${n.peer_room} started` : `PK with ${n.peer_room} ended`, 'sys');
    render();
  });
  me.on('message', renderMessage);
  me.on('track', onTrack);
  me.on('track.removed', onTrackRemoved);
  me.on('error', showError);
  me.on('closed', ({ reason }) => {
    const why = { room_closed: 'The room was closed.', left: 'You left the room.' };
    end(why[reason] || null);
  });
}

/** Connects, creates the room in dev mode when missing, joins, subscribes. */
function join() {
  return joinFromForm(state, {
    kind: 'live',
    created: (room) => chat(`created live room ${room}`, 'sys'),
    entered: (me) => {
      state.pk = null;
      // Until the first live.viewers: the audience we were told about.
      state.viewers = [...me.participants.values()].filter((p) => p.role === 'audience').length +
        (me.role === 'audience' ? 1 : 0);
      attach(me);
    },
    shown: (me) => {
      chat(`you joined ${me.room} as ${me.role}`, 'sys');
      render();
      syncStudio();
    },
    end,
  });
}

/** Back to the join form; @message (if any) says why. */
function end(message) {
  endSession(state, message, () => {
    state.live = null;
    stopPreview();
    for (const tile of state.tiles.values()) tile.fig.remove();
    state.tiles.clear();
    state.names.clear();
    state.pk = null;
  });
}

// --- wiring ---

const params = new URLSearchParams(location.search);
$('host').textContent = location.host;
for (const key of ['room', 'identity', 'role', 'token']) {
  if (params.has(key)) $(key).value = params.get(key);
}
if (!$('identity').value) $('identity').value = `guest-${Math.random().toString(36).slice(2, 6)}`;

$('joinform').addEventListener('submit', guard(join));
$('leave').addEventListener('click', guard(() => state.me.leave()));
$('golive').addEventListener('click', guard(() => queue(goLive)));
$('endlive').addEventListener('click', guard(() => queue(stopLive)));
$('pkstart').addEventListener('click', guard(async () => {
  const other = $('pkroom').value.trim();
  await state.me.call('live.pk.start', { room: other });
}));
$('pkstop').addEventListener('click', guard(() => state.me.call('live.pk.stop')));
$('chatform').addEventListener('submit', guard(async () => {
  const text = $('message').value.trim();
  if (!text) return;
  await state.me.sendMessage({ type: 'chat', text });
  chat(`you: ${text}`);
  $('message').value = '';
}));
for (const b of $('gifts').querySelectorAll('button[data-gift]')) {
  b.addEventListener('click', guard(async () => {
    await state.me.sendMessage({ type: 'gift', gift: b.dataset.gift });
    chat(`you sent a gift: ${GIFTS[b.dataset.gift]} ${b.dataset.gift}`, 'gift');
  }));
}
