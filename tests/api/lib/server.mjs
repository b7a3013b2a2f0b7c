// Starts `pagoda serve` for the API tests: a free port (--port 0, read back from the
// "listening on" log line), a model (../shared's stories260K with our ChatML template when
// present, else a demo model from `pagoda make-model`), waits for /health 200, stops it.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';

const here = path.dirname(fileURLToPath(import.meta.url));
export const apiDir = path.resolve(here, '..');
const repoRoot = path.resolve(apiDir, '..', '..');

// $PAGODA_BINARY (relative to the working directory), else build/pagoda of this checkout.
export const binary = process.env.PAGODA_BINARY
  ? path.resolve(process.env.PAGODA_BINARY)
  : path.resolve(apiDir, '../../build/pagoda');
const fixturesDir = process.env.PAGODA_FIXTURES_DIR
  ? path.resolve(process.env.PAGODA_FIXTURES_DIR)
  : path.join(repoRoot, '..', 'shared', 'fixtures');
export const chatTemplate = path.join(apiDir, 'chatml.jinja');
export const API_KEY = 'pagoda-test-key';

const LOG_TAIL = 256 * 1024;
const children = new Set();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

let modelChoice = null;
let tempDir = null;

// The model every server of this process serves: { path, name, args }.
// PAGODA_API_MODEL=demo forces the demo model even when the fixture exists.
export function model() {
  if (modelChoice) return modelChoice;
  if (!existsSync(binary)) throw new Error(`no pagoda binary at ${binary} (set PAGODA_BINARY)`);
  const fixture = path.join(fixturesDir, 'models', 'stories260K.gguf');
  if (process.env.PAGODA_API_MODEL !== 'demo' && existsSync(fixture)) {
    modelChoice = {
      path: fixture,
      name: 'stories260K',
      args: ['--chat-template', chatTemplate],
    };
  } else {
    tempDir ??= mkdtempSync(path.join(tmpdir(), 'pagoda-api-'));
    const demo = path.join(tempDir, 'demo.gguf');
    const made = spawnSync(binary, ['make-model', '-t', '2', '-o', demo], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    if (made.status !== 0) throw new Error(`pagoda make-model failed: ${made.stderr}`);
    modelChoice = { path: demo, name: 'demo', args: [] };
  }
  return modelChoice;
}

process.on('exit', () => {
  if (tempDir) rmSync(tempDir, { recursive: true, force: true });
});

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// A running `pagoda serve` with `extraArgs` added (each flag at most once: CLI11 rejects repeats).
export async function startServer({ extraArgs = [], apiKey = API_KEY, kvCacheMemory = '64MiB', timeoutMs = 60_000 } = {}) {
  const m = model();
  const args = [
    'serve', m.path, ...m.args,
    '--host', '127.0.0.1', '--port', '0', '-t', '2',
    '--kv-cache-memory', kvCacheMemory,
    ...(apiKey ? ['--api-key', apiKey] : []),
    ...extraArgs,
  ];
  const child = spawn(binary, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PAGODA_API_KEY: '' },
  });
  children.add(child);
  // Always drain the pipes (one access-log line per request: a full pipe would block the server).
  let log = '';
  let port = 0;
  const onData = (data) => {
    log += data.toString();
    if (!port) {
      const match = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(log);
      if (match) port = Number(match[1]);
    }
    if (log.length > LOG_TAIL) log = log.slice(-LOG_TAIL / 2);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  let exitCode = null;
  const exited = new Promise((resolve) =>
    child.on('exit', (code, signal) => {
      exitCode = code ?? signal;
      children.delete(child);
      resolve(exitCode);
    }),
  );

  const server = {
    pid: child.pid,
    apiKey,
    model: m.name,
    get port() {
      return port;
    },
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    get baseURL() {
      return `http://127.0.0.1:${port}/v1`;
    },
    log: () => log,
    // An OpenAI client for this server; no retries, so every status reaches the test.
    client(options = {}) {
      return new OpenAI({ baseURL: this.baseURL, apiKey: apiKey || 'none', maxRetries: 0, timeout: 60_000, ...options });
    },
    // Raw HTTP with the key: fetch(url + path).
    fetch(p, init = {}) {
      const headers = { ...(apiKey ? { Authorization: `Bearer ${apiKey}` } : {}), ...(init.headers || {}) };
      return fetch(this.url + p, { ...init, headers, signal: init.signal ?? AbortSignal.timeout(60_000) });
    },
    postJson(p, body) {
      return this.fetch(p, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
    },
    // /proc/PID/status VmRSS in KiB.
    rssKiB() {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      return Number(/VmRSS:\s+(\d+)\s+kB/.exec(status)[1]);
    },
    // SIGTERM (the server drains and exits 0), SIGKILL after `graceMs`. Returns the exit code.
    async stop(graceMs = 15_000) {
      if (exitCode !== null) return exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };

  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exitCode !== null) throw new Error(`pagoda serve exited (${exitCode}):\n${log}`);
    if (port) {
      try {
        const r = await fetch(`${server.url}/health`, { signal: AbortSignal.timeout(2_000) });
        await r.arrayBuffer();
        if (r.status === 200) return server;
      } catch {
        // not accepting yet
      }
    }
    await sleep(50);
  }
  child.kill('SIGKILL');
  throw new Error(`pagoda serve was not healthy within ${timeoutMs} ms:\n${log}`);
}

// Parses the Prometheus text of /metrics into { 'name{labels}': value, name: value (first) }.
export function parseMetrics(text) {
  const out = {};
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`malformed metrics line: ${line}`);
    const value = Number(match[3].replace('+Inf', 'Infinity'));
    out[match[1] + (match[2] || '')] = value;
    if (!(match[1] in out)) out[match[1]] = value;
  }
  return out;
}

export async function metrics(server) {
  const r = await fetch(`${server.url}/metrics`, { signal: AbortSignal.timeout(10_000) });
  if (r.status !== 200) throw new Error(`/metrics answered ${r.status}`);
  return parseMetrics(await r.text());
}

// Polls /metrics until nothing runs or waits and no KV block is in use; returns the last reading.
export async function waitIdle(server, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  let m;
  for (;;) {
    m = await metrics(server);
    const idle =
      m['vllm:num_requests_running'] === 0 &&
      m['vllm:num_requests_waiting'] === 0 &&
      m['vllm:kv_cache_usage_perc'] === 0 &&
      m['pagoda:kv_cache_usage_perc'] === 0;
    if (idle || Date.now() > deadline) return m;
    await sleep(50);
  }
}

export { repoRoot, sleep };
