// Small helpers the demo pages share (web/voice.js, web/live.js): element
// lookup, the status and error lines, event handlers that show their
// errors, labelled buttons, and the join form's flow in and out.
import { Chorus } from './chorus.js';

export const $ = (id) => document.getElementById(id);

export function setStatus(text) {
  $('status').textContent = text;
}

/** Shows a ChorusError (code + message) or any other error. */
export function showError(err) {
  console.error(err);
  const code = err && err.code !== undefined ? `Error ${err.code}: ` : 'Error: ';
  $('error').textContent = `${code}${err && err.message ? err.message : err}`;
}

export function clearError() {
  $('error').textContent = '';
}

/** Wraps an event handler: clears the previous error, shows a new one. */
export const guard = (fn) => async (ev) => {
  if (ev) ev.preventDefault();
  clearError();
  try {
    await fn(ev);
  } catch (err) {
    showError(err);
  }
};

/** A button with an accessible label whose click handler is guarded. */
export function button(text, label, onClick) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = text;
  b.setAttribute('aria-label', label);
  b.addEventListener('click', guard(onClick));
  return b;
}

/**
 * The join form's flow (elements room, identity, role, token, join, notice,
 * joinform, roomview, roomtitle): connects, creates the room in dev mode
 * (no token) when it is missing and calls @created(room), joins, lets
 * @entered(me) set the page's state up, shows the room view, lets
 * @shown(me) render it, and subscribes to everything. @end(message) is
 * called when the connection closes while in the room. On failure the form
 * comes back, the connection is closed and the error is thrown.
 */
export async function joinFromForm(state, { kind, options, created, entered, shown, end }) {
  const room = $('room').value.trim();
  const identity = $('identity').value.trim();
  const role = $('role').value;
  const token = $('token').value.trim() || undefined;
  $('join').disabled = true;
  $('notice').hidden = true;
  setStatus('connecting...');
  try {
    const client = await Chorus.connect('/ws', { token });
    state.client = client;
    client.on('close', (ev) => {
      if (state.me) end(`Connection closed (${ev.code}).`);
    });
    if (!token) {
      try {
        await client.createRoom(room, options ? { kind, options } : { kind });
        created(room);
      } catch (err) {
        if (err.code !== -32009) throw err; // -32009: it exists already
      }
    }
    const me = await client.join(room, token ? {} : { identity, role });
    state.me = me;
    state.ending = false;
    entered(me);
    $('joinform').hidden = true;
    $('roomview').hidden = false;
    $('roomtitle').textContent = `Room ${me.room}`;
    setStatus(`in ${me.room} as ${me.identity} (${me.role})`);
    shown(me);
    await me.subscribe('all');
  } catch (err) {
    $('join').disabled = false;
    setStatus('not in a room');
    if (state.client) await state.client.close();
    state.client = null;
    state.me = null;
    throw err;
  }
}

/**
 * Back to the join form, once (state.ending): closes the session and the
 * connection (state.me, state.client), then lets @cleanup(state) clear the
 * page's own state and elements (after the close, whose track.removed
 * events still find them), and shows @message (if any) in the notice.
 */
export function endSession(state, message, cleanup) {
  if (state.ending) return;
  state.ending = true;
  const { me, client } = state;
  state.me = null;
  state.client = null;
  if (me) me.close();
  if (client) client.close();
  cleanup(state);
  $('roomview').hidden = true;
  $('joinform').hidden = false;
  $('join').disabled = false;
  setStatus('not in a room');
  if (message) {
    $('notice').textContent = message;
    $('notice').hidden = false;
  }
}
