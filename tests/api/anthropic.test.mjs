// The Anthropic Messages API (/v1/messages, /v1/messages/count_tokens) through the official
// `@anthropic-ai/sdk` client, on the demo model (random weights: its text is noise, so the tests
// compare answers with each other, and every well-formed tool_use is the grammar's doing).
import Anthropic from '@anthropic-ai/sdk';
import Ajv from 'ajv';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { API_KEY, repoRoot, startServer, waitIdle } from './lib/server.mjs';

process.env.PAGODA_API_MODEL = 'demo';

// Qwen 2.5's template renders tools, tool calls and tool results (hermes format).
const qwenTemplate = path.join(repoRoot, '..', 'shared', 'fixtures', 'templates', 'Qwen-Qwen2.5-7B-Instruct.jinja');

const weatherSchema = {
  type: 'object',
  properties: {
    city: { type: 'string', maxLength: 12 },
    unit: { enum: ['celsius', 'fahrenheit'] },
  },
  required: ['city', 'unit'],
  additionalProperties: false,
};
const searchSchema = {
  type: 'object',
  properties: { query: { type: 'string', minLength: 1, maxLength: 10 }, safe: { type: 'boolean' } },
  required: ['query', 'safe'],
  additionalProperties: false,
};
const tools = [
  { name: 'get_weather', description: 'Weather for a city', input_schema: weatherSchema },
  { name: 'search', description: 'Search the web', input_schema: searchSchema },
];
const ajv = new Ajv({ allErrors: true, strict: false });
const validators = { get_weather: ajv.compile(weatherSchema), search: ajv.compile(searchSchema) };
function assertToolUse(block) {
  assert.equal(block.type, 'tool_use');
  assert.match(block.id, /^toolu_[0-9A-Za-z]{24}$/);
  assert.ok(block.name in validators, `unknown tool ${block.name}`);
  assert.equal(typeof block.input, 'object');
  assert.ok(validators[block.name](block.input), `${block.name}: ${ajv.errorsText(validators[block.name].errors)}`);
}

const STOP_REASONS = ['end_turn', 'max_tokens', 'stop_sequence', 'tool_use'];
function assertMessage(msg, model) {
  assert.match(msg.id, /^msg_/);
  assert.equal(msg.type, 'message');
  assert.equal(msg.role, 'assistant');
  assert.equal(msg.model, model);
  assert.ok(Array.isArray(msg.content) && msg.content.length >= 1);
  for (const block of msg.content) assert.ok(['text', 'tool_use'].includes(block.type), block.type);
  assert.ok(STOP_REASONS.includes(msg.stop_reason), msg.stop_reason);
  if (msg.stop_reason !== 'stop_sequence') assert.equal(msg.stop_sequence, null);
  for (const key of ['input_tokens', 'output_tokens', 'cache_read_input_tokens', 'cache_creation_input_tokens'])
    assert.ok(Number.isInteger(msg.usage[key]) && msg.usage[key] >= 0, `usage.${key}`);
}

const textOf = (msg) => msg.content.filter((b) => b.type === 'text').map((b) => b.text).join('');

// Reads a raw SDK event stream, checking Anthropic's event order on the way; returns the events.
async function collectEvents(stream) {
  const events = [];
  let open = null;
  let nextIndex = 0;
  for await (const event of stream) {
    events.push(event);
    const type = event.type;
    if (events.length === 1) assert.equal(type, 'message_start', 'the stream opens with message_start');
    else assert.notEqual(type, 'message_start');
    if (type === 'content_block_start') {
      assert.equal(open, null, 'one block at a time');
      assert.equal(event.index, nextIndex, 'blocks are numbered in order');
      open = event.index;
    } else if (type === 'content_block_delta') {
      assert.equal(event.index, open, 'deltas go to the open block');
    } else if (type === 'content_block_stop') {
      assert.equal(event.index, open);
      open = null;
      nextIndex++;
    } else if (type === 'message_delta') {
      assert.equal(open, null, 'blocks are closed before message_delta');
    }
  }
  assert.equal(events.at(-1).type, 'message_stop', 'the stream ends with message_stop');
  assert.equal(events.at(-2).type, 'message_delta');
  return events;
}

// Rebuilds the message content from stream events.
function contentOf(events) {
  const blocks = [];
  for (const e of events) {
    if (e.type === 'content_block_start') blocks[e.index] = { ...e.content_block, json: '' };
    if (e.type === 'content_block_delta' && e.delta.type === 'text_delta') blocks[e.index].text += e.delta.text;
    if (e.type === 'content_block_delta' && e.delta.type === 'input_json_delta') blocks[e.index].json += e.delta.partial_json;
  }
  return blocks.map(({ json, ...b }) => (b.type === 'tool_use' ? { ...b, input: json ? JSON.parse(json) : {} } : b));
}

describe('Anthropic Messages API', { timeout: 300_000 }, () => {
  let server;
  let client;
  before(async () => {
    const template = existsSync(qwenTemplate) ? ['--chat-template', qwenTemplate] : [];
    server = await startServer({
      extraArgs: [...template, '--enable-auto-tool-choice', '--tool-call-parser', 'hermes'],
    });
    client = new Anthropic({ baseURL: server.url, apiKey: API_KEY, maxRetries: 0, timeout: 60_000 });
  });
  after(async () => {
    assert.equal(await server.stop(), 0);
  });

  it('create: a message in Anthropic\'s shape', async () => {
    const msg = await client.messages.create({
      model: server.model,
      max_tokens: 16,
      messages: [{ role: 'user', content: 'Hello there' }],
      temperature: 0,
    });
    assertMessage(msg, server.model);
    assert.equal(msg.content[0].type, 'text');
    assert.ok(msg.usage.output_tokens >= 1 && msg.usage.output_tokens <= 16);
  });

  it('stream: the event sequence, pings, and the same text as the non-streamed answer at temperature 0', async () => {
    const request = {
      model: server.model,
      max_tokens: 24,
      messages: [{ role: 'user', content: 'Tell me a story' }],
      temperature: 0,
    };
    const whole = await client.messages.create(request);
    const events = await collectEvents(await client.messages.create({ ...request, stream: true }));
    // The SDK drops pings; the raw stream has one right after message_start.
    const raw = await (await server.postJson('/v1/messages', { ...request, stream: true })).text();
    const names = [...raw.matchAll(/^event: (\w+)$/gm)].map((m) => m[1]);
    assert.deepEqual(names.slice(0, 2), ['message_start', 'ping']);
    assert.deepEqual(names.slice(-2), ['message_delta', 'message_stop']);
    const start = events[0].message;
    assert.deepEqual(start.content, []);
    assert.equal(start.stop_reason, null);
    assert.equal(start.usage.input_tokens, whole.usage.input_tokens);
    assert.deepEqual(contentOf(events), whole.content);
    const delta = events.at(-2);
    assert.equal(delta.delta.stop_reason, whole.stop_reason);
    assert.equal(delta.usage.output_tokens, whole.usage.output_tokens);
    // The SDK's own stream helper accumulates the same message.
    const final = await client.messages.stream(request).finalMessage();
    assert.equal(textOf(final), textOf(whole));
    assert.equal(final.stop_reason, whole.stop_reason);
    assert.equal(final.usage.output_tokens, whole.usage.output_tokens);
  });

  it('system prompt: a string and text blocks give the same prompt and answer; it changes the prompt', async () => {
    const base = { model: server.model, max_tokens: 12, temperature: 0, messages: [{ role: 'user', content: 'Hi' }] };
    const asString = await client.messages.create({ ...base, system: 'You are terse.' });
    const asBlocks = await client.messages.create({ ...base, system: [{ type: 'text', text: 'You are terse.' }] });
    assert.deepEqual(asBlocks.content, asString.content);
    assert.equal(asBlocks.usage.input_tokens, asString.usage.input_tokens);
    const without = await client.messages.countTokens({ model: server.model, messages: base.messages });
    const withSystem = await client.messages.countTokens({ model: server.model, messages: base.messages, system: 'You are terse.' });
    assert.notEqual(withSystem.input_tokens, without.input_tokens);
    assert.equal(withSystem.input_tokens, asString.usage.input_tokens);
  });

  it('stop_sequences end the text before the sequence, with stop_reason stop_sequence', async () => {
    const base = { model: server.model, max_tokens: 40, temperature: 0, messages: [{ role: 'user', content: 'Count with me' }] };
    const free = textOf(await client.messages.create(base));
    assert.ok(free.length >= 8, `the model wrote too little to cut: ${JSON.stringify(free)}`);
    // A piece of the free answer: generation stops at its first occurrence.
    const cut = free.slice(Math.floor(free.length / 2), Math.floor(free.length / 2) + 3);
    for (const stream of [false, true]) {
      let msg;
      if (stream) msg = await client.messages.stream({ ...base, stop_sequences: [cut] }).finalMessage();
      else msg = await client.messages.create({ ...base, stop_sequences: [cut] });
      assert.equal(msg.stop_reason, 'stop_sequence', `stream=${stream}`);
      assert.equal(msg.stop_sequence, cut);
      assert.equal(textOf(msg), free.slice(0, free.indexOf(cut)));
    }
  });

  it('max_tokens bounds the output, with stop_reason max_tokens', async () => {
    const msg = await client.messages.create({
      model: server.model,
      max_tokens: 3,
      messages: [{ role: 'user', content: 'Write a long essay' }],
      temperature: 0,
    });
    assert.ok(msg.usage.output_tokens <= 3);
    if (msg.stop_reason === 'max_tokens') assert.equal(msg.usage.output_tokens, 3);
    else assert.equal(msg.stop_reason, 'end_turn');
  });

  it('a forced tool returns a tool_use block valid against its input_schema, streamed and not', async () => {
    for (let seed = 0; seed < 5; seed++) {
      const request = {
        model: server.model,
        max_tokens: 200,
        tools,
        tool_choice: { type: 'tool', name: 'get_weather' },
        messages: [{ role: 'user', content: `Weather in city number ${seed}?` }],
        temperature: 0,
      };
      const msg = await client.messages.create(request);
      assertMessage(msg, server.model);
      assert.equal(msg.stop_reason, 'tool_use');
      const uses = msg.content.filter((b) => b.type === 'tool_use');
      assert.equal(uses.length, 1);
      assert.equal(uses[0].name, 'get_weather');
      assertToolUse(uses[0]);
      const events = await collectEvents(await client.messages.create({ ...request, stream: true }));
      const streamed = contentOf(events).filter((b) => b.type === 'tool_use');
      assert.equal(streamed.length, 1);
      assertToolUse(streamed[0]);
      assert.deepEqual(streamed[0].input, uses[0].input, 'the streamed input equals the whole answer\'s');
      assert.equal(events.at(-2).delta.stop_reason, 'tool_use');
    }
  });

  it('tool_choice any returns tool_use blocks of the offered tools; disable_parallel_tool_use gives one', async () => {
    for (let take = 0; take < 5; take++) {
      // Greedy decoding of random weights may grow a parallel array forever: the last take
      // samples and lets it be cut by max_tokens (the OpenAI tests check several calls).
      const single = take < 4;
      const msg = await client.messages.create({
        model: server.model,
        max_tokens: 600,
        tools,
        tool_choice: { type: 'any', disable_parallel_tool_use: single },
        messages: [{ role: 'user', content: `Do something useful, take ${take}` }],
        temperature: single ? 0 : 0.8,
      });
      if (!single && msg.stop_reason === 'max_tokens') continue;
      assert.equal(msg.stop_reason, 'tool_use', `take ${take}`);
      const uses = msg.content.filter((b) => b.type === 'tool_use');
      assert.ok(uses.length >= 1);
      if (single) assert.equal(uses.length, 1);
      uses.forEach(assertToolUse);
    }
  });

  it('a tool round trip: tool_use, tool_result, next turn', async () => {
    const question = { role: 'user', content: 'What is the weather in Paris?' };
    const first = await client.messages.create({
      model: server.model,
      max_tokens: 200,
      tools,
      tool_choice: { type: 'tool', name: 'get_weather' },
      messages: [question],
      temperature: 0,
    });
    const use = first.content.find((b) => b.type === 'tool_use');
    assertToolUse(use);
    const followUp = {
      model: server.model,
      max_tokens: 16,
      tools,
      tool_choice: { type: 'none' },
      messages: [
        question,
        { role: 'assistant', content: first.content },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: use.id, content: '{"temp": 21, "sky": "clear"}' },
            { type: 'text', text: 'Thanks, summarize it.' },
          ],
        },
      ],
      temperature: 0,
    };
    const second = await client.messages.create(followUp);
    assertMessage(second, server.model);
    assert.equal(second.content[0].type, 'text');
    // The tool result and the call are in the prompt: it is longer than the question alone.
    const counted = await client.messages.countTokens({ model: server.model, tools, messages: followUp.messages });
    const questionOnly = await client.messages.countTokens({ model: server.model, tools, messages: [question] });
    assert.ok(counted.input_tokens > questionOnly.input_tokens + 10);
    // A tool_result given as text blocks is the same prompt.
    const blocks = structuredClone(followUp.messages);
    blocks[2].content[0].content = [{ type: 'text', text: '{"temp": 21, "sky": "clear"}' }];
    const countedBlocks = await client.messages.countTokens({ model: server.model, tools, messages: blocks });
    assert.equal(countedBlocks.input_tokens, counted.input_tokens);
  });

  it('count_tokens equals the input_tokens of the same request; cache_read_input_tokens counts the reused prefix', async () => {
    const request = {
      model: server.model,
      max_tokens: 4,
      system: 'A long system prompt that repeats. '.repeat(12),
      messages: [{ role: 'user', content: 'Remember this.' }],
      temperature: 0,
    };
    const { max_tokens, temperature, ...countable } = request;
    const counted = await client.messages.countTokens(countable);
    assert.ok(Number.isInteger(counted.input_tokens) && counted.input_tokens > 40);
    const first = await client.messages.create(request);
    assert.equal(first.usage.input_tokens, counted.input_tokens);
    const second = await client.messages.create(request);
    assert.equal(second.usage.input_tokens, counted.input_tokens);
    assert.ok(second.usage.cache_read_input_tokens >= 32, `cache_read_input_tokens ${second.usage.cache_read_input_tokens}`);
    assert.ok(second.usage.cache_read_input_tokens < counted.input_tokens);
    assert.equal(second.usage.cache_creation_input_tokens, 0);
  });

  it('a final assistant message is continued (prefill)', async () => {
    const prefix = 'Once upon a time';
    const base = { model: server.model, max_tokens: 8, temperature: 0 };
    const continued = await client.messages.create({
      ...base,
      messages: [{ role: 'user', content: 'A story please' }, { role: 'assistant', content: prefix }],
    });
    assertMessage(continued, server.model);
    const fresh = await client.messages.countTokens({ model: server.model, messages: [{ role: 'user', content: 'A story please' }] });
    const withPrefill = await client.messages.countTokens({
      model: server.model,
      messages: [{ role: 'user', content: 'A story please' }, { role: 'assistant', content: prefix }],
    });
    // The prompt ends with the prefix itself (the turn is not closed and reopened).
    const grew = withPrefill.input_tokens - fresh.input_tokens;
    assert.ok(grew >= 1 && grew <= prefix.length, `the prefill added ${grew} tokens`);
  });

  it('answers errors in Anthropic\'s shape with the matching status', async () => {
    const expectError = async (promise, status, type, pattern) => {
      await assert.rejects(promise, (err) => {
        assert.ok(err instanceof Anthropic.APIError, String(err));
        assert.equal(err.status, status, err.message);
        assert.equal(err.error.type, 'error');
        assert.equal(err.error.error.type, type);
        if (pattern) assert.match(err.error.error.message, pattern);
        return true;
      });
    };
    const ok = { model: server.model, max_tokens: 4, messages: [{ role: 'user', content: 'hi' }] };
    const wrongKey = new Anthropic({ baseURL: server.url, apiKey: 'wrong', maxRetries: 0 });
    await expectError(wrongKey.messages.create(ok), 401, 'authentication_error');
    await expectError(client.messages.create({ ...ok, model: 'no-such-model' }), 404, 'not_found_error', /no-such-model/);
    await expectError(client.messages.create({ model: server.model, messages: ok.messages }), 400, 'invalid_request_error', /max_tokens/);
    await expectError(client.messages.create({ ...ok, messages: [] }), 400, 'invalid_request_error', /messages/);
    await expectError(client.messages.create({ ...ok, messages: [{ role: 'system', content: 'x' }] }), 400, 'invalid_request_error', /role/);
    await expectError(client.messages.create({ ...ok, temperature: 1.5 }), 400, 'invalid_request_error', /temperature/);
    await expectError(
      client.messages.create({
        ...ok,
        messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAAA' } }] }],
      }),
      400, 'invalid_request_error', /text only/,
    );
    await expectError(client.messages.create({ ...ok, tools, tool_choice: { type: 'tool', name: 'missing' } }), 400, 'invalid_request_error', /tool_choice/);
    await expectError(client.messages.create({ ...ok, tools: [{ name: 'x' }] }), 400, 'invalid_request_error', /input_schema/);
    await expectError(client.messages.countTokens({ model: server.model, messages: [] }), 400, 'invalid_request_error');
    // Malformed JSON and an unknown route under /v1/messages, raw.
    const raw = await server.fetch('/v1/messages', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"max_tokens": ' });
    assert.equal(raw.status, 400);
    assert.equal((await raw.json()).error.type, 'invalid_request_error');
    const huge = await server.fetch('/v1/messages', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: 'x'.repeat(9 << 20) });
    assert.equal(huge.status, 413);
    assert.equal((await huge.json()).error.type, 'request_too_large');
    const missing = await server.fetch('/v1/messages/batches', { method: 'POST', body: '{}' });
    assert.equal(missing.status, 404);
    assert.equal((await missing.json()).error.type, 'not_found_error');
  });

  it('accepts the key as x-api-key or Authorization: Bearer, and anthropic-version', async () => {
    const body = JSON.stringify({ model: server.model, max_tokens: 2, messages: [{ role: 'user', content: 'hi' }] });
    for (const headers of [{ 'x-api-key': API_KEY }, { Authorization: `Bearer ${API_KEY}` }]) {
      const r = await fetch(`${server.url}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', ...headers },
        body,
        signal: AbortSignal.timeout(30_000),
      });
      assert.equal(r.status, 200);
      assert.equal((await r.json()).type, 'message');
    }
    await waitIdle(server);
  });
});

describe('Anthropic overload', { timeout: 120_000 }, () => {
  it('answers 529 overloaded_error when too many requests wait', async () => {
    const server = await startServer({ extraArgs: ['--max-waiting', '1', '--max-num-seqs', '1'] });
    try {
      const client = new Anthropic({ baseURL: server.url, apiKey: API_KEY, maxRetries: 0 });
      // A long stream holds the only waiting slot; the next request is refused.
      const long = await client.messages.create({
        model: server.model,
        max_tokens: 4000,
        messages: [{ role: 'user', content: 'go on forever' }],
        stream: true,
      });
      const iterator = long[Symbol.asyncIterator]();
      await iterator.next();
      await assert.rejects(client.messages.create({ model: server.model, max_tokens: 2, messages: [{ role: 'user', content: 'hi' }] }), (err) => {
        assert.equal(err.status, 529);
        assert.equal(err.error.error.type, 'overloaded_error');
        return true;
      });
      long.controller.abort();
      await waitIdle(server);
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });
});
