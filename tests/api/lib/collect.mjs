// Reads an SDK stream (chat or completions) to its end, validating every chunk, and
// assembles the choices: { chunks, choices: [{ text, role, finish_reason, logprobs }], usage }.
import assert from 'node:assert/strict';
import { assertSchema } from './schemas.mjs';

export async function collectStream(stream, kind, { onChunk } = {}) {
  const schema = kind === 'chat' ? 'chatCompletionChunk' : 'textCompletionChunk';
  const chunks = [];
  const choices = [];
  let usage = null;
  for await (const chunk of stream) {
    assertSchema(schema, chunk);
    if (chunks.length) assert.equal(chunk.id, chunks[0].id, 'one id for every chunk');
    chunks.push(chunk);
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      const acc = (choices[c.index] ??= { text: '', role: null, finish_reason: null, logprobs: [], deltas: 0 });
      assert.equal(acc.finish_reason, null, `choice ${c.index} got a chunk after its finish_reason`);
      if (kind === 'chat') {
        if (c.delta.role) {
          assert.equal(acc.deltas, 0, 'the role comes in the first delta of a choice');
          acc.role = c.delta.role;
        }
        acc.text += c.delta.content ?? '';
        if (c.logprobs?.content) acc.logprobs.push(...c.logprobs.content);
      } else {
        acc.text += c.text;
        if (c.logprobs?.tokens) acc.logprobs.push(...c.logprobs.tokens);
      }
      acc.deltas++;
      if (c.finish_reason) acc.finish_reason = c.finish_reason;
    }
    // onChunk may end the reading early (after aborting the request, say) by returning false.
    if (onChunk && (await onChunk(chunk, chunks.length)) === false) break;
  }
  return { chunks, choices, usage };
}
