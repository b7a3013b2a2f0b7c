// The OpenAI API of `pagoda serve` through the official `openai` npm client: chat and
// completions, streaming, n, logprobs, stop strings, usage and the prefix cache, seeds,
// models, and the non-OpenAI endpoints (/health, /metrics, /tokenize, /detokenize).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { collectStream } from './lib/collect.mjs';
import { assertSchema, assertUsage } from './lib/schemas.mjs';
import { metrics, startServer } from './lib/server.mjs';

describe('pagoda serve through the openai SDK', { timeout: 120_000 }, () => {
  let server;
  let client;
  let name;
  const user = (content) => [{ role: 'user', content }];

  before(async () => {
    server = await startServer();
    client = server.client();
    name = server.model;
  });
  after(async () => {
    if (server) assert.equal(await server.stop(), 0, `SIGTERM exits 0\n${server.log().slice(-4000)}`);
  });

  async function chat(params) {
    return assertSchema('chatCompletion', await client.chat.completions.create({ model: name, ...params }));
  }
  async function complete(params) {
    return assertSchema('textCompletion', await client.completions.create({ model: name, ...params }));
  }

  it('answers a chat completion', async () => {
    const r = await chat({ messages: user('Tell me a story'), temperature: 0, max_tokens: 12 });
    assert.equal(r.model, name);
    assert.equal(r.choices.length, 1);
    assert.equal(r.choices[0].index, 0);
    assert.ok(['stop', 'length'].includes(r.choices[0].finish_reason));
    assert.equal(typeof r.choices[0].message.content, 'string');
    assert.equal(r.choices[0].logprobs, null);
    assertUsage(r.usage);
    assert.ok(r.usage.prompt_tokens > 3, 'the chat template adds tokens');
    assert.ok(r.usage.completion_tokens >= 1 && r.usage.completion_tokens <= 12);
    // A system message and a multi-turn history render too.
    const multi = await chat({
      messages: [
        { role: 'system', content: 'You tell stories.' },
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Hello!' },
        { role: 'user', content: [{ type: 'text', text: 'Once more' }] },
      ],
      max_tokens: 4,
    });
    assert.ok(multi.usage.prompt_tokens > r.usage.prompt_tokens);
  });

  it('answers a text completion', async () => {
    const r = await complete({ prompt: 'Once upon a time', temperature: 0, max_tokens: 12, ignore_eos: true });
    assert.equal(r.choices.length, 1);
    assert.equal(r.choices[0].finish_reason, 'length');
    assert.ok(r.choices[0].text.length > 0);
    assert.equal(r.usage.completion_tokens, 12);
    assertUsage(r.usage);
    // A list of prompts: one choice per prompt.
    const two = await complete({ prompt: ['Once upon a time', 'The cat'], temperature: 0, max_tokens: 4 });
    assert.deepEqual(two.choices.map((c) => c.index), [0, 1]);
    assert.equal(two.choices[0].text.slice(0, 4), r.choices[0].text.slice(0, 4));
  });

  it('streams a chat completion equal to the non-streamed text at temperature 0', async () => {
    const params = { messages: user('Tell me a story'), temperature: 0, max_tokens: 16, ignore_eos: true };
    const whole = await chat(params);
    const stream = await client.chat.completions.create({
      model: name,
      ...params,
      stream: true,
      stream_options: { include_usage: true },
    });
    const s = await collectStream(stream, 'chat');
    assert.equal(s.chunks[0].choices[0].delta.role, 'assistant', 'the first chunk carries the role');
    assert.equal(s.choices.length, 1);
    assert.equal(s.choices[0].role, 'assistant');
    assert.equal(s.choices[0].text, whole.choices[0].message.content);
    assert.equal(s.choices[0].finish_reason, 'length');
    // The finish chunk, then the usage chunk (no choices) last; the SDK consumed [DONE].
    const finishAt = s.chunks.findIndex((c) => c.choices[0]?.finish_reason);
    assert.ok(finishAt > 0);
    const last = s.chunks.at(-1);
    assert.deepEqual(last.choices, []);
    assert.equal(last.usage.completion_tokens, 16);
    assert.equal(last.usage.prompt_tokens, whole.usage.prompt_tokens);
    assertUsage(last.usage);
    for (const c of s.chunks.slice(0, -1)) assert.equal(c.usage, null, 'usage is null before the last chunk');
    // On the wire: SSE events, the last one [DONE] (which the SDK consumed above).
    const raw = await server.postJson('/v1/chat/completions', { model: name, ...params, stream: true });
    assert.equal(raw.status, 200);
    assert.equal(raw.headers.get('content-type'), 'text/event-stream');
    const events = (await raw.text()).split('\n\n');
    assert.equal(events.pop(), '', 'every event ends with a blank line');
    assert.equal(events.pop(), 'data: [DONE]');
    for (const e of events) assertSchema('chatCompletionChunk', JSON.parse(e.replace(/^data: /, '')));
    assert.equal(events.length, s.chunks.length - 1, 'the same chunks, less the usage one');
  });

  it('streams a text completion equal to the non-streamed text, without usage unless asked', async () => {
    const params = { prompt: 'Once upon a time', temperature: 0, max_tokens: 16, ignore_eos: true };
    const whole = await complete(params);
    const s = await collectStream(await client.completions.create({ model: name, ...params, stream: true }), 'completion');
    assert.equal(s.choices[0].text, whole.choices[0].text);
    assert.equal(s.choices[0].finish_reason, 'length');
    assert.equal(s.usage, null);
    for (const c of s.chunks) assert.ok(!('usage' in c), 'no usage field without include_usage');
  });

  it('returns n=2 choices, streamed and not', async () => {
    const r = await chat({ messages: user('Hi'), n: 2, temperature: 0, max_tokens: 8, ignore_eos: true });
    assert.deepEqual(r.choices.map((c) => c.index), [0, 1]);
    assert.equal(r.choices[0].message.content, r.choices[1].message.content, 'greedy choices agree');
    assert.equal(r.usage.completion_tokens, 16);
    const sampled = await complete({ prompt: 'The dog', n: 2, temperature: 1, seed: 5, max_tokens: 8 });
    assert.deepEqual(sampled.choices.map((c) => c.index), [0, 1]);
    const s = await collectStream(
      await client.chat.completions.create({
        model: name, messages: user('Hi'), n: 2, temperature: 0, max_tokens: 8, ignore_eos: true, stream: true,
      }),
      'chat',
    );
    assert.equal(s.choices.length, 2);
    for (const c of s.choices) {
      assert.equal(c.role, 'assistant');
      assert.equal(c.finish_reason, 'length');
      assert.equal(c.text, r.choices[0].message.content);
    }
  });

  it('returns chat logprobs with top_logprobs', async () => {
    const r = await chat({
      messages: user('Tell me a story'), temperature: 0, max_tokens: 8, ignore_eos: true, logprobs: true, top_logprobs: 3,
    });
    const content = r.choices[0].logprobs.content;
    assert.equal(content.length, 8);
    // A token may be part of a UTF-8 character: its bytes are exact, its text may not be.
    const joined = Buffer.from(content.flatMap((t) => t.bytes));
    assert.equal(joined.toString('utf8'), r.choices[0].message.content);
    for (const t of content) {
      assert.equal(t.top_logprobs.length, 3);
      assert.ok(t.logprob <= 0);
      if (!t.token.includes('\ufffd')) assert.deepEqual(t.bytes, [...Buffer.from(t.token, 'utf8')]);
      const tops = t.top_logprobs.map((x) => x.logprob);
      assert.deepEqual(tops, [...tops].sort((a, b) => b - a), 'top_logprobs are sorted');
      // Greedy: the chosen token is the most likely one.
      assert.ok(Math.abs(t.logprob - tops[0]) < 1e-4, `${t.logprob} vs ${tops[0]}`);
    }
    // Streamed logprobs are the same tokens.
    const s = await collectStream(
      await client.chat.completions.create({
        model: name, messages: user('Tell me a story'), temperature: 0, max_tokens: 8, ignore_eos: true,
        logprobs: true, top_logprobs: 3, stream: true,
      }),
      'chat',
    );
    assert.deepEqual(s.choices[0].logprobs.map((t) => t.token), content.map((t) => t.token));
    // Without top_logprobs: the chosen token only.
    const plain = await chat({ messages: user('Hi'), max_tokens: 3, logprobs: true });
    for (const t of plain.choices[0].logprobs.content) assert.deepEqual(t.top_logprobs, []);
  });

  it('returns completion logprobs', async () => {
    const r = await complete({ prompt: 'Once upon a time', temperature: 0, max_tokens: 8, ignore_eos: true, logprobs: 2 });
    const lp = r.choices[0].logprobs;
    assert.equal(lp.tokens.length, 8);
    assert.equal(lp.token_logprobs.length, 8);
    assert.equal(lp.top_logprobs.length, 8);
    assert.equal(lp.text_offset.length, 8);
    const whole = !lp.tokens.some((t) => t.includes('\ufffd'));  // no token splits a character
    if (whole) assert.equal(lp.tokens.join(''), r.choices[0].text);
    let offset = 0;
    for (let i = 0; i < 8; i++) {
      if (whole) assert.equal(lp.text_offset[i], offset);
      else assert.ok(lp.text_offset[i] >= offset);
      offset = lp.text_offset[i] + (whole ? Buffer.byteLength(lp.tokens[i]) : 1);
      const top = Object.values(lp.top_logprobs[i]);
      assert.ok(top.length >= 1 && top.length <= 2);
      assert.ok(Math.abs(lp.token_logprobs[i] - Math.max(...top)) < 1e-4, 'greedy picks the most likely token');
    }
  });

  it('stops at a stop string', async () => {
    const base = { prompt: 'Once upon a time', temperature: 0, max_tokens: 40, ignore_eos: true };
    const full = (await complete(base)).choices[0].text;
    assert.ok(full.length >= 20, full);
    const chars = (text, from, to) => Array.from(text).slice(from, to).join('');  // whole code points
    const stop = chars(full, 10, 14);
    const r = await complete({ ...base, stop: [stop, 'zzzz-never'] });
    assert.equal(r.choices[0].text, full.slice(0, full.indexOf(stop)));
    assert.equal(r.choices[0].finish_reason, 'stop');
    // Streamed, as a single string, in chat.
    const chatFull = (await chat({ messages: user('Hi'), temperature: 0, max_tokens: 40, ignore_eos: true })).choices[0]
      .message.content;
    assert.ok(chatFull.length >= 12, chatFull);
    const chatStop = chars(chatFull, 8, 11);
    const s = await collectStream(
      await client.chat.completions.create({
        model: name, messages: user('Hi'), temperature: 0, max_tokens: 40, ignore_eos: true, stop: chatStop, stream: true,
      }),
      'chat',
    );
    assert.equal(s.choices[0].text, chatFull.slice(0, chatFull.indexOf(chatStop)));
    assert.equal(s.choices[0].finish_reason, 'stop');
  });

  it('reports usage and cached prompt tokens for a repeated long prompt', async () => {
    const words = Array.from({ length: 40 }, (_, i) => `word${i} and ${i * 7}`).join(', ');
    const prompt = `${Date.now()} ${words}`;
    const first = await complete({ prompt, max_tokens: 2, temperature: 0 });
    assertUsage(first.usage);
    assert.ok(first.usage.prompt_tokens > 100, `a long prompt (${first.usage.prompt_tokens} tokens)`);
    assert.equal(first.usage.prompt_tokens_details.cached_tokens, 0);
    const second = await complete({ prompt, max_tokens: 2, temperature: 0 });
    assertUsage(second.usage);
    assert.equal(second.usage.prompt_tokens, first.usage.prompt_tokens);
    const cached = second.usage.prompt_tokens_details.cached_tokens;
    assert.ok(cached >= first.usage.prompt_tokens - 32 && cached < second.usage.prompt_tokens, `cached ${cached}`);
    assert.equal(second.choices[0].text, first.choices[0].text, 'the cache does not change the answer');
    // Chat too.
    const messages = user(words);
    await chat({ messages, max_tokens: 2 });
    const again = await chat({ messages, max_tokens: 2 });
    assert.ok(again.usage.prompt_tokens_details.cached_tokens > 0);
  });

  it('reproduces a sampled output with the same seed and not with another', async () => {
    const params = { prompt: 'One day', temperature: 1, max_tokens: 24, ignore_eos: true };
    const a = await complete({ ...params, seed: 1234 });
    const b = await complete({ ...params, seed: 1234 });
    const c = await complete({ ...params, seed: 98765 });
    assert.equal(a.choices[0].text, b.choices[0].text);
    assert.notEqual(a.choices[0].text, c.choices[0].text);
    const chatParams = { messages: user('Tell me a story'), temperature: 1, max_tokens: 24, ignore_eos: true };
    const x = await chat({ ...chatParams, seed: 7 });
    const y = await chat({ ...chatParams, seed: 7 });
    const z = await chat({ ...chatParams, seed: 8 });
    assert.equal(x.choices[0].message.content, y.choices[0].message.content);
    assert.notEqual(x.choices[0].message.content, z.choices[0].message.content);
    // A streamed request with the seed samples the same tokens.
    const s = await collectStream(await client.completions.create({ model: name, ...params, seed: 1234, stream: true }), 'completion');
    assert.equal(s.choices[0].text, a.choices[0].text);
  });

  it('lists and retrieves models', async () => {
    const list = await client.models.list();
    const ids = [];
    for await (const m of list) {
      assertSchema('model', m);
      ids.push(m.id);
    }
    assert.deepEqual(ids, [name]);
    const raw = await (await server.fetch('/v1/models')).json();
    assertSchema('modelList', raw);
    const m = assertSchema('model', await client.models.retrieve(name));
    assert.equal(m.id, name);
    assert.ok(m.max_model_len > 0);
    // Omitting the model uses the served one.
    const r = await client.completions.create({ model: undefined, prompt: 'Hi', max_tokens: 1 });
    assert.equal(r.model, name);
  });

  it('answers /health, /version and /metrics without a key', async () => {
    const health = await fetch(`${server.url}/health`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'ok' });
    const version = await fetch(`${server.url}/version`);
    assert.equal(version.status, 200);
    assert.equal(typeof (await version.json()).version, 'string');

    await complete({ prompt: 'Hi', max_tokens: 2 });
    const res = await fetch(`${server.url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^text\/plain/);
    const text = await res.text();
    for (const metric of [
      'vllm:num_requests_running', 'vllm:num_requests_waiting', 'vllm:gpu_cache_usage_perc',
      'vllm:kv_cache_usage_perc', 'vllm:prefix_cache_queries_total', 'vllm:prefix_cache_hits_total',
      'vllm:num_preemptions_total', 'vllm:prompt_tokens_total', 'vllm:generation_tokens_total',
      'vllm:time_to_first_token_seconds_bucket', 'vllm:time_per_output_token_seconds_count',
      'vllm:e2e_request_latency_seconds_sum',
    ]) {
      assert.ok(text.includes(`${metric}{model_name="${name}"`), `/metrics has ${metric}`);
    }
    assert.match(text, /# TYPE vllm:num_requests_running gauge/);
    assert.match(text, /# TYPE vllm:prompt_tokens_total counter/);
    assert.match(text, /# TYPE vllm:e2e_request_latency_seconds histogram/);
    const m = await metrics(server);
    assert.ok(m['vllm:prompt_tokens_total'] > 0);
    assert.ok(m['vllm:generation_tokens_total'] > 0);
    assert.ok(m['vllm:e2e_request_latency_seconds_count'] > 0);
  });

  it('tokenizes and detokenizes', async () => {
    const t = await server.postJson('/tokenize', { prompt: 'Once upon a time' });
    assert.equal(t.status, 200);
    const tj = assertSchema('tokenize', await t.json());
    assert.ok(Array.isArray(tj.tokens) && tj.tokens.length >= 2);
    assert.equal(tj.count, tj.tokens.length);
    assert.ok(tj.max_model_len > 0);
    const plain = await (await server.postJson('/tokenize', { prompt: 'Once upon a time', add_special_tokens: false })).json();
    const d = await server.postJson('/detokenize', { tokens: plain.tokens });
    assert.equal(d.status, 200);
    assert.equal(assertSchema('detokenize', await d.json()).prompt.trim(), 'Once upon a time');
    // The completions' usage counts the same tokens /tokenize returns.
    const r = await complete({ prompt: 'Once upon a time', max_tokens: 1 });
    assert.equal(r.usage.prompt_tokens, tj.count);
    // Chat messages: the count matches the chat completion's prompt_tokens.
    const messages = user('Hello there');
    const ct = await (await server.postJson('/tokenize', { messages })).json();
    const cr = await chat({ messages, max_tokens: 1 });
    assert.equal(ct.count, cr.usage.prompt_tokens);
    // Both need the key.
    const noKey = await fetch(`${server.url}/tokenize`, { method: 'POST', body: JSON.stringify({ prompt: 'x' }) });
    assert.equal(noKey.status, 401);
    await noKey.arrayBuffer();
  });
});
