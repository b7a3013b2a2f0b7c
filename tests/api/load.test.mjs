// Load: 64 concurrent streaming clients x 4 requests (a quarter abort mid-stream), twice,
// checking every chunk, no 5xx, an idle engine afterwards and a flat resident memory; then
// 256 connections held open at once, each streaming a request to its end.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { collectStream } from './lib/collect.mjs';
import { assertSchema } from './lib/schemas.mjs';
import { metrics, sleep, startServer, waitIdle } from './lib/server.mjs';

const CLIENTS = 64;
const REQUESTS_PER_CLIENT = 4;
const CONNECTIONS = 256;

// Rejects after `ms` so a stuck request fails the test instead of hanging it.
function within(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

describe('load', { timeout: 180_000 }, () => {
  let server;
  let client;
  let name;

  before(async () => {
    // A small KV pool: the first round touches all of it, so the second round's RSS shows heap
    // growth, not first-touched pool pages.
    server = await startServer({ extraArgs: ['--max-num-seqs', '64'], kvCacheMemory: '8MiB' });
    client = server.client({ timeout: 60_000 });
    name = server.model;
  });
  after(async () => {
    if (server) assert.equal(await server.stop(), 0, `SIGTERM exits 0\n${server.log().slice(-4000)}`);
  });

  // One client: REQUESTS_PER_CLIENT streamed requests in a row; an aborting client cancels
  // each one after its first few chunks.
  async function runClient(id, stats) {
    const aborting = id % 4 === 0;
    for (let r = 0; r < REQUESTS_PER_CLIENT; r++) {
      const kind = (id + r) % 2 ? 'chat' : 'completion';
      const params = {
        model: name,
        max_tokens: aborting ? 48 : 8 + ((id + r) % 9),
        temperature: 0.7,
        seed: id * 100 + r,
        ignore_eos: aborting,
        stream: true,
        stream_options: { include_usage: true },
      };
      const controller = new AbortController();
      const abortAfter = 1 + ((id + r) % 3);
      try {
        const stream =
          kind === 'chat'
            ? await client.chat.completions.create(
                { ...params, messages: [{ role: 'user', content: `Story ${id}.${r}` }] },
                { signal: controller.signal },
              )
            : await client.completions.create({ ...params, prompt: `Once upon a time ${id} ${r}` }, { signal: controller.signal });
        const s = await collectStream(stream, kind, {
          onChunk: (_, n) => {
            if (!aborting || n !== abortAfter) return true;
            controller.abort();
            // Stop reading too: Node 20's fetch may never settle a body read that started
            // after an abort when the whole body had already arrived.
            return false;
          },
        });
        if (controller.signal.aborted) {
          // The SDK ends an aborted stream quietly (or throws APIUserAbortError, below).
          stats.aborted++;
          continue;
        }
        // Finished: one choice with a finish_reason, text, and the usage chunk last.
        assert.equal(s.choices.length, 1);
        assert.ok(['stop', 'length'].includes(s.choices[0].finish_reason), `finish ${s.choices[0].finish_reason}`);
        assert.ok(s.usage && s.usage.completion_tokens >= 1 && s.usage.completion_tokens <= params.max_tokens);
        assert.deepEqual(s.chunks.at(-1).choices, []);
        if (kind === 'chat') assert.equal(s.choices[0].role, 'assistant');
        stats.finished++;
        if (aborting) stats.finishedBeforeAbort++;
      } catch (e) {
        if (e instanceof OpenAI.APIUserAbortError || (aborting && controller.signal.aborted && e.name === 'AbortError')) {
          stats.aborted++;
        } else if (e instanceof OpenAI.APIError && e.status >= 500) {
          stats.serverErrors.push(`${e.status} ${e.message}`);
        } else {
          stats.failures.push(`client ${id} request ${r}: ${e?.stack ?? e}`);
        }
      }
    }
  }

  async function round() {
    const stats = { finished: 0, aborted: 0, finishedBeforeAbort: 0, serverErrors: [], failures: [] };
    const started = Date.now();
    await within(
      Promise.all(Array.from({ length: CLIENTS }, (_, id) => runClient(id, stats))),
      90_000,
      'a round of load',
    );
    stats.ms = Date.now() - started;
    assert.deepEqual(stats.serverErrors, [], 'no 5xx');
    assert.deepEqual(stats.failures, [], 'every request finishes well formed or is aborted');
    assert.equal(stats.finished + stats.aborted, CLIENTS * REQUESTS_PER_CLIENT);
    assert.ok(stats.aborted >= 1, 'some requests were aborted mid-stream');
    // The engine ends idle: nothing running or waiting, no KV block held.
    const m = await waitIdle(server, 5_000);
    assert.equal(m['vllm:num_requests_running'], 0, 'running');
    assert.equal(m['vllm:num_requests_waiting'], 0, 'waiting');
    assert.equal(m['vllm:kv_cache_usage_perc'], 0, 'KV cache usage');
    assert.equal(m['pagoda:kv_cache_usage_perc'], 0, 'KV blocks in use');
    stats.abortedTotal = m['pagoda:requests_aborted_total'];
    return stats;
  }

  it('serves 64 streaming clients x 4 requests twice with flat memory', async (t) => {
    const first = await round();
    const rss1 = server.rssKiB();
    const second = await round();
    const rss2 = server.rssKiB();
    for (const [label, s] of [['round 1', first], ['round 2', second]]) {
      t.diagnostic(
        `${label}: ${s.finished} finished, ${s.aborted} aborted by the client ` +
          `(${s.finishedBeforeAbort} ended before the abort), ${s.ms} ms; server aborted total ${s.abortedTotal}`,
      );
    }
    t.diagnostic(`VmRSS after round 1: ${rss1} KiB, after round 2: ${rss2} KiB (${((rss2 / rss1 - 1) * 100).toFixed(1)}%)`);
    assert.ok(second.abortedTotal > first.abortedTotal, 'the server saw the aborts');
    assert.ok(rss2 <= rss1 * 1.1, `RSS grew from ${rss1} to ${rss2} KiB`);
  });

  it(`holds ${CONNECTIONS} connections open, then streams on every one`, async (t) => {
    const before = await metrics(server);
    const started = Date.now();
    // Connect them all and wait (idle) until every socket is up.
    const sockets = await within(
      Promise.all(
        Array.from(
          { length: CONNECTIONS },
          () =>
            new Promise((resolve, reject) => {
              const socket = net.connect({ host: '127.0.0.1', port: server.port });
              socket.once('connect', () => resolve(socket));
              socket.once('error', reject);
            }),
        ),
      ),
      20_000,
      'connecting',
    );
    try {
      await sleep(300);
      for (const s of sockets) assert.ok(!s.destroyed && s.readyState === 'open', 'idle connections stay open');
      // Each sends one streamed completion (Connection: close) and reads until the server closes.
      const results = await within(
        Promise.all(
          sockets.map((socket, i) => {
            const body = JSON.stringify({
              model: name,
              prompt: `Conn ${i}: once upon a time`,
              max_tokens: 8,
              temperature: 0,
              stream: true,
            });
            const head = [
              'POST /v1/completions HTTP/1.1',
              `Host: 127.0.0.1:${server.port}`,
              `Authorization: Bearer ${server.apiKey}`,
              'Content-Type: application/json',
              `Content-Length: ${Buffer.byteLength(body)}`,
              'Connection: close',
              '',
              '',
            ].join('\r\n');
            return new Promise((resolve, reject) => {
              const parts = [];
              socket.on('data', (d) => parts.push(d));
              socket.once('error', reject);
              socket.once('end', () => resolve(Buffer.concat(parts).toString('utf8')));
              socket.write(head + body);
            });
          }),
        ),
        60_000,
        'streaming on every connection',
      );
      for (const raw of results) {
        const split = raw.indexOf('\r\n\r\n');
        const headers = raw.slice(0, split);
        assert.match(headers, /^HTTP\/1\.1 200 /);
        assert.match(headers, /content-type: text\/event-stream/i);
        assert.match(headers, /transfer-encoding: chunked/i);
        const events = dechunk(raw.slice(split + 4))
          .split('\n\n')
          .filter(Boolean)
          .map((e) => {
            assert.ok(e.startsWith('data: '), e);
            return e.slice(6);
          });
        assert.equal(events.at(-1), '[DONE]');
        const chunks = events.slice(0, -1).map((e) => assertSchema('textCompletionChunk', JSON.parse(e)));
        assert.ok(chunks.some((c) => c.choices[0]?.finish_reason), 'a finish chunk');
      }
    } finally {
      for (const s of sockets) s.destroy();
    }
    const m = await waitIdle(server, 5_000);
    assert.equal(m['vllm:num_requests_running'], 0);
    assert.equal(m['pagoda:kv_cache_usage_perc'], 0);
    assert.equal(m['pagoda:requests_finished_total'] - before['pagoda:requests_finished_total'], CONNECTIONS);
    t.diagnostic(`${CONNECTIONS} connections streamed to the end in ${Date.now() - started} ms`);
  });
});

// Decodes an HTTP/1.1 chunked body (the whole of it, ending with the 0 chunk).
function dechunk(text) {
  const buf = Buffer.from(text, 'utf8');
  const out = [];
  let at = 0;
  for (;;) {
    const eol = buf.indexOf('\r\n', at);
    assert.ok(eol > at, 'a chunk size line');
    const size = parseInt(buf.subarray(at, eol).toString(), 16);
    assert.ok(Number.isInteger(size) && size >= 0);
    if (size === 0) return Buffer.concat(out).toString('utf8');
    out.push(buf.subarray(eol + 2, eol + 2 + size));
    assert.equal(buf.subarray(eol + 2 + size, eol + 4 + size).toString(), '\r\n');
    at = eol + 4 + size;
  }
}
