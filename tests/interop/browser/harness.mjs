// Headless-Chromium test harness: starts a chorus server (dev mode) and a
// small static web server, launches Debian's /usr/bin/chromium through
// playwright-core, and offers page helpers and check reporting.
//
//   import { Harness } from './browser/harness.mjs';
//   const h = await Harness.start();
//   try {
//     const page = await h.newPage();
//     await h.check('something works', async () => { ... });
//   } finally {
//     await h.stop();            // SIGTERM to chorus; exit 0 is itself a check
//   }
//   process.exit(h.failed ? 1 : 0);
//
// Environment: CHORUS_BUILD_DIR (default /work/main/build, i.e. <repo>/build),
// CHORUS_TEST_VERBOSE=1 prints the server log and browser console as they come.
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '..', '..', '..');
export const artifactsDir = path.join(repoRoot, 'tests', 'artifacts');
const require = createRequire(import.meta.url);
const { chromium } = require(path.join(repoRoot, 'node_modules', 'playwright-core'));

const verbose = process.env.CHORUS_TEST_VERBOSE === '1';

const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--use-fake-ui-for-media-stream',
  '--use-fake-device-for-media-stream',
  '--allow-loopback-in-peer-connection',
  '--autoplay-policy=no-user-gesture-required',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

/** Resolves after @ms milliseconds. */
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Throws with @message unless @cond. */
export function assert(cond, message) {
  if (!cond) throw new Error(message);
}

/** Throws unless a and b are equal as JSON. */
export function assertEqual(actual, expected, what) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: expected ${e}, got ${a}`);
}

/** A TCP port free on 127.0.0.1 right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function httpGet(url, timeoutMs = 1000) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/**
 * Static server for web/ at "/" and tests/interop/browser/ at "/test/".
 * "/ws", "/health" and "/metrics" are proxied to chorus so that pages (and
 * web/index.html, which connects to ws://<page host>/ws) work as if chorus
 * served them itself.
 */
function startWebServer(chorusPort, tunnels) {
  const roots = [
    ['/test/', path.join(repoRoot, 'tests', 'interop', 'browser')],
    ['/', path.join(repoRoot, 'web')],
  ];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    if (url.pathname === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    if (['/health', '/metrics'].includes(url.pathname)) {
      const up = http.request(
        { host: '127.0.0.1', port: chorusPort, path: req.url, method: req.method, headers: req.headers },
        (r) => {
          res.writeHead(r.statusCode, r.headers);
          r.pipe(res);
        },
      );
      up.on('error', () => res.writeHead(502).end());
      req.pipe(up);
      return;
    }
    let file = null;
    for (const [prefix, dir] of roots) {
      if (!url.pathname.startsWith(prefix)) continue;
      let rel = decodeURIComponent(url.pathname.slice(prefix.length)) || 'index.html';
      const full = path.resolve(dir, rel);
      if (full !== dir && !full.startsWith(dir + path.sep)) break; // no escaping the root
      file = full;
      break;
    }
    fs.readFile(file || '/nonexistent', (err, data) => {
      if (err) {
        res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
        return;
      }
      const type = MIME[path.extname(file)] || 'application/octet-stream';
      res.writeHead(200, { 'Content-Type': type, 'Cache-Control': 'no-store' }).end(data);
    });
  });
  // WebSocket upgrade on /ws: a raw byte pipe to chorus.
  server.on('upgrade', (req, socket, head) => {
    const up = net.connect(chorusPort, '127.0.0.1', () => {
      let raw = `${req.method} ${req.url} HTTP/1.1\r\n`;
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        raw += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
      }
      up.write(raw + '\r\n');
      if (head && head.length) up.write(head);
      up.pipe(socket);
      socket.pipe(up);
    });
    tunnels.add(up);
    const kill = () => {
      tunnels.delete(up);
      up.destroy();
      socket.destroy();
    };
    up.on('error', kill);
    socket.on('error', kill);
    up.on('close', kill);
    socket.on('close', kill);
  });
  return new Promise((resolve, reject) => {
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

export class Harness {
  /**
   * Starts chorus, the web server and Chromium.
   * @param {object} [opts]
   * @param {string} [opts.configExtra] Extra GKeyFile text appended to the config.
   * @param {string[]} [opts.serverArgs] Extra chorus arguments.
   * @param {string[]} [opts.chromiumArgs] Extra Chromium flags (no --disable-features: see INTEROP.md).
   * @param {string} [opts.name] Used in artifact names.
   */
  static async start(opts = {}) {
    const h = new Harness(opts);
    try {
      await h._startServer();
      h.web = await startWebServer(h.chorusPort, h.tunnels);
      h.baseUrl = `http://127.0.0.1:${h.web.address().port}`;
      h.browser = await chromium.launch({
        executablePath: '/usr/bin/chromium',
        headless: true,
        args: [...CHROMIUM_ARGS, ...(opts.chromiumArgs || [])],
      });
    } catch (err) {
      await h._cleanup();
      h.dumpLogs();
      throw err;
    }
    return h;
  }

  constructor(opts) {
    this.opts = opts;
    this.name = opts.name || 'browser';
    this.buildDir = process.env.CHORUS_BUILD_DIR || path.join(repoRoot, 'build');
    this.failed = 0;
    this.passed = 0;
    this.serverLog = [];
    this.consoleLog = [];
    this.pages = [];
    this.proc = null;
    this.web = null;
    this.tunnels = new Set(); // chorus-side sockets of proxied /ws connections
    this.apiSecret = crypto.randomBytes(16).toString('hex');
    this.browser = null;
  }

  /** ws:// URL of chorus itself. */
  get wsUrl() {
    return `ws://127.0.0.1:${this.chorusPort}/ws`;
  }

  async _startServer() {
    const exe = path.join(this.buildDir, 'src', 'chorus');
    if (!fs.existsSync(exe)) throw new Error(`${exe} not found: build first (or set CHORUS_BUILD_DIR)`);
    this.chorusPort = await freePort();
    this.tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'chorus-browser-'));
    this.configPath = path.join(this.tmpDir, 'chorus.conf');
    const config = [
      '[signaling]',
      'listen_address = 127.0.0.1',
      `port = ${this.chorusPort}`,
      '[media]',
      'interfaces = 127.0.0.1',
      '[auth]',
      `api_secret = ${this.apiSecret}`,
      '[workers]',
      'count = 2',
      '[plugins]',
      `directory = ${path.join(this.buildDir, 'plugins')}`,
      this.opts.configExtra || '',
      '',
    ].join('\n');
    fs.writeFileSync(this.configPath, config);
    const args = ['--dev', '--config', this.configPath, ...(this.opts.serverArgs || [])];
    this.proc = spawn(exe, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...(this.opts?.serverEnv || {}) } });
    this.exited = new Promise((resolve) => {
      this.proc.on('exit', (code, signal) => resolve({ code, signal }));
    });
    const collect = (stream) => {
      stream.setEncoding('utf8');
      let partial = '';
      stream.on('data', (chunk) => {
        const lines = (partial + chunk).split('\n');
        partial = lines.pop();
        for (const line of lines) {
          this.serverLog.push(line);
          if (verbose) console.log(`  [chorus] ${line}`);
        }
      });
    };
    collect(this.proc.stdout);
    collect(this.proc.stderr);
    let exitedEarly = null;
    this.exited.then((r) => (exitedEarly = r));
    const deadline = Date.now() + 10000;
    for (;;) {
      if (exitedEarly) {
        throw new Error(`chorus exited during start (code ${exitedEarly.code}, signal ${exitedEarly.signal})`);
      }
      try {
        const r = await httpGet(`http://127.0.0.1:${this.chorusPort}/health`);
        if (r.status === 200 && JSON.parse(r.body).status === 'ok') return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error('chorus did not answer GET /health within 10 s');
      await sleep(50);
    }
  }

  /**
   * Mints a token with `chorus token` and the server's secret.
   * @param {{identity?: string, room?: string, role?: string, admin?: boolean, ttl?: number}} claims
   */
  mintToken(claims) {
    const args = ['token', '--secret', this.apiSecret];
    if (claims.identity) args.push('--identity', claims.identity);
    if (claims.room) args.push('--room', claims.room);
    if (claims.role) args.push('--role', claims.role);
    if (claims.admin) args.push('--admin');
    if (claims.ttl) args.push('--ttl', String(claims.ttl));
    const r = spawnSync(path.join(this.buildDir, 'src', 'chorus'), args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`chorus token failed (${r.status}): ${r.stderr}`);
    return r.stdout.trim();
  }

  /**
   * Cuts every WebSocket that pages opened through the web server ("/ws",
   * not h.wsUrl) with a TCP reset towards chorus and no close frame: a lost
   * connection, whose participants stay for the resume grace period.
   * Returns how many were cut.
   */
  dropProxiedWebSockets() {
    const n = this.tunnels.size;
    for (const sock of [...this.tunnels]) sock.resetAndDestroy();
    return n;
  }

  /**
   * Opens a page (own browser context: separate cookies, own devices) at
   * @pathname of the web server, by default the test page that loads
   * chorus.js as window.Chorus.
   * @returns {Promise<import('playwright-core').Page>}
   */
  async newPage(pathname = '/test/client.html', label = `page${this.pages.length + 1}`) {
    const context = await this.browser.newContext();
    const page = await context.newPage();
    page.label = label;
    page.on('console', (msg) => {
      const line = `[${label} ${msg.type()}] ${msg.text()}`;
      this.consoleLog.push(line);
      if (verbose) console.log(`  ${line}`);
    });
    page.on('pageerror', (err) => {
      const line = `[${label} pageerror] ${err.message}`;
      this.consoleLog.push(line);
      if (verbose) console.log(`  ${line}`);
    });
    await page.goto(`${this.baseUrl}${pathname}`);
    if (pathname.startsWith('/test/client.html')) {
      await page.waitForFunction(() => window.t && window.t.ready === true, null, { timeout: 10000 });
    }
    this.pages.push(page);
    return page;
  }

  /** page.evaluate with one argument; errors carry the page label. */
  async evalInPage(page, fn, arg) {
    try {
      return await page.evaluate(fn, arg);
    } catch (err) {
      throw new Error(`${page.label}: ${err.message.split('\n')[0]}`);
    }
  }

  /** Runs @src (an async function body with `t` and `arg`) in the test page
   *  via window.t.run; returns its value, throws a ChorusError's code and
   *  message as an Error. */
  async run(page, src, arg) {
    const r = await this.evalInPage(page, ([s, a]) => window.t.run(s, a), [src, arg]);
    if (!r.ok) throw new Error(`${page.label}: ${r.message} (code ${r.code})`);
    return r.value;
  }

  /** Polls getStats(pcName) every 100 ms until pred(stats) holds and returns
   *  the stats; a PeerConnection not made yet counts as "not yet". On
   *  timeout the error names @what and shows describe(last stats). */
  async statsUntil(page, pcName, pred, what, timeoutMs, describe = (x) => x) {
    const deadline = Date.now() + timeoutMs;
    let last = null;
    for (;;) {
      try {
        last = await this.getStats(page, pcName);
        if (pred(last)) return last;
      } catch (err) {
        if (!/no PeerConnection/.test(err.message)) throw err;
      }
      if (Date.now() > deadline) {
        throw new Error(`${what}: not within ${timeoutMs} ms; last stats: ${JSON.stringify(last ? describe(last) : null)}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** chorus's GET /metrics as {name: value} (unlabelled samples only). */
  async metrics() {
    const text = await (await fetch(`http://127.0.0.1:${this.chorusPort}/metrics`)).text();
    const m = {};
    for (const line of text.split('\n')) {
      const x = line.match(/^([a-z_]+) ([0-9.e+-]+)$/);
      if (x) m[x[1]] = Number(x[2]);
    }
    return m;
  }

  /**
   * Stats of the RTCPeerConnection registered in the page as
   * window.t.pcs[pcName] (client.html registers "<session>.publisher" and
   * "<session>.subscriber"), grouped by type.
   * @returns {Promise<{inbound: object[], outbound: object[], transport: object[],
   *   candidatePair: object[], codec: object[]}>}
   */
  async getStats(page, pcName) {
    return this.evalInPage(
      page,
      async (name) => {
        const pc = window.t.pcs[name];
        if (!pc) throw new Error(`no PeerConnection "${name}" (have: ${Object.keys(window.t.pcs)})`);
        const out = { inbound: [], outbound: [], transport: [], candidatePair: [], codec: [] };
        const key = {
          'inbound-rtp': 'inbound',
          'outbound-rtp': 'outbound',
          transport: 'transport',
          'candidate-pair': 'candidatePair',
          codec: 'codec',
        };
        (await pc.getStats()).forEach((s) => {
          if (key[s.type]) out[key[s.type]].push({ ...s });
        });
        return out;
      },
      pcName,
    );
  }

  /** Saves a PNG screenshot to tests/artifacts/<harness name>-<name>.png; returns its path. */
  async screenshot(page, name) {
    fs.mkdirSync(artifactsDir, { recursive: true });
    const file = path.join(artifactsDir, `${this.name}-${name}.png`);
    await page.screenshot({ path: file });
    return file;
  }

  /**
   * Runs one named check and prints one line: "ok - name (N ms)" or
   * "FAIL - name: error". Returns the check's value (undefined on failure).
   * With opts.dependent, the check is skipped ("skip - name") once an
   * earlier one failed (steps that build on each other).
   */
  async check(name, fn, opts = {}) {
    if (opts.dependent && this.failed > 0) {
      console.log(`skip - ${name} (an earlier check failed)`);
      return undefined;
    }
    const t0 = Date.now();
    try {
      const value = await fn();
      this.passed++;
      console.log(`ok - ${name} (${Date.now() - t0} ms)`);
      return value;
    } catch (err) {
      this.failed++;
      console.log(`FAIL - ${name}: ${err && err.message ? err.message : err}`);
      return undefined;
    }
  }

  /** Prints the server log and browser console (call on failure). */
  dumpLogs() {
    const tail = (lines) => lines.slice(-200).map((l) => `  ${l}`).join('\n');
    if (this.serverLog.length) console.log(`--- chorus log (last 200 lines)\n${tail(this.serverLog)}`);
    if (this.consoleLog.length) console.log(`--- browser console\n${tail(this.consoleLog)}`);
  }

  /**
   * Closes Chromium and the web server, then stops chorus with SIGTERM:
   * its exit status 0 within 5 s is reported as a check. Dumps logs if any
   * check failed. Returns the number of failed checks.
   */
  async stop() {
    await this._cleanup();
    if (this.failed) this.dumpLogs();
    if (this.tmpDir) fs.rmSync(this.tmpDir, { recursive: true, force: true });
    console.log(`${this.failed ? 'FAILED' : 'passed'}: ${this.passed} ok, ${this.failed} failed`);
    return this.failed;
  }

  async _cleanup() {
    if (this.browser) {
      await this.browser.close().catch(() => {});
      this.browser = null;
    }
    if (this.web) {
      this.web.closeAllConnections();
      await new Promise((resolve) => this.web.close(resolve));
      this.web = null;
    }
    if (this.proc) {
      const proc = this.proc;
      this.proc = null;
      await this.check('chorus exits 0 on SIGTERM', async () => {
        if (proc.exitCode !== null || proc.signalCode !== null) {
          throw new Error(`chorus had already exited (code ${proc.exitCode}, signal ${proc.signalCode})`);
        }
        proc.kill('SIGTERM');
        const timeout = sleep(5000).then(() => null);
        const r = await Promise.race([this.exited, timeout]);
        if (r === null) {
          proc.kill('SIGKILL');
          throw new Error('chorus still running 5 s after SIGTERM (killed)');
        }
        assert(r.code === 0, `chorus exit code ${r.code} (signal ${r.signal})`);
      });
    }
  }
}
