// Drives tests/interop/aiortc_ctl.py (several aiortc participants in one
// child process) from a Node test: one JSON request per line on its stdin,
// one reply per line on its stdout (see the .py for the ops).
//
//   const ctl = await AiortcCtl.start();
//   const { participant } = await ctl.request('join', { name: 'v1', url, room, identity: 'v1' });
//   await ctl.request('subscribe', { name: 'v1' });
//   const st = await ctl.request('status', { name: 'v1' });
//   await ctl.quit();
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const CTL_PY = path.join(here, 'aiortc_ctl.py');
// Debian's aiortc is importable only by this interpreter (INTEROP.md).
const PYTHON = '/usr/bin/python3';
const verbose = process.env.CHORUS_TEST_VERBOSE === '1';

/** A failed request: `code` is the JSON-RPC error code when the server refused. */
export class CtlError extends Error {
  constructor(op, reply) {
    super(`aiortc_ctl ${op}: ${reply.error}`);
    this.code = reply.code ?? null;
    this.data = reply.data ?? null;
  }
}

export class AiortcCtl {
  /** Spawns the child and waits until it has imported aiortc. */
  static async start(timeoutMs = 15000) {
    const ctl = new AiortcCtl();
    await ctl._ready(timeoutMs);
    return ctl;
  }

  constructor() {
    this.proc = spawn(PYTHON, [CTL_PY], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.log = [];
    this.pending = new Map();
    this.nextId = 1;
    this.exitInfo = null;
    this._readyWaiter = null;
    this.isReady = false;
    this.exit = new Promise((resolve) => {
      this.proc.on('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        for (const { reject, op } of this.pending.values()) {
          reject(new Error(`aiortc_ctl exited (code ${code}, signal ${signal}) during ${op}; ` +
            `stderr: ${this.logTail(8)}`));
        }
        this.pending.clear();
        if (this._readyWaiter) this._readyWaiter();
        resolve(this.exitInfo);
      });
    });
    const lines = (stream, fn) => {
      stream.setEncoding('utf8');
      let partial = '';
      stream.on('data', (chunk) => {
        const parts = (partial + chunk).split('\n');
        partial = parts.pop();
        for (const l of parts) fn(l);
      });
    };
    lines(this.proc.stdout, (l) => this._onReply(l));
    lines(this.proc.stderr, (l) => {
      if (l.startsWith('EVENT ') && l.includes('"ready"')) {
        this.isReady = true;
        if (this._readyWaiter) this._readyWaiter();
        return;
      }
      this.log.push(l);
      if (verbose) console.log(`  [aiortc_ctl] ${l}`);
    });
    this.proc.stdin.on('error', () => {}); // EPIPE once the child exited
  }

  _ready(timeoutMs) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`aiortc_ctl not ready within ${timeoutMs} ms; ` +
        `stderr: ${this.logTail(8)}`)), timeoutMs);
      this._readyWaiter = () => {
        clearTimeout(timer);
        this._readyWaiter = null;
        if (this.isReady) resolve();
        else reject(new Error(`aiortc_ctl exited before ready; stderr: ${this.logTail(8)}`));
      };
      if (this.isReady || this.exitInfo) this._readyWaiter();
    });
  }

  _onReply(line) {
    let msg;
    try {
      msg = JSON.parse(line);
    } catch {
      this.log.push(`(stdout, not JSON) ${line}`);
      return;
    }
    const p = this.pending.get(msg.id);
    if (!p) {
      this.log.push(`(reply to unknown id) ${line.slice(0, 200)}`);
      return;
    }
    this.pending.delete(msg.id);
    clearTimeout(p.timer);
    if (msg.ok) p.resolve(msg.result);
    else p.reject(new CtlError(p.op, msg));
  }

  /** Sends one request; resolves with its result, rejects with CtlError. */
  request(op, args = {}, timeoutMs = 15000) {
    if (this.exitInfo) return Promise.reject(new Error(`aiortc_ctl has exited (${JSON.stringify(this.exitInfo)})`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`aiortc_ctl ${op}: no reply within ${timeoutMs} ms; stderr: ${this.logTail(5)}`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer, op });
      this.proc.stdin.write(`${JSON.stringify({ id, op, ...args })}\n`);
    });
  }

  /** Closes every participant (leave) and waits for the child to exit; kills it after @timeoutMs. */
  async quit(timeoutMs = 10000) {
    if (this.exitInfo) return this.exitInfo;
    await this.request('quit', {}, timeoutMs).catch(() => {});
    this.proc.stdin.end();
    const timer = setTimeout(() => this.kill(), timeoutMs);
    const r = await this.exit;
    clearTimeout(timer);
    return r;
  }

  kill() {
    if (!this.exitInfo) this.proc.kill('SIGKILL');
  }

  logTail(n) {
    return JSON.stringify(this.log.filter((l) => l.trim()).slice(-n).join(' | '));
  }
}
