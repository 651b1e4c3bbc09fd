/**
 * chorus.js: browser client for the Chorus SFU, signaling protocol v1
 * (JSON-RPC 2.0 over WebSocket, subprotocol "chorus.v1"). An ES module with
 * no dependencies and no build step.
 *
 *   import { Chorus } from '/chorus.js';
 *   const client = await Chorus.connect('/ws', { token });
 *   const me = await client.join('lobby', { identity: 'alice' });
 *   me.on('participant.joined', (p) => console.log(p.identity));
 *   await me.publish(await navigator.mediaDevices.getUserMedia({ audio: true, video: true }));
 *   me.on('track', ({ mediaStreamTrack, participant }) => attach(mediaStreamTrack, participant));
 *   await me.subscribe('all');
 *
 * One client (WebSocket) may hold several Participant sessions (an admin
 * token proxying for many users); notifications are routed to sessions by
 * their `to` field.
 */

/** The WebSocket subprotocol Chorus speaks. */
export const PROTOCOL = 'chorus.v1';
/** Client-side error code: no response within the request timeout. */
export const ERR_TIMEOUT = -1;
/** Client-side error code: the connection closed before the response. */
export const ERR_CLOSED = -2;

/** Client-chosen rids; the server maps low/medium/high by resolution. */
const SIMULCAST_ENCODINGS = [
  { rid: 'q', scaleResolutionDownBy: 4 },
  { rid: 'h', scaleResolutionDownBy: 2 },
  { rid: 'f', scaleResolutionDownBy: 1 },
];

/** An error answered by the server (JSON-RPC `error`) or raised locally. */
export class ChorusError extends Error {
  /**
   * @param {number} code JSON-RPC code (-32001 unauthorized, -32004 not found, ...)
   *   or ERR_TIMEOUT / ERR_CLOSED for local failures.
   * @param {string} message Human sentence.
   * @param {*} [data] Details from the server (`error.data`), if any.
   */
  constructor(code, message, data) {
    super(message);
    this.name = 'ChorusError';
    this.code = code;
    this.data = data;
  }
}

/** Minimal event emitter; listener exceptions are logged, never propagated. */
class Emitter {
  constructor() {
    this._listeners = new Map();
  }

  /** Adds a listener. @param {string} event @param {Function} fn @returns {Function} that removes it. */
  on(event, fn) {
    if (!this._listeners.has(event)) this._listeners.set(event, new Set());
    this._listeners.get(event).add(fn);
    return () => this.off(event, fn);
  }

  /** Removes a listener added with on(). @param {string} event @param {Function} fn */
  off(event, fn) {
    const set = this._listeners.get(event);
    if (set) set.delete(fn);
  }

  /**
   * Resolves with the arguments of the next `event` whose first argument
   * satisfies `predicate`; rejects with ERR_TIMEOUT after `timeoutMs`.
   * @param {string} event Event name.
   * @param {(value: *) => boolean} [predicate]
   * @param {number} [timeoutMs=10000]
   * @returns {Promise<*>} The event's first argument.
   */
  wait(event, predicate = () => true, timeoutMs = 10000) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new ChorusError(ERR_TIMEOUT, `no "${event}" event within ${timeoutMs} ms`));
      }, timeoutMs);
      const off = this.on(event, (value) => {
        if (!predicate(value)) return;
        clearTimeout(timer);
        off();
        resolve(value);
      });
    });
  }

  _emit(event, ...args) {
    const set = this._listeners.get(event);
    if (!set) return;
    for (const fn of [...set]) {
      try {
        fn(...args);
      } catch (err) {
        console.error(`chorus: "${event}" listener threw`, err);
      }
    }
  }
}

/** Params without the keys whose value is undefined (JSON would drop them anyway). */
function compact(params) {
  const out = {};
  for (const [k, v] of Object.entries(params)) if (v !== undefined) out[k] = v;
  return out;
}

/** '/ws' or 'ws://host/ws' -> absolute ws(s) URL (relative ones use the page's host). */
function resolveUrl(url) {
  if (/^wss?:\/\//.test(url) || typeof location === 'undefined') return url;
  const base = new URL(url, location.href);
  base.protocol = base.protocol === 'https:' ? 'wss:' : 'ws:';
  return base.toString();
}

/** A track argument may be a Track object ({track: id, ...}) or an id. */
function trackId(track) {
  return typeof track === 'string' ? track : track && track.track;
}

/**
 * A connection to Chorus. Events: 'notification' (method, params) for every
 * notification, one event per notification method (params), and 'close'
 * ({code, reason}).
 */
export class Chorus extends Emitter {
  /**
   * Opens a WebSocket (subprotocol chorus.v1) and authenticates. A token
   * already in the URL (`?token=`) is used as is; otherwise `token` is sent
   * with an `auth` request. Without a token the server must be in dev mode.
   * @param {string} url 'ws://host:7070/ws', or a path such as '/ws' on the page's host.
   * @param {object} [opts]
   * @param {string} [opts.token] JWT access token.
   * @param {number} [opts.requestTimeoutMs=10000] Default timeout of each request.
   * @param {number} [opts.connectTimeoutMs=10000] Timeout of the WebSocket handshake.
   * @returns {Promise<Chorus>}
   */
  static async connect(url, opts = {}) {
    const client = new Chorus(url, opts);
    await client._open(opts.connectTimeoutMs ?? 10000);
    return client;
  }

  /** Use Chorus.connect(); the constructor does not connect. @param {string} url @param {object} [opts] */
  constructor(url, opts = {}) {
    super();
    this.url = resolveUrl(url);
    this.token = opts.token;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 10000;
    /** Identity and admin flag from the `auth` result (undefined in dev mode). */
    this.identity = undefined;
    this.admin = undefined;
    this._ws = null;
    this._nextId = 1;
    this._pending = new Map(); // id -> {resolve, reject, timer, method}
    this._sessions = new Map(); // participant id -> Participant
    this._closing = false;
  }

  async _open(timeoutMs) {
    const ws = new WebSocket(this.url, PROTOCOL);
    this._ws = ws;
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        ws.close();
        reject(new ChorusError(ERR_TIMEOUT, `connecting to ${this.url} timed out`));
      }, timeoutMs);
      ws.onopen = () => {
        clearTimeout(timer);
        resolve();
      };
      ws.onclose = (ev) => {
        clearTimeout(timer);
        reject(new ChorusError(ERR_CLOSED, `could not connect to ${this.url} (close ${ev.code})`));
      };
    });
    ws.onmessage = (ev) => this._onMessage(ev.data);
    ws.onclose = (ev) => this._onClose(ev.code, ev.reason);
    const tokenInUrl = new URL(this.url).searchParams.has('token');
    if (this.token && !tokenInUrl) {
      try {
        const r = await this.request('auth', { token: this.token });
        this.identity = r.identity;
        this.admin = r.admin;
      } catch (err) {
        ws.close();
        throw err;
      }
    }
  }

  /** True while the WebSocket is open. */
  get connected() {
    return this._ws !== null && this._ws.readyState === WebSocket.OPEN;
  }

  /** The Participant sessions this connection holds. */
  get sessions() {
    return [...this._sessions.values()];
  }

  /**
   * Sends a JSON-RPC request and resolves with its result.
   * @param {string} method
   * @param {object} [params={}]
   * @param {object} [opts]
   * @param {number} [opts.timeoutMs] Overrides the client's request timeout.
   * @returns {Promise<*>} The result; rejects with ChorusError.
   */
  request(method, params = {}, opts = {}) {
    if (!this.connected) {
      return Promise.reject(new ChorusError(ERR_CLOSED, `${method}: not connected`));
    }
    const id = this._nextId++;
    const timeoutMs = opts.timeoutMs ?? this.requestTimeoutMs;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this._pending.delete(id);
        reject(new ChorusError(ERR_TIMEOUT, `${method}: no response within ${timeoutMs} ms`));
      }, timeoutMs);
      this._pending.set(id, { resolve, reject, timer, method });
      this._ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params: compact(params) }));
    });
  }

  /** Sends a JSON-RPC notification (no id, no response). @param {string} method @param {object} [params] */
  notify(method, params = {}) {
    if (!this.connected) throw new ChorusError(ERR_CLOSED, `${method}: not connected`);
    this._ws.send(JSON.stringify({ jsonrpc: '2.0', method, params: compact(params) }));
  }

  /**
   * Closes with a close frame (its participants leave at once); resolves when closed.
   * @param {number} [code=1000] @param {string} [reason=''] @returns {Promise<void>}
   */
  close(code = 1000, reason = '') {
    if (!this._ws || this._ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    const done = new Promise((resolve) => this.on('close', () => resolve()));
    this._closing = true;
    this._ws.close(code, reason);
    return done;
  }

  /** Round trip to the server. @returns {Promise<{time_ms: number}>} */
  ping() {
    return this.request('ping', {});
  }

  /**
   * Creates a room (admin).
   * @param {string} room Name ([A-Za-z0-9_.-], up to 64 bytes).
   * @param {object} [opts]
   * @param {'voice'|'live'} [opts.kind='voice']
   * @param {number} [opts.maxParticipants]
   * @param {object} [opts.options] Kind options (voice: seats, audio_slots; live: max_publishers).
   * @returns {Promise<{room: string, kind: string}>}
   */
  createRoom(room, opts = {}) {
    return this.request('room.create', {
      room,
      kind: opts.kind ?? 'voice',
      max_participants: opts.maxParticipants,
      options: opts.options,
    });
  }

  /** Destroys a room (admin); its participants get room.closed. @param {string} room @returns {Promise<object>} */
  destroyRoom(room) {
    return this.request('room.destroy', { room });
  }

  /** Lists rooms (admin). @returns {Promise<Array<{room, kind, participants, publishers}>>} */
  async listRooms() {
    return (await this.request('room.list', {})).rooms;
  }

  /** Describes a room. @param {string} room @returns {Promise<{room, kind, participants, tracks}>} */
  roomInfo(room) {
    return this.request('room.info', { room });
  }

  /**
   * Joins a room. With an admin token (or dev mode) this may be called many
   * times on one connection, once per proxied user.
   * @param {string} room
   * @param {object} [opts]
   * @param {string} [opts.identity] Required for admins; taken from the token otherwise.
   * @param {string} [opts.role] voice: host|speaker|listener; live: host|cohost|audience.
   * @param {*} [opts.metadata] Any JSON value shown to the others.
   * @returns {Promise<Participant>}
   */
  async join(room, opts = {}) {
    const result = await this.request('join', {
      room,
      identity: opts.identity,
      role: opts.role,
      metadata: opts.metadata,
    });
    const session = new Participant(this, result, opts.identity ?? this.identity);
    this._sessions.set(session.id, session);
    return session;
  }

  /**
   * Takes back a participant after its connection was lost (within the
   * server's grace period). Passing the Participant object of the old
   * connection keeps its PeerConnections and listeners.
   * @param {Participant|string} participant The session, or its id.
   * @param {string} [resumeKey] Needed when an id is given.
   * @returns {Promise<Participant>}
   */
  async resume(participant, resumeKey) {
    const session = participant instanceof Participant ? participant : null;
    const id = session ? session.id : participant;
    const key = resumeKey ?? (session && session.resumeKey);
    const result = await this.request('resume', { participant: id, resume_key: key });
    if (session) {
      if (session._client !== this) session._client._sessions.delete(id);
      session._client = this;
      session._applyJoinResult(result);
      this._sessions.set(id, session);
      session._emit('resumed', result);
      return session;
    }
    const created = new Participant(this, result, undefined);
    this._sessions.set(created.id, created);
    return created;
  }

  _onMessage(text) {
    let msg;
    try {
      msg = JSON.parse(text);
    } catch (err) {
      console.error('chorus: unparsable frame from server', err);
      return;
    }
    if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) return;
    if (msg.method === undefined && msg.id !== undefined) {
      const pending = this._pending.get(msg.id);
      if (!pending) return; // timed out already
      this._pending.delete(msg.id);
      clearTimeout(pending.timer);
      if (msg.error) {
        const e = msg.error;
        pending.reject(new ChorusError(e.code, `${pending.method}: ${e.message}`, e.data));
      } else {
        pending.resolve(msg.result);
      }
      return;
    }
    if (typeof msg.method === 'string') this._onNotification(msg.method, msg.params || {});
  }

  _onNotification(method, params) {
    // Route first so sessions update their state before client listeners run.
    let to = params.to;
    if (to === undefined && (method === 'offer' || method === 'trickle')) to = params.participant;
    if (to !== undefined) {
      const session = this._sessions.get(to);
      if (session) session._onNotification(method, params);
    } else if (params.room !== undefined) {
      for (const s of [...this._sessions.values()]) {
        if (s.room === params.room) s._onNotification(method, params);
      }
    }
    this._emit('notification', method, params);
    this._emit(method, params);
  }

  _onClose(code, reason) {
    for (const [id, p] of this._pending) {
      clearTimeout(p.timer);
      p.reject(new ChorusError(ERR_CLOSED, `${p.method}: connection closed (${code})`));
      this._pending.delete(id);
    }
    // Closed by us with a close frame: the server made our participants
    // leave. Otherwise they wait for resume() during the grace period.
    for (const s of [...this._sessions.values()]) {
      if (this._closing) s._teardown('connection_closed');
      else s._emit('disconnected', { code, reason });
    }
    this._emit('close', { code, reason });
  }
}

/**
 * One participant in a room (the result of join/resume). Events: every
 * notification addressed to it by method name (params), plus
 *   'track'            remote media: {track, mid, participant, kind, mediaStreamTrack, stream, transceiver}
 *   'track.removed'    the same object, when the server stopped sending it
 *   'peerconnection'   {target: 'publisher'|'subscriber', pc}
 *   'connectionstatechange' {target, state}
 *   'closed'           {reason}: left, or the room closed
 *   'disconnected'     the connection was lost (resumable); 'resumed' after resume
 *   'error'            background failures (trickle, renegotiation)
 */
export class Participant extends Emitter {
  /** Made by Chorus.join()/resume(). @param {Chorus} client @param {object} joinResult @param {string} [identity] */
  constructor(client, joinResult, identity) {
    super();
    this._client = client;
    this.identity = identity;
    /** Other participants: id -> {participant, identity, role, metadata, ...}. */
    this.participants = new Map();
    /** Tracks of the room: id -> {track, participant, kind, muted, simulcast}. */
    this.tracks = new Map();
    /** Our published tracks: id -> {track, mid, kind, simulcast, mediaStreamTrack, transceiver}. */
    this.published = new Map();
    this._remote = new Map(); // subscriber mid -> remote track entry
    this._added = new Map(); // local MediaStreamTrack -> publisher transceiver
    this._chains = {};
    this._side = {
      publisher: { pc: null, canTrickle: false, remoteApplied: false, local: [], remote: [] },
      subscriber: { pc: null, canTrickle: false, remoteApplied: false, local: [], remote: [] },
    };
    this._closed = false;
    this._applyJoinResult(joinResult);
  }

  _applyJoinResult(r) {
    this.id = r.participant;
    this.room = r.room;
    this.role = r.role;
    /** The room's kind ('voice' | 'live'). */
    this.kind = r.kind;
    /** Our own participant entry (kind-specific fields such as `seat`). */
    this.self = r.self || { participant: r.participant, role: r.role };
    this.resumeKey = r.resume_key;
    this.iceServers = r.ice_servers || [];
    this.participants = new Map((r.participants || []).map((p) => [p.participant, p]));
    this.tracks = new Map((r.tracks || []).map((t) => [t.track, t]));
  }

  /** The connection (Chorus) this session uses. */
  get client() {
    return this._client;
  }

  /** The publisher RTCPeerConnection, or null before publish(). */
  get publisherPc() {
    return this._side.publisher.pc;
  }

  /** The subscriber RTCPeerConnection, or null before the first offer. */
  get subscriberPc() {
    return this._side.subscriber.pc;
  }

  /** Remote tracks currently received, as emitted in 'track' events. */
  get remoteTracks() {
    return [...this._remote.values()];
  }

  /**
   * Calls a method for this participant (adds `participant`): call('voice.seat.take', {seat: 2}).
   * @param {string} method @param {object} [params={}] @returns {Promise<*>} The result.
   */
  call(method, params = {}) {
    return this._client.request(method, { ...params, participant: this.id });
  }

  /** Leaves the room and closes this session's PeerConnections. @returns {Promise<void>} */
  async leave() {
    try {
      await this.call('leave');
    } finally {
      this._teardown('left');
    }
  }

  /**
   * Sends a room message (max 4 KiB of JSON, rate limited).
   * @param {*} data Any JSON value.
   * @param {object} [opts]
   * @param {string[]} [opts.to] Participant ids; everyone else in the room by default.
   * @returns {Promise<object>}
   */
  sendMessage(data, opts = {}) {
    return this.call('message.send', { data, to: opts.to });
  }

  /**
   * Publishes the tracks of `stream` not published yet (sendonly), on the
   * publisher PeerConnection: offer -> `publish` -> answer. Calling it again
   * adds tracks by renegotiating.
   * @param {MediaStream|MediaStreamTrack[]} stream
   * @param {object} [opts]
   * @param {boolean} [opts.simulcast=false] Video in three encodings q/h/f (1/4, 1/2, full).
   * @returns {Promise<Array<{track, mid, kind, simulcast, mediaStreamTrack, transceiver}>>}
   *   The tracks of the publish result.
   */
  publish(stream, opts = {}) {
    return this._serialize('publisher', () => this._publish(stream, !!opts.simulcast, false));
  }

  async _publish(stream, simulcast, iceRestart) {
    this._checkOpen();
    const side = this._side.publisher;
    const pc = side.pc || this._createPc('publisher');
    const firstOffer = pc.remoteDescription === null;
    const added = [];
    const tracks = !stream ? [] : Array.isArray(stream) ? stream : stream.getTracks();
    for (const track of tracks) {
      if (this._added.has(track)) continue;
      const init = { direction: 'sendonly' };
      if (!Array.isArray(stream)) init.streams = [stream];
      if (simulcast && track.kind === 'video') {
        init.sendEncodings = SIMULCAST_ENCODINGS.map((e) => ({ ...e }));
      }
      const transceiver = pc.addTransceiver(track, init);
      this._added.set(track, transceiver);
      added.push(track);
    }
    // Our candidates wait until `publish` is on the wire; early server
    // candidates wait until the answer is applied.
    side.canTrickle = false;
    side.remoteApplied = false;
    await pc.setLocalDescription(await pc.createOffer({ iceRestart }));
    const pending = this.call('publish', { sdp: pc.localDescription.sdp });
    this._flushLocal('publisher');
    let result;
    try {
      result = await pending;
      await pc.setRemoteDescription({ type: 'answer', sdp: result.sdp });
    } catch (err) {
      await this._undoPublish(pc, firstOffer, added);
      throw err;
    }
    side.remoteApplied = true;
    this._flushRemote('publisher');
    const out = [];
    for (const t of result.tracks || []) {
      const transceiver = pc.getTransceivers().find((x) => x.mid === t.mid);
      const entry = { ...t, mediaStreamTrack: transceiver ? transceiver.sender.track : null, transceiver };
      this.published.set(t.track, entry);
      out.push(entry);
    }
    return out;
  }

  async _undoPublish(pc, firstOffer, added) {
    for (const track of added) this._added.delete(track);
    if (firstOffer) {
      // Nothing negotiated yet: start from a fresh PeerConnection next time.
      pc.close();
      this._side.publisher = { pc: null, canTrickle: false, remoteApplied: false, local: [], remote: [] };
      return;
    }
    try {
      if (pc.signalingState === 'have-local-offer') await pc.setLocalDescription({ type: 'rollback' });
    } catch (err) {
      console.warn('chorus: publisher rollback failed', err);
    }
    // Unnegotiated transceivers, once stopped, are left out of later offers.
    for (const t of pc.getTransceivers()) if (t.mid === null && !t.stopped) t.stop();
    this._side.publisher.remoteApplied = true;
  }

  /**
   * Stops publishing a track: tells the server, then stops sending on its
   * transceiver (the m-line stays until the next publish renegotiates).
   * @param {string|object|MediaStreamTrack} track A track id, a published entry, or its MediaStreamTrack.
   * @returns {Promise<object>}
   */
  async unpublish(track) {
    const entry = this._findPublished(track);
    const id = entry ? entry.track : trackId(track);
    const result = await this.call('unpublish', { track: id });
    if (entry) {
      this.published.delete(entry.track);
      if (entry.mediaStreamTrack) this._added.delete(entry.mediaStreamTrack);
      if (entry.transceiver) await entry.transceiver.sender.replaceTrack(null);
    }
    return result;
  }

  /**
   * Mutes or unmutes one of our tracks; the local MediaStreamTrack is disabled too.
   * @param {string|object|MediaStreamTrack} track @param {boolean} muted @returns {Promise<object>}
   */
  muteTrack(track, muted) {
    const entry = this._findPublished(track);
    if (entry && entry.mediaStreamTrack) entry.mediaStreamTrack.enabled = !muted;
    return this.call('track.mute', { track: entry ? entry.track : trackId(track), muted: !!muted });
  }

  _findPublished(track) {
    for (const e of this.published.values()) {
      if (e.track === track || e.mediaStreamTrack === track || e === track) return e;
    }
    return this.published.get(trackId(track)) || null;
  }

  /**
   * Subscribes to tracks; the server then sends `offer`s that this session
   * answers on its subscriber PeerConnection, and 'track' events follow.
   * @param {'all'|Array<string|object>} [tracks='all'] 'all' (now and later) or track ids/objects.
   * @param {object} [opts]
   * @param {'low'|'medium'|'high'|'auto'} [opts.quality]
   * @returns {Promise<object>}
   */
  subscribe(tracks = 'all', opts = {}) {
    const list = tracks === 'all' ? 'all' : tracks.map(trackId);
    return this.call('subscribe', { tracks: list, quality: opts.quality });
  }

  /** Unsubscribes from tracks (the server renegotiates). @param {Array<string|object>} tracks */
  unsubscribe(tracks) {
    return this.call('unsubscribe', { tracks: tracks.map(trackId) });
  }

  /**
   * Changes one subscription: simulcast quality, or paused.
   * @param {string|object} track
   * @param {object} changes
   * @param {'low'|'medium'|'high'|'auto'} [changes.quality]
   * @param {boolean} [changes.paused]
   * @returns {Promise<object>}
   */
  updateSubscription(track, changes = {}) {
    return this.call('subscription.update', {
      track: trackId(track),
      quality: changes.quality,
      paused: changes.paused,
    });
  }

  /**
   * Restarts ICE: `ice.restart` for the subscriber PeerConnection (the server
   * sends a new offer), a publish with iceRestart for the publisher one.
   * @param {object} [opts]
   * @param {boolean} [opts.subscriber=true]
   * @param {boolean} [opts.publisher=true] Only when a publisher PeerConnection exists.
   * @returns {Promise<void>}
   */
  async restartIce(opts = {}) {
    const jobs = [];
    if (opts.subscriber !== false && this._side.subscriber.pc) jobs.push(this.call('ice.restart'));
    if (opts.publisher !== false && this._side.publisher.pc) {
      jobs.push(this._serialize('publisher', () => this._publish(null, false, true)));
    }
    await Promise.all(jobs);
  }

  /** Closes this session's PeerConnections locally without telling the server (see leave()). */
  close() {
    this._teardown('closed');
  }

  _checkOpen() {
    if (this._closed) throw new ChorusError(ERR_CLOSED, `participant ${this.id} is closed`);
  }

  _serialize(key, fn) {
    const prev = this._chains[key] || Promise.resolve();
    const next = prev.catch(() => {}).then(fn);
    this._chains[key] = next;
    return next;
  }

  _createPc(target) {
    const pc = new RTCPeerConnection({
      bundlePolicy: 'max-bundle',
      rtcpMuxPolicy: 'require',
      iceServers: this.iceServers,
    });
    pc.onicecandidate = (ev) => this._onLocalCandidate(target, pc, ev.candidate);
    pc.onconnectionstatechange = () => {
      this._emit('connectionstatechange', { target, state: pc.connectionState });
    };
    this._side[target].pc = pc;
    this._emit('peerconnection', { target, pc });
    return pc;
  }

  _onLocalCandidate(target, pc, candidate) {
    const side = this._side[target];
    if (side.pc !== pc) return; // a PeerConnection we dropped
    // Chromium signals the end of a generation with an empty candidate
    // string, then null for the end of all: only null is forwarded.
    if (candidate && !candidate.candidate) return;
    const c = candidate
      ? compact({
          candidate: candidate.candidate,
          sdpMid: candidate.sdpMid ?? undefined,
          sdpMLineIndex: candidate.sdpMLineIndex ?? undefined,
          usernameFragment: candidate.usernameFragment ?? undefined,
        })
      : null;
    if (side.canTrickle) this._sendTrickle(target, c);
    else side.local.push(c);
  }

  _flushLocal(target) {
    const side = this._side[target];
    side.canTrickle = true;
    for (const c of side.local.splice(0)) this._sendTrickle(target, c);
  }

  _sendTrickle(target, candidate) {
    if (!this._client.connected) return; // lost; ICE restart after resume recovers
    this.call('trickle', { target, candidate }).catch((err) => this._emit('error', err));
  }

  _onRemoteTrickle(params) {
    const side = this._side[params.target];
    if (!side) return;
    side.remote.push(params.candidate);
    if (side.remoteApplied) this._flushRemote(params.target);
  }

  _flushRemote(target) {
    const side = this._side[target];
    const pc = side.pc;
    if (!pc) return;
    // The PeerConnection's operation chain keeps these in order.
    for (let c of side.remote.splice(0)) {
      if (c && c.sdpMid == null && c.sdpMLineIndex == null) c = { ...c, sdpMLineIndex: 0 };
      const op = c ? pc.addIceCandidate(c) : pc.addIceCandidate();
      op.catch((err) => this._emit('error', err));
    }
  }

  _onOffer(params) {
    // Candidates that arrive from here on belong to this offer: hold them
    // until it is applied.
    this._side.subscriber.remoteApplied = false;
    this._serialize('subscriber', () => this._applyOffer(params)).catch((err) => {
      this._emit('error', err);
    });
  }

  async _applyOffer({ sdp, version, tracks }) {
    if (this._closed) return;
    const side = this._side.subscriber;
    const pc = side.pc || this._createPc('subscriber');
    side.canTrickle = false;
    await pc.setRemoteDescription({ type: 'offer', sdp });
    side.remoteApplied = true;
    this._flushRemote('subscriber');
    await pc.setLocalDescription(await pc.createAnswer());
    const pending = this.call('answer', { sdp: pc.localDescription.sdp, version });
    this._flushLocal('subscriber');
    this._syncRemoteTracks(pc, new Map((tracks || []).map((t) => [t.mid, t])));
    await pending;
  }

  _syncRemoteTracks(pc, byMid) {
    // Mids may be recycled for another track in a later offer without
    // RTCPeerConnection firing 'track' again, so the offer's mapping is the
    // truth, not ontrack.
    for (const transceiver of pc.getTransceivers()) {
      const mid = transceiver.mid;
      if (mid === null) continue;
      const info = byMid.get(mid);
      const prev = this._remote.get(mid);
      if (prev && (!info || prev.track !== info.track)) {
        this._remote.delete(mid);
        this._emit('track.removed', prev);
      }
      if (info && (!prev || prev.track !== info.track)) {
        const mediaStreamTrack = transceiver.receiver.track;
        const entry = { ...info, mediaStreamTrack, stream: new MediaStream([mediaStreamTrack]), transceiver };
        this._remote.set(mid, entry);
        this._emit('track', entry);
      }
    }
  }

  _onNotification(method, params) {
    switch (method) {
      case 'participant.joined':
      case 'participant.updated': {
        const old = this.participants.get(params.participant) || {};
        const merged = { ...old, ...params };
        delete merged.to;
        delete merged.room;
        if (params.participant === this.id) {
          this.role = params.role ?? this.role;
          this.self = { ...this.self, ...merged };
        } else {
          this.participants.set(params.participant, merged);
        }
        break;
      }
      case 'participant.left':
        if (params.participant === this.id) break; // we were kicked: closed below
        this.participants.delete(params.participant);
        for (const [id, t] of this.tracks) if (t.participant === params.participant) this.tracks.delete(id);
        break;
      case 'track.published':
        this.tracks.set(params.track, {
          track: params.track,
          participant: params.participant,
          kind: params.kind,
          muted: false,
          simulcast: params.simulcast || [],
        });
        break;
      case 'track.unpublished':
        this.tracks.delete(params.track);
        break;
      case 'track.updated': {
        const t = this.tracks.get(params.track);
        if (t && typeof params.muted === 'boolean') t.muted = params.muted;
        break;
      }
      case 'offer':
        this._onOffer(params);
        break;
      case 'trickle':
        this._onRemoteTrickle(params);
        break;
      default:
        break;
    }
    this._emit('notification', method, params);
    this._emit(method, params);
    if (method === 'room.closed') this._teardown('room_closed');
    else if (method === 'participant.left' && params.participant === this.id) this._teardown(params.reason || 'left');
  }

  _teardown(reason) {
    if (this._closed) return;
    this._closed = true;
    for (const side of Object.values(this._side)) {
      if (side.pc) side.pc.close();
    }
    for (const entry of this._remote.values()) this._emit('track.removed', entry);
    this._remote.clear();
    if (this._client._sessions.get(this.id) === this) this._client._sessions.delete(this.id);
    this._emit('closed', { reason });
  }
}

/** Default export for `import Chorus from './chorus.js'`. */
export default Chorus;
