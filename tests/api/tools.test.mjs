// Tool calling and structured output through the official `openai` client, on the demo model
// (random weights: whatever it "wants" to write is noise, so every well-formed call below is the
// grammar's doing). Checked with ajv against the tools' own schemas, streamed and not.
import Ajv from 'ajv';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { assertSchema } from './lib/schemas.mjs';
import { repoRoot, startServer } from './lib/server.mjs';

// Random weights, so the demo model (not stories260K, which writes stories).
process.env.PAGODA_API_MODEL = 'demo';

// Qwen 2.5's template renders tools, tool calls and tool results (hermes format); the demo
// vocabulary has its <|im_start|> / <|im_end|> tokens. Without ../shared the demo's own ChatML.
const qwenTemplate = path.join(repoRoot, '..', 'shared', 'fixtures', 'templates', 'Qwen-Qwen2.5-7B-Instruct.jinja');

// Strings are bounded (maxLength / enum): a random-weights model would otherwise rarely close one.
const weatherParams = {
  type: 'object',
  properties: {
    city: { type: 'string', maxLength: 12 },
    unit: { enum: ['celsius', 'fahrenheit'] },
    days: { type: 'integer' },
  },
  required: ['city', 'unit'],
  additionalProperties: false,
};
const searchParams = {
  type: 'object',
  properties: {
    query: { type: 'string', minLength: 1, maxLength: 10 },
    filters: {
      type: 'object',
      properties: {
        safe: { type: 'boolean' },
        tags: { type: 'array', items: { enum: ['news', 'web', 'images'] }, maxItems: 3 },
      },
      required: ['safe'],
      additionalProperties: false,
    },
  },
  required: ['query', 'filters'],
  additionalProperties: false,
};
const tools = [
  { type: 'function', function: { name: 'get_weather', description: 'Weather for a city', parameters: weatherParams } },
  { type: 'function', function: { name: 'search', description: 'Search the web', parameters: searchParams } },
  { type: 'function', function: { name: 'now', description: 'The time (no arguments)' } },
];
const paramsOf = { get_weather: weatherParams, search: searchParams, now: { type: 'object' } };

const ajv = new Ajv({ allErrors: true, strict: false });
const validators = Object.fromEntries(Object.entries(paramsOf).map(([k, v]) => [k, ajv.compile(v)]));
function assertArguments(name, argumentsText) {
  assert.ok(name in validators, `unknown function ${name}`);
  const args = JSON.parse(argumentsText);
  assert.ok(validators[name](args), `${name}(${argumentsText}): ${ajv.errorsText(validators[name].errors)}`);
  return args;
}

// JSON values compared as JSON: -0 and 0 are one number (a model may write "-0"; the whole
// answer's arguments are re-serialized, the streamed ones are the model's own text).
const sameJson = (value) => JSON.stringify(value);

// Assembles streamed tool calls, checking the OpenAI streaming contract on the way: the first
// delta of a call has its index, id, type and whole name; later ones carry only arguments.
async function collectToolStream(stream) {
  const calls = [];
  let content = '';
  let finish = null;
  for await (const chunk of stream) {
    assertSchema('chatCompletionChunk', chunk);
    for (const choice of chunk.choices) {
      assert.equal(finish, null, 'nothing after the finish_reason');
      content += choice.delta.content ?? '';
      for (const d of choice.delta.tool_calls ?? []) {
        if (!calls[d.index]) {
          assert.equal(d.index, calls.length, 'calls are numbered in order');
          assert.ok(d.id && d.function?.name, `the first delta of a call has its id and name: ${JSON.stringify(d)}`);
          assert.equal(d.type, 'function');
          calls[d.index] = { id: d.id, name: d.function.name, arguments: d.function.arguments ?? '' };
        } else {
          assert.equal(d.function?.name, undefined, 'a name is sent once, whole');
          assert.equal(d.id, undefined);
          calls[d.index].arguments += d.function?.arguments ?? '';
        }
      }
      if (choice.finish_reason) finish = choice.finish_reason;
    }
  }
  return { calls, content, finish };
}

describe('tool calling and structured output', { timeout: 300_000 }, () => {
  let server;
  let client;
  let name;
  const ask = [{ role: 'user', content: 'What is the weather in Paris, and what is new?' }];

  before(async () => {
    const template = existsSync(qwenTemplate) ? ['--chat-template', qwenTemplate] : [];
    server = await startServer({
      extraArgs: [...template, '--enable-auto-tool-choice', '--tool-call-parser', 'hermes'],
    });
    client = server.client();
    name = server.model;
  });
  after(async () => {
    if (server) assert.equal(await server.stop(), 0, `SIGTERM exits 0\n${server.log().slice(-4000)}`);
  });

  // One call per answer (parallel_tool_calls: false): a random-weights model may otherwise keep
  // adding calls to the array until max_tokens runs out.
  it('tool_choice "required" returns calls valid against the tools\' schemas (20 seeds, streamed and not)', async () => {
    for (let seed = 1; seed <= 20; seed++) {
      const params = {
        model: name, messages: ask, tools, tool_choice: 'required', parallel_tool_calls: false, seed, max_tokens: 400,
      };
      const whole = assertSchema('chatCompletion', await client.chat.completions.create(params));
      const choice = whole.choices[0];
      assert.equal(choice.finish_reason, 'tool_calls', `seed ${seed}: ${JSON.stringify(choice)}`);
      assert.equal(choice.message.content, null);
      assert.ok(choice.message.tool_calls.length >= 1);
      for (const call of choice.message.tool_calls) {
        assert.match(call.id, /^chatcmpl-tool-[0-9a-f]{32}$/);
        assertArguments(call.function.name, call.function.arguments);
      }
      // The same seed streamed: the same calls, argument fragments concatenated to the same JSON.
      const streamed = await collectToolStream(await client.chat.completions.create({ ...params, stream: true }));
      assert.equal(streamed.finish, 'tool_calls');
      assert.equal(streamed.content, '');
      assert.equal(streamed.calls.length, choice.message.tool_calls.length, `seed ${seed}`);
      streamed.calls.forEach((call, i) => {
        assert.equal(call.name, choice.message.tool_calls[i].function.name);
        assert.equal(sameJson(assertArguments(call.name, call.arguments)), sameJson(JSON.parse(choice.message.tool_calls[i].function.arguments)));
      });
    }
  });

  it('parallel calls: several valid calls in one answer', async () => {
    let several = 0;
    for (let seed = 1; seed <= 6; seed++) {
      const r = assertSchema('chatCompletion', await client.chat.completions.create({
        model: name, messages: ask, tools, tool_choice: 'required', seed, max_tokens: 1200,
      }));
      const c = r.choices[0];
      if (c.finish_reason === 'length') continue;  // the array may outgrow max_tokens
      assert.equal(c.finish_reason, 'tool_calls');
      for (const call of c.message.tool_calls) assertArguments(call.function.name, call.function.arguments);
      if (c.message.tool_calls.length > 1) several++;
    }
    assert.ok(several >= 1, 'some seed made more than one call');
  });

  it('a named tool_choice returns that function, streamed and not', async () => {
    for (let seed = 1; seed <= 5; seed++) {
      const params = {
        model: name, messages: ask, tools, seed, max_tokens: 400,
        tool_choice: { type: 'function', function: { name: 'search' } },
      };
      const r = assertSchema('chatCompletion', await client.chat.completions.create(params));
      // OpenAI ends a forced function call with "stop".
      assert.equal(r.choices[0].finish_reason, 'stop');
      assert.equal(r.choices[0].message.tool_calls.length, 1);
      const call = r.choices[0].message.tool_calls[0];
      assert.equal(call.function.name, 'search');
      const args = assertArguments('search', call.function.arguments);
      const streamed = await collectToolStream(await client.chat.completions.create({ ...params, stream: true }));
      assert.equal(streamed.calls.length, 1);
      assert.equal(streamed.calls[0].name, 'search');
      assert.equal(sameJson(JSON.parse(streamed.calls[0].arguments)), sameJson(args));
    }
    // A function without parameters gets an object too.
    const r = await client.chat.completions.create({
      model: name, messages: ask, tools, seed: 3, max_tokens: 200,
      tool_choice: { type: 'function', function: { name: 'now' } },
    });
    assert.equal(typeof JSON.parse(r.choices[0].message.tool_calls[0].function.arguments), 'object');
  });

  it('response_format json_schema returns JSON valid against it, streamed and not', async () => {
    const schema = {
      type: 'object',
      properties: {
        title: { type: 'string', maxLength: 10 },
        rating: { enum: [1, 2, 3, 4, 5] },
        author: {
          type: 'object',
          properties: { name: { type: 'string', maxLength: 8 }, alive: { type: 'boolean' } },
          required: ['name', 'alive'],
          additionalProperties: false,
        },
        genres: { type: 'array', items: { enum: ['sf', 'crime', 'poetry'] }, minItems: 1, maxItems: 3 },
        note: { anyOf: [{ type: 'null' }, { type: 'integer' }] },
      },
      required: ['title', 'rating', 'author', 'genres', 'note'],
      additionalProperties: false,
    };
    const validate = ajv.compile(schema);
    for (let seed = 1; seed <= 8; seed++) {
      const params = {
        model: name, messages: [{ role: 'user', content: 'Review a book as JSON.' }], seed, max_tokens: 400,
        response_format: { type: 'json_schema', json_schema: { name: 'review', schema, strict: true } },
      };
      const r = assertSchema('chatCompletion', await client.chat.completions.create(params));
      assert.equal(r.choices[0].finish_reason, 'stop', `seed ${seed}: ${r.choices[0].message.content}`);
      const value = JSON.parse(r.choices[0].message.content);
      assert.ok(validate(value), `${r.choices[0].message.content}: ${ajv.errorsText(validate.errors)}`);
      let text = '';
      for await (const chunk of await client.chat.completions.create({ ...params, stream: true }))
        text += chunk.choices[0]?.delta?.content ?? '';
      assert.equal(sameJson(JSON.parse(text)), sameJson(value), 'streamed = whole for one seed');
    }
  });

  it('response_format json_object returns a JSON object', async () => {
    for (let seed = 1; seed <= 3; seed++) {
      const r = await client.chat.completions.create({
        model: name, messages: ask, seed, max_tokens: 600, response_format: { type: 'json_object' },
      });
      if (r.choices[0].finish_reason === 'length') continue;  // unbounded keys: a long one may run out
      const value = JSON.parse(r.choices[0].message.content);
      assert.equal(typeof value, 'object');
      assert.ok(value !== null && !Array.isArray(value));
    }
  });

  it('a GBNF grammar constrains a completion', async () => {
    const r = await client.completions.create({
      model: name, prompt: 'Answer: ', max_tokens: 20, seed: 7, n: 4,
      grammar: 'root ::= ("yes" | "no") " " [0-9] [0-9]?',
    });
    for (const c of r.choices) assert.match(c.text, /^(yes|no) [0-9][0-9]?$/);
  });

  it('accepts a whole round trip: call, tool result, next turn', async () => {
    const first = await client.chat.completions.create({
      model: name, messages: ask, tools, tool_choice: 'required', parallel_tool_calls: false, seed: 11, max_tokens: 400,
    });
    const message = first.choices[0].message;
    const messages = [
      ...ask,
      message,
      ...message.tool_calls.map((c) => ({ role: 'tool', tool_call_id: c.id, content: '{"temperature": 21}' })),
    ];
    const next = assertSchema('chatCompletion', await client.chat.completions.create({
      model: name, messages, tools, max_tokens: 8, seed: 1,
    }));
    assert.ok(['stop', 'length', 'tool_calls'].includes(next.choices[0].finish_reason));
    // The tool result is in the prompt: it is longer than the first turn's.
    assert.ok(next.usage.prompt_tokens > first.usage.prompt_tokens);
  });

  it('tool_choice "auto" parses whatever the model writes, never a 500', async () => {
    for (let seed = 1; seed <= 3; seed++) {
      const r = assertSchema('chatCompletion', await client.chat.completions.create({
        model: name, messages: ask, tools, seed, max_tokens: 30,
      }));
      const c = r.choices[0];
      if (c.message.tool_calls) for (const call of c.message.tool_calls) JSON.parse(call.function.arguments);
      else assert.equal(typeof c.message.content, 'string');
    }
  });

  it('rejects what it cannot honour with a 400 naming the field', async () => {
    const cases = [
      [{ tools, tool_choice: { type: 'function', function: { name: 'nope' } } }, 'tool_choice'],
      [{ tool_choice: 'required' }, 'tool_choice'],
      [{ tools: [{ type: 'function', function: { parameters: {} } }] }, 'tools'],
      [{ response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object', patternProperties: { a: {} } } } } },
        'response_format', /patternProperties/],
      [{ response_format: { type: 'xml' } }, 'response_format'],
      [{ grammar: 'root ::= undefined_rule' }, 'grammar'],
    ];
    for (const [extra, param, message] of cases) {
      const r = await server.postJson('/v1/chat/completions', { model: name, messages: ask, max_tokens: 4, ...extra });
      const body = await r.json();
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal(body.error.param, param, JSON.stringify(body));
      if (message) assert.match(body.error.message, message);
    }
  });
});

describe('tool_choice "auto" without --enable-auto-tool-choice', { timeout: 60_000 }, () => {
  it('is a 400 that names the flag, as vLLM answers', async () => {
    const server = await startServer();
    try {
      const r = await server.postJson('/v1/chat/completions', {
        messages: [{ role: 'user', content: 'hi' }], tools, max_tokens: 4,
      });
      const body = await r.json();
      assert.equal(r.status, 400);
      assert.equal(body.error.param, 'tool_choice');
      assert.match(body.error.message, /--enable-auto-tool-choice/);
      // tool_choice "none" still works: the tools are only shown to the model.
      const none = await server.postJson('/v1/chat/completions', {
        messages: [{ role: 'user', content: 'hi' }], tools, tool_choice: 'none', max_tokens: 4,
      });
      assert.equal(none.status, 200);
      assert.equal((await none.json()).choices[0].message.tool_calls, undefined);
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });
});
