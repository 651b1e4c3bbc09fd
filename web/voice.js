// Voice room page (web/voice.html): seats, raised hands, host moderation.
// A participant with a seat publishes its microphone; everyone subscribes
// to "all" and plays every remote audio track it receives. Who is speaking
// comes from `speakers` notifications, not from tracks: listeners receive
// the loudest speakers on a few audio slots whose speaker changes without
// renegotiation, so a track says nothing reliable about its speaker.
import { $, button, endSession, guard, joinFromForm, showError } from './page.js';


/** A level above this lights the seat's speaking ring. */
const SPEAKING_LEVEL = 0.02;

const state = {
  client: null,
  me: null,
  /** Our own voice fields, updated from participant.updated about us. */
  self: { seat: null, hand_raised: false, muted: false },
  seatCount: 8,
  /** participant id -> speaking level 0..1 from the latest `speakers`. */
  levels: new Map(),
  /** participant id -> true when it muted its own audio track (track.updated). */
  selfMuted: new Map(),
  mic: null, // {stream, entries} while our microphone is published
  micChain: Promise.resolve(),
  invite: null, // {seat, by} from voice.invited
  /** participant id -> identity, kept after they leave (for the activity log). */
  names: new Map(),
  ending: false,
};

// Exposed for debugging in the console (and for the browser tests).
window.chorusPage = {
  get client() { return state.client; },
  get me() { return state.me; },
  get state() { return state; },
};




function log(text) {
  const line = document.createElement('div');
  line.textContent = `${new Date().toLocaleTimeString()}  ${text}`;
  $('log').appendChild(line);
  $('log').scrollTop = $('log').scrollHeight;
}

function nameOf(id) {
  const me = state.me;
  if (me && id === me.id) return `${me.identity} (you)`;
  const p = me && me.participants.get(id);
  return p ? p.identity : state.names.get(id) || id;
}

/** Everyone in the room, us first, with their voice fields. */
function everyone() {
  const me = state.me;
  if (!me) return [];
  return [
    { participant: me.id, identity: me.identity, role: me.role, ...state.self, isMe: true },
    ...me.participants.values(),
  ];
}

const isHost = () => state.me && state.me.role === 'host';
const isMuted = (p) => !!p.muted || !!state.selfMuted.get(p.participant);

function initials(identity) {
  const parts = String(identity).split(/[\s._-]+/).filter(Boolean);
  return (parts.length > 1 ? parts[0][0] + parts[1][0] : String(identity).slice(0, 2)).toUpperCase();
}

function badge(text, cls) {
  const b = document.createElement('span');
  b.className = `badge ${cls}`;
  b.textContent = text;
  return b;
}


// --- rendering ---

function renderSeats() {
  const bySeat = new Map();
  for (const p of everyone()) if (p.seat !== null && p.seat !== undefined) bySeat.set(p.seat, p);
  // The room's seat count is not in the join result: grow the grid if
  // someone sits beyond what we assumed.
  const count = Math.max(state.seatCount, ...[...bySeat.keys()].map((s) => s + 1));
  const canSit = state.self.seat === null;
  const items = [];
  for (let i = 0; i < count; i++) {
    const p = bySeat.get(i);
    const li = document.createElement('li');
    li.className = 'seat';
    li.dataset.seat = String(i);
    const avatar = document.createElement('div');
    avatar.className = 'avatar';
    avatar.setAttribute('aria-hidden', 'true');
    const name = document.createElement('div');
    name.className = 'name';
    const num = document.createElement('div');
    num.className = 'num';
    num.textContent = `seat ${i + 1}`;
    li.append(avatar, name, num);
    if (p) {
      li.dataset.participant = p.participant;
      if (p.isMe) li.classList.add('me');
      avatar.textContent = initials(p.identity);
      name.textContent = p.isMe ? `${p.identity} (you)` : p.identity;
      if (p.role === 'host') li.append(badge('host', 'host'));
      if (isMuted(p)) li.append(badge('muted', 'muted'));
      li.setAttribute('aria-label', `Seat ${i + 1}: ${p.identity}${isMuted(p) ? ', muted' : ''}`);
    } else {
      li.classList.add('empty');
      name.textContent = 'empty';
      li.setAttribute('aria-label', `Seat ${i + 1}: empty`);
      if (canSit) li.append(button('Sit here', `Take seat ${i + 1}`, () => takeSeat(i)));
    }
    items.push(li);
  }
  $('seats').replaceChildren(...items);
  renderLevels();
}

/** Updates only the speaking rings (called up to 5 times a second). */
function renderLevels() {
  for (const li of $('seats').children) {
    const id = li.dataset.participant;
    const level = id ? state.levels.get(id) || 0 : 0;
    const speaking = level > SPEAKING_LEVEL;
    li.classList.toggle('speaking', speaking);
    li.querySelector('.avatar').style.setProperty('--level', level.toFixed(2));
    if (speaking) li.dataset.level = level.toFixed(2);
    else delete li.dataset.level;
  }
}

function renderHands() {
  const raised = everyone().filter((p) => p.hand_raised);
  const items = raised.map((p) => {
    const li = document.createElement('li');
    li.dataset.participant = p.participant;
    li.append(p.isMe ? `${p.identity} (you)` : p.identity, ' ');
    if (isHost() && !p.isMe && p.seat === null) {
      li.append(button('Invite to seat', `Invite ${p.identity} to a seat`, () => invite(p)));
    }
    return li;
  });
  $('hands').replaceChildren(...items);
  $('nohands').hidden = raised.length > 0;
}

function renderPeople() {
  const all = everyone();
  const items = all.map((p) => {
    const li = document.createElement('li');
    li.dataset.participant = p.participant;
    if (p.isMe) li.className = 'me';
    const label = document.createElement('span');
    label.className = 'who';
    label.textContent = `${p.isMe ? `${p.identity} (you)` : p.identity} - ${p.role}` +
      `${p.seat !== null && p.seat !== undefined ? `, seat ${p.seat + 1}` : ''}`;
    li.append(label);
    if (p.hand_raised) li.append(' ', badge('hand raised', 'hand'));
    if (isMuted(p)) li.append(' ', badge('muted', 'muted'));
    if (isHost() && !p.isMe) {
      li.append(' ');
      if (p.seat === null || p.seat === undefined) {
        li.append(button('Invite to seat', `Invite ${p.identity} to a seat`, () => invite(p)));
      }
      li.append(p.muted
        ? button('Unmute', `Unmute ${p.identity}`, () => setMuted(p, false))
        : button('Mute', `Mute ${p.identity}`, () => setMuted(p, true)));
      li.append(button('Kick', `Kick ${p.identity}`, () => kick(p)));
    }
    return li;
  });
  $('people').replaceChildren(...items);
  $('count').textContent = String(all.length);
}

function renderMe() {
  const seated = state.self.seat !== null;
  $('take').hidden = seated;
  $('leaveseat').hidden = !seated;
  $('hand').textContent = state.self.hand_raised ? 'Lower hand' : 'Raise hand';
  $('hand').setAttribute('aria-pressed', String(state.self.hand_raised));
  $('micmute').hidden = !state.mic;
  const micOff = state.mic && state.mic.entries.some((e) => e.mediaStreamTrack && !e.mediaStreamTrack.enabled);
  $('micmute').textContent = micOff ? 'Unmute my mic' : 'Mute my mic';
  $('micmute').setAttribute('aria-pressed', String(!!micOff));
  const bits = [`${state.me.role}`];
  bits.push(seated ? `seat ${state.self.seat + 1}` : 'no seat');
  if (state.mic) bits.push('microphone live');
  if (state.self.muted) bits.push('muted by a host');
  $('mystate').textContent = bits.join(' · ');
  $('mystate').dataset.seat = seated ? String(state.self.seat) : '';
}

function render() {
  if (!state.me) return;
  renderSeats();
  renderHands();
  renderPeople();
  renderMe();
}

// --- microphone ---

/** Publishes or unpublishes the microphone to match our seat (serialized). */
function syncMic() {
  state.micChain = state.micChain.then(async () => {
    const me = state.me;
    if (!me) return;
    const seated = state.self.seat !== null;
    if (seated && !state.mic) {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      try {
        const entries = await me.publish(stream);
        state.mic = { stream, entries };
        log('your microphone is live');
      } catch (err) {
        stream.getTracks().forEach((t) => t.stop());
        throw err;
      }
    } else if (!seated && state.mic) {
      const { stream, entries } = state.mic;
      state.mic = null;
      for (const e of entries) await me.unpublish(e);
      stream.getTracks().forEach((t) => t.stop());
      log('your microphone is off');
    }
  }).catch(showError).finally(render);
  return state.micChain;
}

function stopMic() {
  if (!state.mic) return;
  state.mic.stream.getTracks().forEach((t) => t.stop());
  state.mic = null;
}

// --- actions ---

async function takeSeat(seat) {
  const r = await state.me.call('voice.seat.take', seat === undefined ? {} : { seat });
  applySelf({ seat: r.seat, hand_raised: false });
  state.invite = null;
  $('invite').hidden = true;
}

async function invite(p) {
  await state.me.call('voice.invite', { target: p.participant });
  log(`you invited ${p.identity} to a seat`);
}

async function setMuted(p, muted) {
  await state.me.call('voice.mute', { target: p.participant, muted });
}

async function kick(p) {
  await state.me.call('voice.kick', { target: p.participant });
  log(`you removed ${p.identity} from the room`);
}

function applySelf(fields) {
  const before = state.self.seat;
  Object.assign(state.self, fields);
  render();
  if (before !== state.self.seat) syncMic();
}

// --- joining and leaving ---

function onTrack(entry) {
  if (entry.kind !== 'audio') return;
  const el = document.createElement('audio');
  el.autoplay = true;
  el.dataset.mid = entry.mid;
  el.srcObject = entry.stream;
  $('audio').appendChild(el);
  $('audiocount').textContent = String($('audio').children.length);
}

function onTrackRemoved(entry) {
  const el = $('audio').querySelector(`audio[data-mid="${CSS.escape(entry.mid)}"]`);
  if (el) {
    el.srcObject = null;
    el.remove();
  }
  $('audiocount').textContent = String($('audio').children.length);
}

function onUpdated(p) {
  if (p.participant === state.me.id) {
    const wasMuted = state.self.muted;
    const fields = {};
    for (const k of ['seat', 'hand_raised', 'muted']) if (k in p) fields[k] = p[k];
    if (fields.muted !== undefined && fields.muted !== wasMuted) {
      log(fields.muted ? 'a host muted you' : 'a host unmuted you');
    }
    applySelf(fields);
    return;
  }
  const name = nameOf(p.participant);
  if (p.hand_raised) log(`${name} raised a hand`);
  render();
}

function attach(me) {
  for (const p of me.participants.values()) state.names.set(p.participant, p.identity);
  me.on('participant.joined', (p) => {
    state.names.set(p.participant, p.identity);
    log(`${p.identity} joined as ${p.role}`);
    render();
  });
  me.on('participant.left', (p) => {
    if (p.participant === me.id) {
      end(p.reason === 'kicked' ? 'You were removed from the room by a host (kicked).' : `You left the room (${p.reason}).`);
      return;
    }
    log(`${nameOf(p.participant)} left (${p.reason})`);
    state.levels.delete(p.participant);
    state.selfMuted.delete(p.participant);
    render();
  });
  me.on('participant.updated', onUpdated);
  me.on('voice.invited', (n) => {
    state.invite = { seat: n.seat, by: n.by };
    const where = n.seat === null || n.seat === undefined ? 'a seat' : `seat ${n.seat + 1}`;
    $('invitetext').textContent = `${nameOf(n.by)} invited you to ${where}.`;
    $('invite').hidden = false;
    log(`${nameOf(n.by)} invited you to ${where}`);
  });
  me.on('speakers', (n) => {
    state.levels = new Map((n.speakers || []).map((s) => [s.participant, Number(s.level) || 0]));
    renderLevels();
  });
  me.on('track.updated', (n) => {
    const t = me.tracks.get(n.track);
    if (t && t.kind === 'audio') {
      state.selfMuted.set(n.participant, !!n.muted);
      render();
    }
  });
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
  state.seatCount = Math.min(100, Math.max(1, Number($('seats-count').value) || 8));
  return joinFromForm(state, {
    kind: 'voice',
    options: { seats: state.seatCount },
    created: (room) => log(`created voice room ${room} with ${state.seatCount} seats`),
    entered: (me) => {
      state.self = { seat: null, hand_raised: false, muted: false };
      attach(me);
    },
    shown: (me) => {
      log(`you joined ${me.room} as ${me.role}`);
      render();
    },
    end,
  });
}

/** Back to the join form; @message (if any) says why. */
function end(message) {
  endSession(state, message, () => {
    stopMic();
    $('audio').replaceChildren();
    $('audiocount').textContent = '0';
    $('invite').hidden = true;
    state.levels.clear();
    state.selfMuted.clear();
    state.names.clear();
  });
}

// --- wiring ---

const params = new URLSearchParams(location.search);
$('host').textContent = location.host;
for (const key of ['room', 'identity', 'role', 'token']) {
  if (params.has(key)) $(key).value = params.get(key);
}
if (params.has('seats')) $('seats-count').value = params.get('seats');
if (!$('identity').value) $('identity').value = `guest-${Math.random().toString(36).slice(2, 6)}`;

$('joinform').addEventListener('submit', guard(join));
$('take').addEventListener('click', guard(() => takeSeat(state.invite ? state.invite.seat ?? undefined : undefined)));
$('accept').addEventListener('click', guard(() => takeSeat(state.invite ? state.invite.seat ?? undefined : undefined)));
$('decline').addEventListener('click', () => {
  state.invite = null;
  $('invite').hidden = true;
});
$('leaveseat').addEventListener('click', guard(async () => {
  await state.me.call('voice.seat.leave');
  applySelf({ seat: null });
}));
$('hand').addEventListener('click', guard(async () => {
  const raise = !state.self.hand_raised;
  await state.me.call(raise ? 'voice.hand.raise' : 'voice.hand.lower');
  applySelf({ hand_raised: raise });
}));
$('micmute').addEventListener('click', guard(async () => {
  if (!state.mic) return;
  const off = state.mic.entries.some((e) => e.mediaStreamTrack && e.mediaStreamTrack.enabled);
  for (const e of state.mic.entries) await state.me.muteTrack(e, off);
  state.selfMuted.set(state.me.id, off);
  render();
}));
// leave() tears the session down, whose 'closed' event ends the view.
$('leave').addEventListener('click', guard(() => state.me.leave()));
