// Runs tests/interop/aiortc_peer.py (one aiortc participant) as a child
// process for the Node tests: progress events from its stderr, the JSON
// report from its stdout.
//
//   const peer = AiortcPeer.spawn('subscribe', { url, room, identity, seconds: 5 });
//   await peer.waitEvent('connected', 10000);
//   const report = await peer.finish(15000);     // waits for exit, parses the report
//   peer.stop();                                 // ends the media window early (report still comes)
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const PEER_PY = path.join(here, 'aiortc_peer.py');
// Debian's aiortc is importable only by this interpreter (INTEROP.md).
const PYTHON = '/usr/bin/python3';
const verbose = process.env.CHORUS_TEST_VERBOSE === '1';

export class AiortcPeer {
  /**
   * @param {'subscribe'|'publish'} mode
   * @param {{url: string, room: string, identity: string, seconds?: number, role?: string,
   *   create?: string, extraArgs?: string[]}} opts
   */
  static spawn(mode, opts) {
    return new AiortcPeer(mode, opts);
  }

  constructor(mode, opts) {
    this.mode = mode;
    this.label = `aiortc ${mode} ${opts.identity}`;
    const args = [PEER_PY, mode, '--url', opts.url, '--room', opts.room, '--identity', opts.identity,
      '--seconds', String(opts.seconds ?? 5), '--stdin-stops'];
    if (opts.role) args.push('--role', opts.role);
    if (opts.create) args.push('--create', opts.create);
    args.push(...(opts.extraArgs || []));
    this.spawnedAt = Date.now();
    this.proc = spawn(PYTHON, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.events = []; // {event, ..., atMs: Date.now() when seen}
    this.stdout = '';
    this.log = []; // stderr lines that are not events
    this._waiters = new Set();
    this.exit = new Promise((resolve) => {
      this.proc.on('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        this._wake();
        resolve(this.exitInfo);
      });
    });
    this.exitInfo = null;
    this.proc.stdout.setEncoding('utf8');
    this.proc.stdout.on('data', (d) => (this.stdout += d));
    this.proc.stderr.setEncoding('utf8');
    let partial = '';
    this.proc.stderr.on('data', (chunk) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop();
      for (const line of lines) this._onLine(line);
    });
    this.proc.stdin.on('error', () => {}); // EPIPE once the child exited
  }

  _onLine(line) {
    if (line.startsWith('EVENT ')) {
      try {
        const ev = JSON.parse(line.slice(6));
        ev.atMs = Date.now();
        this.events.push(ev);
        if (verbose) console.log(`  [${this.label}] ${line}`);
        this._wake();
        return;
      } catch {
        // not ours: keep it as log
      }
    }
    this.log.push(line);
    if (verbose) console.log(`  [${this.label}] ${line}`);
  }

  _wake() {
    for (const w of [...this._waiters]) w();
  }

  /** First event named @name (already seen or future); throws on timeout or exit. */
  waitEvent(name, timeoutMs) {
    return new Promise((resolve, reject) => {
      const check = () => {
        const ev = this.events.find((e) => e.event === name);
        if (ev) return done(null, ev);
        if (this.exitInfo) {
          return done(new Error(`${this.label} exited (code ${this.exitInfo.code}) before "${name}"; ` +
            `stderr: ${this.logTail(5)}`));
        }
        return undefined;
      };
      const timer = setTimeout(() => done(new Error(`${this.label}: no "${name}" event within ${timeoutMs} ms; ` +
        `stderr: ${this.logTail(5)}`)), timeoutMs);
      const done = (err, ev) => {
        clearTimeout(timer);
        this._waiters.delete(check);
        if (err) reject(err);
        else resolve(ev);
      };
      this._waiters.add(check);
      check();
    });
  }

  /** Ends the media window early: the child reports and exits. */
  stop() {
    if (!this.exitInfo) this.proc.stdin.end();
  }

  /** Kills the child if it is still running (cleanup after a failure). */
  kill() {
    if (!this.exitInfo) this.proc.kill('SIGKILL');
  }

  /** Waits for exit (killing it after @timeoutMs) and returns the parsed report. */
  async finish(timeoutMs) {
    let timer;
    const timedOut = new Promise((resolve) => {
      timer = setTimeout(() => resolve(null), timeoutMs);
    });
    const r = await Promise.race([this.exit, timedOut]);
    clearTimeout(timer);
    if (r === null) {
      this.kill();
      await this.exit;
      throw new Error(`${this.label} still running after ${timeoutMs} ms (killed); stderr: ${this.logTail(5)}`);
    }
    const line = this.stdout.trim().split('\n').pop() || '';
    let report;
    try {
      report = JSON.parse(line);
    } catch {
      throw new Error(`${this.label} exited (code ${r.code}, signal ${r.signal}) without a JSON report; ` +
        `stdout: ${JSON.stringify(this.stdout.slice(-300))}; stderr: ${this.logTail(8)}`);
    }
    this.report = report;
    return report;
  }

  logTail(n) {
    return JSON.stringify(this.log.filter((l) => l.trim()).slice(-n).join(' | '));
  }
}
