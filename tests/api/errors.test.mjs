// Every error `pagoda serve` answers, as the openai SDK sees it (its error classes, status,
// param, code) and, where the SDK cannot send the request, over raw fetch. Every error body
// is checked against OpenAI's {"error": {message, type, param, code}} shape.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { assertSchema } from './lib/schemas.mjs';
import { startServer, waitIdle } from './lib/server.mjs';

// Awaits `promise`, expects it to reject with an SDK `Class` error of `status`; returns the error.
async function rejects(promise, Class, status) {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof Class, `expected ${Class.name}, got ${e?.constructor?.name}: ${e?.message}`);
    assert.equal(e.status, status);
    assertSchema('error', { error: e.error });
    return e;
  }
  assert.fail(`expected ${Class.name} (${status}), the request succeeded`);
}

async function errorBody(res, status) {
  assert.equal(res.status, status);
  assert.match(res.headers.get('content-type'), /^application\/json/);
  return assertSchema('error', await res.json()).error;
}

describe('errors', { timeout: 120_000 }, () => {
  let server;
  let client;
  let name;
  let maxModelLen;
  const messages = [{ role: 'user', content: 'Hi' }];

  before(async () => {
    server = await startServer();
    client = server.client();
    name = server.model;
    maxModelLen = (await client.models.retrieve(name)).max_model_len;
  });
  after(async () => {
    if (server) assert.equal(await server.stop(), 0, `SIGTERM exits 0\n${server.log().slice(-4000)}`);
  });

  it('401 for a missing or wrong API key', async () => {
    // A null default header makes the SDK send no Authorization at all.
    const sent = [];
    const noKey = server.client({
      apiKey: 'unused',
      defaultHeaders: { Authorization: null },
      fetch: (url, init) => {
        sent.push(new Headers(init.headers).get('authorization'));
        return fetch(url, init);
      },
    });
    const e = await rejects(noKey.chat.completions.create({ model: name, messages }), OpenAI.AuthenticationError, 401);
    assert.deepEqual(sent, [null], 'no Authorization header was sent');
    assert.equal(e.code, 'invalid_api_key');
    assert.equal(e.headers.get('www-authenticate'), 'Bearer');
    const wrong = server.client({ apiKey: 'not-the-key' });
    await rejects(wrong.completions.create({ model: name, prompt: 'Hi' }), OpenAI.AuthenticationError, 401);
    await rejects(wrong.models.list(), OpenAI.AuthenticationError, 401);
    // A key that only starts like the right one, and the scheme in lower case with the right key.
    await rejects(server.client({ apiKey: `${server.apiKey}x` }).models.list(), OpenAI.AuthenticationError, 401);
    const lower = await fetch(`${server.baseURL}/models`, { headers: { Authorization: `bearer ${server.apiKey}` } });
    assert.equal(lower.status, 200);
    await lower.arrayBuffer();
    // /health and /metrics need no key.
    for (const p of ['/health', '/metrics']) {
      const r = await fetch(server.url + p);
      assert.equal(r.status, 200, p);
      await r.arrayBuffer();
    }
  });

  it('404 for an unknown model or route', async () => {
    const e = await rejects(
      client.chat.completions.create({ model: 'gpt-9', messages }),
      OpenAI.NotFoundError,
      404,
    );
    assert.equal(e.param, 'model');
    assert.equal(e.code, 'model_not_found');
    assert.match(e.message, /gpt-9/);
    await rejects(client.completions.create({ model: 'gpt-9', prompt: 'x' }), OpenAI.NotFoundError, 404);
    await rejects(client.models.retrieve('gpt-9'), OpenAI.NotFoundError, 404);
    await errorBody(await server.postJson('/v1/nothing', {}), 404);
  });

  it('400 for malformed JSON', async () => {
    for (const body of ['{"messages": [', 'not json', '[1, 2]', '', '{"model": "x"} trailing']) {
      const res = await server.fetch('/v1/chat/completions', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body,
      });
      const err = await errorBody(res, 400);
      assert.equal(err.type, 'invalid_request_error', body);
    }
    const res = await server.fetch('/v1/completions', { method: 'POST', body: '{"prompt": "a", "max_tokens": }' });
    assert.match((await errorBody(res, 400)).message, /JSON/);
  });

  it('400 for an invalid value, naming the parameter', async () => {
    const cases = [
      ['chat', { temperature: -1 }, 'temperature'],
      ['chat', { temperature: 'hot' }, 'temperature'],
      ['chat', { top_p: 5 }, 'top_p'],
      ['chat', { top_p: 0 }, 'top_p'],
      ['chat', { max_tokens: 0 }, 'max_tokens'],
      ['chat', { max_completion_tokens: -3 }, 'max_completion_tokens'],
      ['chat', { n: 0 }, 'n'],
      ['chat', { n: 1.5 }, 'n'],
      ['chat', { presence_penalty: 3 }, 'presence_penalty'],
      ['chat', { frequency_penalty: -2.5 }, 'frequency_penalty'],
      ['chat', { top_logprobs: 3 }, 'top_logprobs'],
      ['chat', { logprobs: true, top_logprobs: 1000 }, 'top_logprobs'],
      ['chat', { logprobs: 'yes' }, 'logprobs'],
      ['chat', { stop: 7 }, 'stop'],
      ['chat', { seed: 'x' }, 'seed'],
      ['chat', { stream: 'yes' }, 'stream'],
      ['chat', { stream_options: { include_usage: true } }, 'stream_options'],
      ['chat', { logit_bias: { abc: 1 } }, 'logit_bias'],
      ['chat', { logit_bias: { 5: 1000 } }, 'logit_bias'],
      ['chat', { messages: [] }, 'messages'],
      ['chat', { messages: [{ content: 'no role' }] }, 'messages'],
      ['chat', { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] }, 'messages'],
      ['chat', { model: 7 }, 'model'],
      ['completion', { prompt: 7 }, 'prompt'],
      ['completion', { prompt: [] }, 'prompt'],
      ['completion', { prompt: [1, -2] }, 'prompt'],
      ['completion', { prompt: [10_000_000] }, 'prompt'],
      ['completion', { logprobs: 50 }, 'logprobs'],
      ['completion', { echo: true, logprobs: 1 }, 'echo'],
      ['completion', { suffix: 'x' }, 'suffix'],
      ['completion', { best_of: 3 }, 'best_of'],
      ['completion', { min_tokens: 9, max_tokens: 3 }, 'min_tokens'],
    ];
    for (const [kind, extra, param] of cases) {
      const request =
        kind === 'chat'
          ? client.chat.completions.create({ model: name, messages, max_tokens: 2, ...extra })
          : client.completions.create({ model: name, prompt: 'Hi', max_tokens: 2, ...extra });
      const e = await rejects(request, OpenAI.BadRequestError, 400);
      assert.equal(e.param, param, `${JSON.stringify(extra)}: param ${e.param} (${e.message})`);
      assert.equal(e.type, 'invalid_request_error');
    }
    const noPrompt = await rejects(client.completions.create({ model: name }), OpenAI.BadRequestError, 400);
    assert.equal(noPrompt.param, 'prompt');
  });

  it('400 when the prompt does not fit the context, with the numbers', async () => {
    // Prompt + max_tokens over the context.
    const e = await rejects(
      client.completions.create({ model: name, prompt: 'Once upon a time', max_tokens: maxModelLen }),
      OpenAI.BadRequestError,
      400,
    );
    assert.equal(e.code, 'context_length_exceeded');
    assert.ok(e.message.includes(String(maxModelLen)), e.message);
    const prompt = (await (await server.postJson('/tokenize', { prompt: 'Once upon a time' })).json()).count;
    assert.ok(e.message.includes(String(prompt + maxModelLen)), e.message);
    // A prompt longer than the context (token ids, so its length is exact).
    const ids = (await (await server.postJson('/tokenize', { prompt: 'the', add_special_tokens: false })).json()).tokens;
    const long = Array.from({ length: maxModelLen + 5 }, () => ids.at(-1));
    const e2 = await rejects(client.completions.create({ model: name, prompt: long, max_tokens: 1 }), OpenAI.BadRequestError, 400);
    assert.equal(e2.code, 'context_length_exceeded');
    assert.ok(e2.message.includes(String(maxModelLen + 5)) && e2.message.includes(String(maxModelLen)), e2.message);
    assert.equal(e2.param, 'prompt');
    // Chat: a long conversation.
    const text = 'the '.repeat(maxModelLen + 10);
    const e3 = await rejects(
      client.chat.completions.create({ model: name, messages: [{ role: 'user', content: text }], max_tokens: 4 }),
      OpenAI.BadRequestError,
      400,
    );
    assert.equal(e3.code, 'context_length_exceeded');
    assert.equal(e3.param, 'messages');
    assert.ok(e3.message.includes(String(maxModelLen)), e3.message);
  });

  it('413 for a body over 8 MiB', async () => {
    const body = JSON.stringify({ model: name, prompt: 'x'.repeat(9 * 1024 * 1024), max_tokens: 1 });
    let res;
    try {
      res = await server.fetch('/v1/completions', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
    } catch (e) {
      assert.fail(`the server must answer 413, not drop the connection: ${e.cause?.message ?? e.message}`);
    }
    const err = await errorBody(res, 413);
    assert.equal(err.code, 'request_too_large');
    // The server still serves afterwards.
    const ok = await client.completions.create({ model: name, prompt: 'Hi', max_tokens: 1 });
    assertSchema('textCompletion', ok);
  });

  it('431 for headers over 16 KiB', async () => {
    let res;
    try {
      res = await server.fetch('/v1/models', { headers: { 'X-Padding': 'a'.repeat(20_000) } });
    } catch (e) {
      assert.fail(`the server must answer 431, not drop the connection: ${e.cause?.message ?? e.message}`);
    }
    await errorBody(res, 431);
  });

  it('405 for a wrong method', async () => {
    await errorBody(await server.fetch('/v1/chat/completions', { method: 'GET' }), 405);
    await errorBody(await server.fetch('/health', { method: 'POST' }), 405);
  });

  it('leaves nothing running after all these errors', async () => {
    const m = await waitIdle(server);
    assert.equal(m['vllm:num_requests_running'], 0);
    assert.equal(m['vllm:kv_cache_usage_perc'], 0);
  });
});

describe('503 when the queue is full', { timeout: 120_000 }, () => {
  let server;
  before(async () => {
    server = await startServer({ extraArgs: ['--max-waiting', '2', '--max-num-seqs', '1'] });
  });
  after(async () => {
    if (server) assert.equal(await server.stop(), 0, `SIGTERM exits 0\n${server.log().slice(-4000)}`);
  });

  it('answers 503 with Retry-After, then recovers', async () => {
    const client = server.client();
    const name = server.model;
    // Two long streams fill the queue (one runs, one waits); wait for the first bytes of both.
    const holders = [];
    const firstChunks = [];
    for (let i = 0; i < 2; i++) {
      const controller = new AbortController();
      const stream = await client.completions.create(
        { model: name, prompt: 'Once upon a time', max_tokens: 1500, ignore_eos: true, stream: true },
        { signal: controller.signal },
      );
      const iterator = stream[Symbol.asyncIterator]();
      holders.push({ controller, iterator });
      // The headers are here: the job is in flight (the second waits for the single seat).
      firstChunks.push(i === 0 ? await iterator.next() : null);
    }
    try {
      // A flood on top: every one is refused at once.
      const flood = await Promise.allSettled(
        Array.from({ length: 12 }, (_, i) =>
          i % 2
            ? client.chat.completions.create({ model: name, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 2 })
            : client.completions.create({ model: name, prompt: 'Hi', max_tokens: 2 }),
        ),
      );
      for (const r of flood) {
        assert.equal(r.status, 'rejected', 'the queue is full');
        const e = r.reason;
        assert.ok(e instanceof OpenAI.InternalServerError, `${e?.constructor?.name}: ${e?.message}`);
        assert.equal(e.status, 503);
        assert.equal(e.headers.get('retry-after'), '1');
        assert.equal(e.code, 'overloaded');
        assertSchema('error', { error: e.error });
      }
      const raw = await server.postJson('/v1/completions', { model: name, prompt: 'Hi', max_tokens: 2 });
      assert.equal(raw.status, 503);
      assert.equal(raw.headers.get('retry-after'), '1');
      await errorBody(raw, 503);
      // Small endpoints still answer.
      assert.equal((await fetch(`${server.url}/health`)).status, 200);
    } finally {
      for (const h of holders) h.controller.abort();
    }
    // Aborted clients free their seats: the server serves again.
    const idle = await waitIdle(server, 10_000);
    assert.equal(idle['vllm:num_requests_running'], 0);
    assert.equal(idle['pagoda:kv_cache_usage_perc'], 0);
    let ok = null;
    for (let i = 0; i < 50 && !ok; i++) {
      ok = await client.completions.create({ model: name, prompt: 'Hi', max_tokens: 2 }).catch((e) => {
        if (e.status !== 503) throw e;
        return new Promise((resolve) => setTimeout(() => resolve(null), 100));
      });
    }
    assertSchema('textCompletion', ok);
    assert.ok(firstChunks[0].value, 'the first holder streamed');
  });
});
