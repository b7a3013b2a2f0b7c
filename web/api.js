// Talking to pagoda serve: the API key, OpenAI-style errors, streamed chat completions (SSE over
// fetch) and the Prometheus text of /metrics.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
  }
}

// getKey() → the stored key or ''; askKey(refused) → a promise of a new key, or null when the
// user declines. Set once by the app.
let keys = { getKey: () => '', askKey: async () => null };
export function useKeys(provider) {
  keys = provider;
}

// fetch with `Authorization: Bearer KEY`; on 401 asks for a key and retries until the server
// takes it or the user gives up.
async function request(path, init = {}) {
  for (;;) {
    const key = keys.getKey();
    const headers = new Headers(init.headers);
    if (key) headers.set('Authorization', `Bearer ${key}`);
    const res = await fetch(path, { ...init, headers });
    if (res.status !== 401) return res;
    const message = await errorMessage(res);
    if (keys.getKey() !== key) continue;  // another request got a new key meanwhile
    if (!(await keys.askKey(Boolean(key)))) throw new ApiError(401, message);
  }
}

// The message of an error answer: OpenAI's {"error": {"message"}} or the body's text.
async function errorMessage(res) {
  const text = await res.text().catch(() => '');
  try {
    const message = JSON.parse(text)?.error?.message;
    if (message) return `${message} (HTTP ${res.status})`;
  } catch {
    // not JSON
  }
  return `HTTP ${res.status}${text ? `: ${text.slice(0, 300)}` : ''}`;
}

export async function listModels() {
  const res = await request('/v1/models');
  if (!res.ok) throw new ApiError(res.status, await errorMessage(res));
  return (await res.json()).data.map((m) => m.id);
}

// POSTs a streamed chat completion; calls onChunk(chunk) for each chat.completion.chunk.
// Rejects with an AbortError when `signal` fires, with ApiError on an error answer or event.
export async function streamChat(body, { signal, onChunk }) {
  const res = await request('/v1/chat/completions', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'text/event-stream' },
    body: JSON.stringify({ ...body, stream: true, stream_options: { include_usage: true } }),
    signal,
  });
  if (!res.ok) throw new ApiError(res.status, await errorMessage(res));
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    // SSE: events end with a blank line; an event's data is its `data:` lines.
    for (let end; (end = /\r?\n\r?\n/.exec(buffer)); ) {
      const event = buffer.slice(0, end.index);
      buffer = buffer.slice(end.index + end[0].length);
      const data = event
        .split(/\r?\n/)
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).replace(/^ /, ''))
        .join('\n');
      if (!data) continue;
      if (data === '[DONE]') {
        reader.cancel().catch(() => {});
        return;
      }
      const chunk = JSON.parse(data);
      if (chunk.error) throw new ApiError(chunk.error.code ?? 500, chunk.error.message ?? 'error');
      onChunk(chunk);
    }
  }
}

// Prometheus text → Map(name → value), summing a metric's samples over their label sets.
export function parseMetrics(text) {
  const out = new Map();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{.*\})?\s+(\S+)/.exec(line);
    if (m) out.set(m[1], (out.get(m[1]) ?? 0) + Number(m[2]));
  }
  return out;
}

// The live panel's numbers, or null while the server cannot answer (loading).
export async function readMetrics() {
  const res = await fetch('/metrics');
  if (!res.ok) {
    await res.body?.cancel();
    return null;
  }
  const m = parseMetrics(await res.text());
  const queries = m.get('vllm:prefix_cache_queries_total') ?? 0;
  return {
    running: m.get('vllm:num_requests_running') ?? 0,
    waiting: m.get('vllm:num_requests_waiting') ?? 0,
    kvUsage: m.get('vllm:kv_cache_usage_perc') ?? 0,
    prefixHitRate: queries > 0 ? (m.get('vllm:prefix_cache_hits_total') ?? 0) / queries : null,
  };
}
