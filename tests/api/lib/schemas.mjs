// JSON schemas of the OpenAI response shapes pagoda promises (written from OpenAI's API
// reference: chat.completion, chat.completion.chunk, text_completion, list, model, error),
// compiled with ajv. Extra fields are allowed (servers add some, e.g. max_model_len);
// every field OpenAI marks required is required here with its type.
import Ajv from 'ajv';
import assert from 'node:assert/strict';

const int = { type: 'integer', minimum: 0 };
const nonEmpty = { type: 'string', minLength: 1 };
const finishReason = { enum: ['stop', 'length', 'tool_calls', 'content_filter', 'function_call'] };

const usage = {
  type: 'object',
  required: ['prompt_tokens', 'completion_tokens', 'total_tokens'],
  properties: {
    prompt_tokens: int,
    completion_tokens: int,
    total_tokens: int,
    prompt_tokens_details: {
      type: ['object', 'null'],
      properties: { cached_tokens: int, audio_tokens: int },
    },
    completion_tokens_details: { type: ['object', 'null'] },
  },
};

const bytes = {
  type: ['array', 'null'],
  items: { type: 'integer', minimum: 0, maximum: 255 },
};
const topLogprob = {
  type: 'object',
  required: ['token', 'logprob', 'bytes'],
  properties: { token: { type: 'string' }, logprob: { type: 'number', maximum: 0 }, bytes },
};
const chatLogprobs = {
  type: ['object', 'null'],
  required: ['content'],
  properties: {
    content: {
      type: ['array', 'null'],
      items: {
        type: 'object',
        required: ['token', 'logprob', 'bytes', 'top_logprobs'],
        properties: { ...topLogprob.properties, top_logprobs: { type: 'array', items: topLogprob } },
      },
    },
    refusal: { type: ['array', 'null'] },
  },
};
const completionLogprobs = {
  type: ['object', 'null'],
  properties: {
    tokens: { type: 'array', items: { type: 'string' } },
    token_logprobs: { type: 'array', items: { type: ['number', 'null'], maximum: 0 } },
    top_logprobs: {
      type: 'array',
      items: {
        type: ['object', 'null'],
        additionalProperties: { type: 'number', maximum: 0 },
      },
    },
    text_offset: { type: 'array', items: int },
  },
};

const envelope = (object, idPrefix) => ({
  type: 'object',
  required: ['id', 'object', 'created', 'model', 'choices'],
  properties: {
    id: { type: 'string', pattern: `^${idPrefix}` },
    object: { const: object },
    created: int,
    model: nonEmpty,
    system_fingerprint: { type: ['string', 'null'] },
    service_tier: { type: ['string', 'null'] },
  },
});

const withChoices = (base, choice, extra = {}) => ({
  ...base,
  required: [...base.required, ...(extra.required || [])],
  properties: {
    ...base.properties,
    choices: { type: 'array', items: choice, ...(extra.choices || {}) },
    ...(extra.properties || {}),
  },
});

// message.tool_calls[] and delta.tool_calls[] as OpenAI documents them.
const toolCall = {
  type: 'object',
  required: ['id', 'type', 'function'],
  properties: {
    id: nonEmpty,
    type: { const: 'function' },
    function: {
      type: 'object',
      required: ['name', 'arguments'],
      properties: { name: nonEmpty, arguments: { type: 'string' } },
    },
  },
};
const toolCallDelta = {
  type: 'object',
  required: ['index'],
  properties: {
    index: int,
    id: nonEmpty,
    type: { const: 'function' },
    function: {
      type: 'object',
      properties: { name: nonEmpty, arguments: { type: 'string' } },
    },
  },
};

const chatCompletion = withChoices(
  envelope('chat.completion', 'chatcmpl-'),
  {
    type: 'object',
    required: ['index', 'message', 'finish_reason', 'logprobs'],
    properties: {
      index: int,
      message: {
        type: 'object',
        required: ['role', 'content'],
        properties: {
          role: { const: 'assistant' },
          content: { type: ['string', 'null'] },
          refusal: { type: ['string', 'null'] },
          tool_calls: { type: 'array', minItems: 1, items: toolCall },
        },
      },
      logprobs: chatLogprobs,
      finish_reason: finishReason,
    },
  },
  { choices: { minItems: 1 }, required: ['usage'], properties: { usage } },
);

const chatCompletionChunk = withChoices(
  envelope('chat.completion.chunk', 'chatcmpl-'),
  {
    type: 'object',
    required: ['index', 'delta', 'finish_reason'],
    properties: {
      index: int,
      delta: {
        type: 'object',
        properties: {
          role: { enum: ['assistant', 'developer', 'system', 'user', 'tool'] },
          content: { type: ['string', 'null'] },
          refusal: { type: ['string', 'null'] },
          tool_calls: { type: 'array', minItems: 1, items: toolCallDelta },
        },
      },
      logprobs: chatLogprobs,
      finish_reason: { anyOf: [{ type: 'null' }, finishReason] },
    },
  },
  { properties: { usage: { anyOf: [{ type: 'null' }, usage] } } },
);

const completionChoice = (finish) => ({
  type: 'object',
  required: ['index', 'text', 'finish_reason', 'logprobs'],
  properties: { index: int, text: { type: 'string' }, logprobs: completionLogprobs, finish_reason: finish },
});

const textCompletion = withChoices(envelope('text_completion', 'cmpl-'), completionChoice(finishReason), {
  choices: { minItems: 1 },
  required: ['usage'],
  properties: { usage },
});

// A streamed text_completion: finish_reason null until the choice ends, usage optional.
const textCompletionChunk = withChoices(
  envelope('text_completion', 'cmpl-'),
  completionChoice({ anyOf: [{ type: 'null' }, finishReason] }),
  { properties: { usage: { anyOf: [{ type: 'null' }, usage] } } },
);

const model = {
  type: 'object',
  required: ['id', 'object', 'created', 'owned_by'],
  properties: { id: nonEmpty, object: { const: 'model' }, created: int, owned_by: { type: 'string' } },
};
const modelList = {
  type: 'object',
  required: ['object', 'data'],
  properties: { object: { const: 'list' }, data: { type: 'array', items: model, minItems: 1 } },
};
const error = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['message', 'type', 'param', 'code'],
      properties: {
        message: nonEmpty,
        type: nonEmpty,
        param: { type: ['string', 'null'] },
        code: { type: ['string', 'null'] },
      },
    },
  },
};

// pagoda's (vLLM's) /tokenize and /detokenize.
const tokenize = {
  type: 'object',
  required: ['tokens', 'count', 'max_model_len'],
  properties: { tokens: { type: 'array', items: int }, count: int, max_model_len: int },
};
const detokenize = { type: 'object', required: ['prompt'], properties: { prompt: { type: 'string' } } };

const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
const validators = Object.fromEntries(
  Object.entries({
    chatCompletion,
    chatCompletionChunk,
    textCompletion,
    textCompletionChunk,
    model,
    modelList,
    error,
    tokenize,
    detokenize,
  }).map(([name, schema]) => [name, ajv.compile(schema)]),
);

export const SCHEMAS = Object.keys(validators);

// Throws an AssertionError listing every violation when `value` does not match schema `name`.
export function assertSchema(name, value) {
  const validate = validators[name];
  assert.ok(validate, `unknown schema ${name}`);
  // Validate the JSON as it came over the wire (the SDK may attach non-JSON properties).
  const plain = JSON.parse(JSON.stringify(value));
  if (!validate(plain)) {
    assert.fail(`${name} schema: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(plain).slice(0, 2000)}`);
  }
  return value;
}

export function isValid(name, value) {
  return validators[name](JSON.parse(JSON.stringify(value)));
}

// Usage arithmetic the schema cannot express.
export function assertUsage(u) {
  assert.equal(u.total_tokens, u.prompt_tokens + u.completion_tokens, 'total = prompt + completion');
  if (u.prompt_tokens_details) assert.ok(u.prompt_tokens_details.cached_tokens <= u.prompt_tokens);
}
