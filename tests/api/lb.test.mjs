// Replicas behind a load balancer (deploy/): deploy/start-replicas.sh starts two `pagoda serve`
// replicas and Debian's nginx. Affinity: one X-Session-Id always reaches one replica, requests
// without it are spread. Failover: streaming load while one replica is SIGKILLed: every request
// that had not started answering completes on the other replica, the survivor's streams
// complete, only streams already running on the killed replica are cut (counted); the replica
// is started again on its port and gets traffic again. Drain: a SIGTERMed replica loses nothing.
// Skipped, saying so, when nginx is not installed.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { collectStream } from './lib/collect.mjs';
import { API_KEY, binary, model, parseMetrics, repoRoot, sleep } from './lib/server.mjs';

const NGINX = process.env.NGINX || 'nginx';
const haveNginx = spawnSync(NGINX, ['-v'], { stdio: 'ignore' }).status === 0;
const skip = haveNginx
  ? false
  : `nginx is not installed (apt-get install -y --no-install-recommends nginx; ./scripts/deps.sh --tests installs it)`;
if (skip) console.log(`lb.test.mjs: skipped: ${skip}`);

const script = path.join(repoRoot, 'deploy', 'start-replicas.sh');
const FAIL_TIMEOUT_S = 2;
const RESTART_DELAY_S = 2;
const CLIENTS = 24;
const REQUESTS_PER_CLIENT = 4;

// Rejects after `ms` so a stuck request fails the test instead of hanging it.
function within(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not done within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// The whole set: `deploy/start-replicas.sh --port 0` on the test model, two replicas.
async function startSet() {
  const m = model();
  const dir = mkdtempSync(path.join(tmpdir(), 'pagoda-lb-test-'));
  const args = [
    script, '-n', '2', '--port', '0', '--dir', dir, '--upstream-header',
    '--max-fails', '1', '--fail-timeout', String(FAIL_TIMEOUT_S), '--restart-delay', String(RESTART_DELAY_S),
    '--', '-m', m.path, ...m.args, '-t', '1', '--kv-cache-memory', '16MiB', '--max-num-seqs', '16',
    '--api-key', API_KEY,
  ];
  const child = spawn('bash', args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PAGODA_BINARY: binary, NGINX, PAGODA_API_KEY: '' },
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  let exitCode = null;
  const exited = new Promise((resolve) =>
    child.on('exit', (code, signal) => {
      exitCode = code ?? signal;
      resolve(exitCode);
    }),
  );
  const readPid = (i) => Number(readFileSync(path.join(dir, `replica-${i}.pid`), 'utf8'));
  // Nothing outlives the test process, whatever happens.
  const killAll = () => {
    for (const i of [1, 2]) {
      try {
        process.kill(readPid(i), 'SIGKILL');
      } catch {}
    }
    try {
      process.kill(Number(readFileSync(path.join(dir, 'nginx.pid'), 'utf8')), 'SIGKILL');
    } catch {}
    if (exitCode === null) child.kill('SIGKILL');
  };
  process.on('exit', killAll);

  const deadline = Date.now() + 60_000;
  let ready;
  while (!(ready = /ready on (http:\/\/127\.0\.0\.1:\d+)/.exec(out))) {
    if (exitCode !== null) throw new Error(`start-replicas.sh exited (${exitCode}):\n${out}`);
    if (Date.now() > deadline) {
      killAll();
      throw new Error(`start-replicas.sh not ready within 60 s:\n${out}`);
    }
    await sleep(50);
  }
  const replicas = [1, 2].map((i) => {
    const port = Number(new RegExp(`replica ${i}: http://127\\.0\\.0\\.1:(\\d+)`).exec(out)[1]);
    return { i, port, addr: `127.0.0.1:${port}`, url: `http://127.0.0.1:${port}`, pid: () => readPid(i) };
  });
  return {
    url: ready[1],
    replicas,
    dir,
    output: () => out,
    log: (name) => {
      try {
        return readFileSync(path.join(dir, 'logs', name), 'utf8');
      } catch {
        return '';
      }
    },
    // SIGTERM: the script stops nginx and drains the replicas; returns its exit status.
    async stop() {
      if (exitCode === null) child.kill('SIGTERM');
      const timer = setTimeout(killAll, 30_000);
      const code = await exited;
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
      return code;
    },
  };
}

async function replicaMetrics(replica) {
  const r = await fetch(`${replica.url}/metrics`, { signal: AbortSignal.timeout(10_000) });
  if (r.status !== 200) throw new Error(`/metrics of replica ${replica.i} answered ${r.status}`);
  return parseMetrics(await r.text());
}
// Requests each replica finished so far.
async function finishedCounts(set) {
  return Promise.all(set.replicas.map(async (r) => (await replicaMetrics(r))['pagoda:requests_finished_total']));
}
// Requests each replica finished since `before`, once `expected` of them are counted (a
// replica counts a request just after answering it) or 5 s have passed.
async function finishedSince(set, before, expected) {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const delta = (await finishedCounts(set)).map((n, k) => n - before[k]);
    if (delta[0] + delta[1] >= expected || Date.now() > deadline) return delta;
    await sleep(20);
  }
}
// X-Pagoda-Upstream: the replicas nginx tried, in order ("A" or "A, B" after a retry).
const upstreamsOf = (response) => (response.headers.get('x-pagoda-upstream') ?? '').split(', ').filter(Boolean);

describe('replicas behind nginx (deploy/)', { timeout: 150_000 }, () => {
  let set;
  let client;
  let name;

  before(async () => {
    if (skip) return;
    set = await startSet();
    client = new OpenAI({ baseURL: `${set.url}/v1`, apiKey: API_KEY, maxRetries: 0, timeout: 60_000 });
    name = model().name;
  });
  after(async () => {
    if (!set) return;
    const code = await set.stop();
    assert.equal(code, 0, `start-replicas.sh exits 0 on SIGTERM\n${set.output().slice(-4000)}`);
  });

  // One short request through the balancer; returns the replicas nginx tried.
  async function shortRequest(headers = {}) {
    const { data, response } = await client.completions
      .create({ model: name, prompt: 'Once upon a time', max_tokens: 4, temperature: 0 }, { headers })
      .withResponse();
    assert.equal(data.choices.length, 1);
    return upstreamsOf(response);
  }

  it('keeps one X-Session-Id on one replica and spreads the rest', { skip }, async (t) => {
    const [a, b] = set.replicas;
    // One conversation, six turns with X-Session-Id: all on one replica (per /metrics), and
    // from the second turn on its prompt starts with cached blocks.
    const before = await finishedCounts(set);
    const messages = [
      { role: 'system', content: 'You are a storyteller. Tell short stories about a little dog named Max and his friends.' },
    ];
    const served = new Set();
    for (let turn = 0; turn < 6; turn++) {
      messages.push({ role: 'user', content: `Tell me part ${turn + 1}.` });
      const { data, response } = await client.chat.completions
        .create({ model: name, messages, max_tokens: 8, temperature: 0 }, { headers: { 'X-Session-Id': 'conversation-1' } })
        .withResponse();
      served.add(upstreamsOf(response).at(-1));
      messages.push({ role: 'assistant', content: data.choices[0].message.content });
      if (turn > 0) {
        assert.ok(data.usage.prompt_tokens_details?.cached_tokens > 0, `turn ${turn + 1} reuses the cached prefix`);
      }
    }
    const delta = await finishedSince(set, before, 6);
    assert.deepEqual([...delta].sort(), [0, 6], `one replica finished all 6 turns (per /metrics: ${delta})`);
    assert.equal(served.size, 1);
    assert.equal([...served][0], set.replicas[delta[0] === 6 ? 0 : 1].addr, 'X-Pagoda-Upstream agrees with /metrics');

    // 32 sessions, each twice: the same replica both times; between them, both replicas.
    const bySession = new Map();
    for (let round = 0; round < 2; round++) {
      for (let s = 0; s < 32; s++) {
        const where = (await shortRequest({ 'X-Session-Id': `session-${s}` })).at(-1);
        if (round === 0) bySession.set(s, where);
        else assert.equal(where, bySession.get(s), `session-${s} returns to its replica`);
      }
    }
    const sessionsOn = (r) => [...bySession.values()].filter((w) => w === r.addr).length;
    assert.ok(sessionsOn(a) > 0 && sessionsOn(b) > 0, `sessions are spread: ${sessionsOn(a)} / ${sessionsOn(b)}`);

    // Without the header: least connections, so one request after another alternates.
    // (Counted from the start, as a replica counts a request just after answering it.)
    const beforePlain = await finishedSince(set, before, 6 + 64);
    for (let k = 0; k < 8; k++) await shortRequest();
    const plain = (await finishedSince(set, before, 6 + 64 + 8)).map((n, k) => n - beforePlain[k]);
    assert.equal(plain[0] + plain[1], 8);
    assert.ok(plain[0] > 0 && plain[1] > 0, `requests without X-Session-Id reach both replicas: ${plain}`);
    t.diagnostic(`sessions per replica ${sessionsOn(a)} / ${sessionsOn(b)}; 8 plain requests split ${plain}`);
  });

  // Streaming load through the balancer. Each request is pushed to `records` as it begins:
  // whether its answer has started (headers received), which replica(s) nginx tried, how it
  // ended; `onProgress` runs whenever one starts answering or ends.
  async function load({ records, clients, requestsPerClient, maxTokens, onProgress }) {
    async function runClient(id) {
      for (let r = 0; r < requestsPerClient; r++) {
        const rec = { id: `${id}.${r}`, started: false, upstreams: [], ok: false, error: null };
        records.push(rec);
        try {
          const chat = (id + r) % 2 === 1;
          const params = {
            model: name,
            max_tokens: maxTokens(id, r),
            ignore_eos: true,
            temperature: 0.8,
            seed: id * 100 + r,
            stream: true,
            stream_options: { include_usage: true },
          };
          const { data: stream, response } = await (chat
            ? client.chat.completions.create({ ...params, messages: [{ role: 'user', content: `Story ${id}.${r}` }] })
            : client.completions.create({ ...params, prompt: `Once upon a time ${id} ${r}` })
          ).withResponse();
          rec.started = true;
          rec.upstreams = upstreamsOf(response);
          onProgress?.();
          const s = await collectStream(stream, chat ? 'chat' : 'completion');
          assert.equal(s.choices.length, 1);
          assert.equal(s.choices[0].finish_reason, 'length');
          assert.equal(s.usage?.completion_tokens, params.max_tokens);
          rec.ok = true;
        } catch (e) {
          rec.error = e instanceof OpenAI.APIError ? `${e.status ?? ''} ${e.message}` : String(e?.stack ?? e);
        }
        onProgress?.();
      }
    }
    await within(Promise.all(Array.from({ length: clients }, (_, id) => runClient(id))), 90_000, 'the load');
    return records;
  }

  it('fails over when a replica is killed mid-load, and takes it back when it returns', { skip }, async (t) => {
    const [a, b] = set.replicas;
    const oldPid = b.pid();
    const total = CLIENTS * REQUESTS_PER_CLIENT;
    let killed = null;
    const records = [];
    // Kill b (SIGKILL) once a quarter of the requests are done and b has streams running.
    const onProgress = () => {
      if (killed) return;
      const done = records.filter((r) => r.ok || r.error).length;
      const runningOnB = records.filter((r) => r.started && !r.ok && !r.error && r.upstreams.at(-1) === b.addr).length;
      if ((done >= total / 4 && runningOnB >= 2) || done >= total / 2) {
        killed = { done, runningOnB };
        process.kill(oldPid, 'SIGKILL');
      }
    };
    await load({
      records,
      clients: CLIENTS,
      requestsPerClient: REQUESTS_PER_CLIENT,
      maxTokens: (id, r) => 48 + ((id * 7 + r * 13) % 96),
      onProgress,
    });
    assert.ok(killed, 'the replica was killed during the load');

    const ok = records.filter((r) => r.ok);
    const cut = records.filter((r) => !r.ok);
    const retried = records.filter((r) => r.upstreams.length > 1);
    t.diagnostic(
      `killed replica ${b.i} after ${killed.done}/${total} requests with ${killed.runningOnB} streams running on it; ` +
        `${ok.length} completed, ${cut.length} streams cut on the killed replica, ${retried.length} resent to the other`,
    );
    assert.equal(records.length, total);
    if (cut.length) t.diagnostic(`a cut stream ends with: ${cut[0].error.split('\n')[0]}`);
    for (const r of cut) {
      // Only a stream that had started on the killed replica may be lost.
      assert.ok(r.started, `request ${r.id} failed before its answer started: ${r.error}`);
      assert.equal(r.upstreams.at(-1), b.addr, `request ${r.id} failed on the surviving replica: ${r.error}`);
    }
    assert.ok(retried.length >= 1, 'some request went to the killed replica first and was resent');
    for (const r of retried) assert.equal(r.upstreams.at(-1), a.addr, `request ${r.id} was resent to the survivor`);
    assert.ok(ok.length >= total - killed.runningOnB - CLIENTS, 'nearly everything completed');

    // The script starts b again on its port; once fail_timeout has passed nginx tries it and
    // sends it requests again (its new process counts from zero).
    const deadline = Date.now() + 30_000;
    for (;;) {
      let pid = 0;
      try {
        pid = b.pid();
      } catch {}
      if (pid && pid !== oldPid) {
        const h = await fetch(`${b.url}/health`, { signal: AbortSignal.timeout(2_000) }).catch(() => null);
        if (h?.status === 200) break;
      }
      assert.ok(Date.now() < deadline, `replica ${b.i} was not started again:\n${set.output().slice(-2000)}`);
      await sleep(100);
    }
    let servedByB = 0;
    let attempts = 0;
    while (servedByB === 0) {
      assert.ok(Date.now() < deadline + 15_000, `nginx sent nothing to the restarted replica in ${attempts} requests`);
      const where = await Promise.all(Array.from({ length: 4 }, () => shortRequest()));
      attempts += where.length;
      servedByB += where.filter((u) => u.at(-1) === b.addr).length;
      if (!servedByB) await sleep(250);
    }
    let bFinished = 0;
    for (const until = Date.now() + 5_000; bFinished < servedByB && Date.now() < until; await sleep(20)) {
      bFinished = (await replicaMetrics(b))['pagoda:requests_finished_total'];
    }
    assert.ok(bFinished >= servedByB, `the restarted replica's /metrics counts them (${bFinished})`);
    // And both take a share of a concurrent batch again.
    const batch = await Promise.all(Array.from({ length: 8 }, () => shortRequest()));
    t.diagnostic(`restarted replica served ${servedByB} of ${attempts} requests once back; batch of 8: ` +
      `${batch.filter((u) => u.at(-1) === a.addr).length} / ${batch.filter((u) => u.at(-1) === b.addr).length}`);
    assert.match(set.output(), new RegExp(`replica ${b.i} \\(pid ${oldPid}\\) exited \\(status 137\\)`));
  });

  it('drains a SIGTERMed replica without losing a request', { skip }, async (t) => {
    const [a] = set.replicas;
    const oldPid = a.pid();
    const records = [];
    let signalled = false;
    const total = 12 * 3;
    await load({
      records,
      clients: 12,
      requestsPerClient: 3,
      maxTokens: (id, r) => 32 + ((id * 5 + r * 11) % 64),
      onProgress: () => {
        if (signalled) return;
        const done = records.filter((r) => r.ok || r.error).length;
        const runningOnA = records.filter((r) => r.started && !r.ok && !r.error && r.upstreams.at(-1) === a.addr).length;
        if ((done >= total / 4 && runningOnA >= 2) || done >= total / 2) {
          signalled = { done, runningOnA };
          process.kill(oldPid, 'SIGTERM');
        }
      },
    });
    assert.ok(signalled, 'the replica was signalled during the load');
    const failed = records.filter((r) => !r.ok);
    assert.deepEqual(failed.map((r) => `${r.id} on ${r.upstreams}: ${r.error}`), [], 'nothing lost while a replica drains');
    // It drained and exited 0; the script starts it again.
    const deadline = Date.now() + 30_000;
    while (!/replica 1 \(pid \d+\) exited \(status 0\)/.test(set.output())) {
      assert.ok(Date.now() < deadline, `replica 1 did not exit 0 after SIGTERM:\n${set.output().slice(-2000)}`);
      await sleep(100);
    }
    t.diagnostic(
      `SIGTERM to replica 1 after ${signalled.done}/${total} requests with ${signalled.runningOnA} streams running on it; ` +
        `all ${records.length} completed, ${records.filter((r) => r.upstreams.length > 1).length} resent; it drained and exited 0`,
    );
  });
});
