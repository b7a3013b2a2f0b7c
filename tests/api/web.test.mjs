// The chat page served at `/` in a real browser (playwright-core driving the system's chromium):
// no request leaves the server's origin, streamed replies with stats, stop, conversations kept
// across a reload, the API-key dialog, Markdown that never turns model text into HTML, and
// screenshots in light and dark mode ($PAGODA_TEST_ARTIFACTS, else build/test-artifacts/).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { API_KEY, metrics, repoRoot, startServer, waitIdle } from './lib/server.mjs';

const chromiumPath = process.env.PAGODA_CHROMIUM || '/usr/bin/chromium';
const artifacts = process.env.PAGODA_TEST_ARTIFACTS
  ? path.resolve(process.env.PAGODA_TEST_ARTIFACTS)
  : path.join(repoRoot, 'build', 'test-artifacts');

// A message that would run script if it ever reached the DOM as HTML.
const HOSTILE = '<img src=x onerror="window.__pwned=1"> <script>window.__pwned=1</script>';
const MARKDOWN = [
  '## Heading',
  'Some **bold**, *italic*, `inline <b>code</b>` and [a link](https://example.com/x).',
  `Hostile: ${HOSTILE} and [bad](javascript:window.__pwned=1)`,
  '- one\n- two\n  1. nested',
  '> quoted',
  '| name | value |\n|---|--:|\n| <b>x</b> | 1 |',
  '```js\nconst x = "<script>";\n```',
].join('\n\n');

// A new page in `context` that records console errors, page errors and any request that is not
// for the server's own origin (those are aborted: the page must work without a network).
async function openPage(context, origin) {
  const page = await context.newPage();
  // extraBody: fields the test adds to the page's chat requests (the page never sends them).
  const record = { errors: [], offsite: [], chats: [], extraBody: null };
  page.on('console', (m) => m.type() === 'error' && record.errors.push(m.text()));
  page.on('pageerror', (e) => record.errors.push(e.message));
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (new URL(url).origin !== origin) {
      record.offsite.push(url);
      return route.abort();
    }
    if (!url.endsWith('/v1/chat/completions')) return route.continue();
    record.chats.push(route.request().postDataJSON());
    if (!record.extraBody) return route.continue();
    return route.continue({ postData: JSON.stringify({ ...record.chats.at(-1), ...record.extraBody }) });
  });
  await page.goto(origin + '/');
  return { page, record };
}

// The length of the last reply's text each time it changes, as the page draws it.
function watchReplyLengths(page) {
  return page.evaluate(() => {
    window.__lengths = [];
    new MutationObserver(() => {
      const body = [...document.querySelectorAll('.msg.assistant .body')].at(-1);
      const n = body?.textContent.length ?? 0;
      if (n && window.__lengths.at(-1) !== n) window.__lengths.push(n);
    }).observe(document.getElementById('log'), { childList: true, subtree: true, characterData: true });
  });
}

// Polls `fn` in the page until it returns something truthy (waitForFunction would need eval,
// which the page's CSP forbids).
async function until(page, fn, arg, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await page.evaluate(fn, arg);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${fn}`);
    await page.waitForTimeout(50);
  }
}

async function send(page, text) {
  await page.locator('#prompt').click();
  await page.keyboard.type(text);
  await page.keyboard.press('Enter');
}

const lastReply = (page) => page.locator('.msg.assistant').last();

describe('the chat page', { timeout: 120_000 }, () => {
  if (!existsSync(chromiumPath)) {
    it('needs chromium', (t) =>
      t.skip(`no chromium at ${chromiumPath}: set PAGODA_CHROMIUM or run scripts/deps.sh --tests`));
    return;
  }
  let server;
  let browser;
  let context;
  let page;
  let record;

  before(async () => {
    const { chromium } = await import('playwright-core');
    [server, browser] = await Promise.all([
      startServer({ apiKey: '' }),
      chromium.launch({ executablePath: chromiumPath, headless: true, args: ['--no-sandbox'] }),
    ]);
    context = await browser.newContext({ viewport: { width: 1200, height: 800 }, colorScheme: 'light' });
    mkdirSync(artifacts, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    if (server) assert.equal(await server.stop(), 0, `SIGTERM exits 0\n${server.log().slice(-4000)}`);
  });

  it('serves its files with their types and a strict CSP; other paths stay 404', async () => {
    for (const [p, type] of [
      ['/', 'text/html; charset=utf-8'],
      ['/index.html', 'text/html; charset=utf-8'],
      ['/style.css', 'text/css; charset=utf-8'],
      ['/app.js', 'text/javascript; charset=utf-8'],
      ['/markdown.js', 'text/javascript; charset=utf-8'],
    ]) {
      const r = await fetch(server.url + p);
      assert.equal(r.status, 200, p);
      assert.equal(r.headers.get('content-type'), type, p);
      assert.equal(r.headers.get('cache-control'), 'no-cache', p);
      assert.equal(r.headers.get('x-content-type-options'), 'nosniff', p);
      assert.match(r.headers.get('content-security-policy'), /default-src 'self'/, p);
      assert.doesNotMatch(r.headers.get('content-security-policy'), /unsafe|\*/, p);
      assert.ok((await r.text()).length > 0, p);
    }
    const missing = await fetch(server.url + '/nope.js');
    assert.equal(missing.status, 404);
    assert.equal((await missing.json()).error.code, 'not_found');
    // HEAD: GET's headers (Content-Length included) and no body, read off a raw socket.
    const raw = await new Promise((resolve, reject) => {
      const socket = net.connect(server.port, '127.0.0.1', () =>
        socket.end('HEAD / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n'));
      let text = '';
      socket.on('data', (d) => (text += d));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    assert.match(raw, /^HTTP\/1\.1 200 OK\r\n/);
    assert.ok(Number(/content-length: (\d+)/i.exec(raw)[1]) > 100);
    assert.ok(raw.endsWith('\r\n\r\n'), 'nothing after the headers');
  });

  it('loads without any request off the server, showing the served model', async () => {
    ({ page, record } = await openPage(context, server.url));
    await page.locator('#model-name', { hasText: server.model }).waitFor();
    await page.locator('#m-running', { hasText: '0' }).waitFor();  // the live panel polled /metrics
    assert.deepEqual(record.offsite, []);
    assert.deepEqual(record.errors, []);
  });

  it('streams a reply to a message sent with Enter, with its stats', async () => {
    await page.locator('#max-tokens').fill('300');
    await page.locator('#temperature').fill('0.8');
    await page.locator('#seed').fill('7');
    await watchReplyLengths(page);
    record.extraBody = { ignore_eos: true };  // all 300 tokens, whatever the model
    await page.locator('#prompt').click();
    await page.keyboard.type('Hello there');
    await page.keyboard.press('Shift+Enter');  // a new line, not a send
    await page.keyboard.type('second line');
    assert.equal(await page.locator('.msg').count(), 0);
    // The demo model can write all 300 tokens before the page reads the stream once, which would
    // leave nothing to see grow: the download is throttled so that the stream arrives in pieces.
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions',
                   { offline: false, latency: 0, downloadThroughput: 32 * 1024, uploadThroughput: -1 });
    const response = page.waitForResponse((r) => r.url().endsWith('/v1/chat/completions'));
    await page.keyboard.press('Enter');
    assert.equal((await response).headers()['content-type'], 'text/event-stream');
    await lastReply(page).locator('.stats').waitFor();
    await cdp.send('Network.emulateNetworkConditions',
                   { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    await cdp.detach();
    record.extraBody = null;

    const body = record.chats.at(-1);
    assert.equal(body.stream, true);
    assert.deepEqual(body.stream_options, { include_usage: true });
    assert.deepEqual(body.messages, [{ role: 'user', content: 'Hello there\nsecond line' }]);
    assert.equal(body.max_tokens, 300);
    assert.equal(body.temperature, 0.8);
    assert.equal(body.seed, 7);
    assert.equal(body.model, server.model);
    assert.equal(await page.locator('.msg.user .body').textContent(), 'Hello there\nsecond line');
    const lengths = await page.evaluate(() => window.__lengths);
    assert.ok(lengths.length >= 2, `the reply grew while streaming: ${lengths}`);
    assert.match(await lastReply(page).locator('.stats').textContent(), /\d+ tokens · [\d.]+ tokens\/s · \d+ ms to first token/);
    assert.ok((await lastReply(page).locator('.body').textContent()).length > 0);
    assert.deepEqual(record.errors, []);
  });

  it('stops a long reply with Escape; the server frees the request', async () => {
    const aborted = (await metrics(server))['pagoda:requests_aborted_total'];
    await page.locator('#max-tokens').fill('1200');  // seconds of text; history + this < 2048
    record.extraBody = { ignore_eos: true };  // a random demo model may end its reply at once
    await send(page, 'Tell me a long story');
    await page.locator('#stop').waitFor();
    await until(page, () => {
      const reply = document.querySelectorAll('.msg.assistant')[1];
      if (reply?.querySelector('.error').textContent) throw new Error(reply.textContent);
      return reply?.querySelector('.body').textContent.length > 0;
    });
    record.extraBody = null;
    await page.keyboard.press('Escape');
    await lastReply(page).locator('.stats', { hasText: 'stopped' }).waitFor();
    assert.ok(await page.locator('#stop').isHidden());
    assert.ok(await page.locator('#send').isEnabled());
    const m = await waitIdle(server);
    assert.equal(m['vllm:num_requests_running'], 0);
    assert.equal(m['pagoda:requests_aborted_total'], aborted + 1);
    assert.deepEqual(record.errors, []);
  });

  it('finds the conversation again after a reload', async () => {
    await page.reload();
    await page.locator('#model-name', { hasText: server.model }).waitFor();
    assert.equal(await page.locator('.msg').count(), 4);
    assert.equal(await page.locator('.msg.user .body').first().textContent(), 'Hello there\nsecond line');
    assert.match(await page.locator('.msg.assistant .stats').last().textContent(), /stopped/);
    assert.equal(await page.locator('.chat-open').count(), 1);
    assert.equal(await page.locator('.chat-open').textContent(), 'Hello there second line');
    assert.equal(await page.locator('#max-tokens').inputValue(), '1200');  // settings kept too
    assert.deepEqual(record.offsite, []);
    assert.deepEqual(record.errors, []);
  });

  it('looks right in light and dark mode and on a phone (screenshots)', async () => {
    const storageState = await context.storageState();
    const shots = [
      ['web-light.png', 'light', { width: 1200, height: 800 }],
      ['web-dark.png', 'dark', { width: 1200, height: 800 }],
      ['web-phone-dark.png', 'dark', { width: 390, height: 780 }],
    ];
    const backgrounds = {};
    for (const [file, colorScheme, viewport] of shots) {
      const ctx = await browser.newContext({ colorScheme, viewport, storageState });
      const { page: p, record: r } = await openPage(ctx, server.url);
      await p.locator('#model-name', { hasText: server.model }).waitFor();
      await until(p, () => document.getElementById('m-running').textContent === '0');  // hidden on a phone
      backgrounds[colorScheme] = await p.evaluate(() => getComputedStyle(document.body).backgroundColor);
      if (viewport.width < 900) {
        assert.ok(await p.locator('#settings').isHidden(), 'settings collapse on a phone');
        await p.locator('#toggle-settings').click();
        assert.ok(await p.locator('#settings').isVisible());
        await p.keyboard.press('Escape');
        assert.ok(await p.locator('#settings').isHidden());
      }
      await p.screenshot({ path: path.join(artifacts, file) });
      assert.deepEqual(r.errors, []);
      await ctx.close();
    }
    assert.notEqual(backgrounds.light, backgrounds.dark);
    // The toggle overrides the system's scheme.
    await page.locator('#theme-toggle').click();  // auto → light
    await page.locator('#theme-toggle').click();  // light → dark
    assert.equal(await page.evaluate(() => getComputedStyle(document.body).backgroundColor), backgrounds.dark);
    await page.locator('#theme-toggle').click();  // back to auto
  });

  it('switches, starts and deletes conversations', async () => {
    await page.locator('#new-chat').click();
    assert.equal(await page.locator('.msg').count(), 0);
    assert.ok(await page.locator('#empty').isVisible());
    await page.locator('.chat-open').first().click();
    assert.equal(await page.locator('.msg').count(), 4);
    await page.getByRole('button', { name: 'Delete conversation: Hello there second line' }).click();
    assert.equal(await page.locator('.chat-open').count(), 0);
    assert.equal(await page.locator('.msg').count(), 0);
    assert.equal(await page.evaluate(() => JSON.parse(localStorage.getItem('pagoda.chats')).length), 0);
  });

  it('shows the API error of a rejected request', async () => {
    await page.locator('#temperature').fill('-3');
    await send(page, 'hi');
    const error = lastReply(page).locator('.error');
    await error.waitFor();
    assert.match(await error.textContent(), /temperature.*HTTP 400/);
    await page.locator('#temperature').fill('0.7');
  });

  it('renders Markdown without ever running HTML from the model', async () => {
    const ctx = await browser.newContext({ permissions: ['clipboard-read', 'clipboard-write'] });
    const chat = {
      id: 'seeded',
      title: 'Markdown',
      updated: 1,
      messages: [
        { role: 'user', content: HOSTILE },
        { role: 'assistant', content: MARKDOWN },
      ],
    };
    await ctx.addInitScript((c) => {
      localStorage.setItem('pagoda.chats', JSON.stringify([c]));
      localStorage.setItem('pagoda.current', JSON.stringify(c.id));
    }, chat);
    const { page: p, record: r } = await openPage(ctx, server.url);
    const reply = p.locator('.msg.assistant .body');
    await reply.locator('h2').waitFor();
    await p.waitForTimeout(200);  // an onerror would have fired by now

    assert.equal(await p.locator('.msg img, .msg script, .msg [onerror]').count(), 0);
    assert.equal(await p.evaluate(() => window.__pwned), undefined);
    assert.equal(await p.locator('.msg.user .body').textContent(), HOSTILE);
    assert.match(await reply.textContent(), /Hostile: <img src=x onerror="window.__pwned=1"> <script>/);
    assert.equal(await reply.locator('h2').textContent(), 'Heading');
    assert.equal(await reply.locator('strong').textContent(), 'bold');
    assert.equal(await reply.locator('em').textContent(), 'italic');
    assert.equal(await reply.locator('p code').textContent(), 'inline <b>code</b>');
    assert.equal(await reply.locator('ul > li').count(), 2);
    assert.equal(await reply.locator('ul ol > li').textContent(), 'nested');
    assert.equal(await reply.locator('blockquote').textContent(), 'quoted');
    assert.deepEqual(await reply.locator('td').allTextContents(), ['<b>x</b>', '1']);
    assert.equal(await reply.locator('pre code').textContent(), 'const x = "<script>";');
    const links = reply.locator('a');
    assert.equal(await links.count(), 1, 'javascript: is not a link');
    assert.equal(await links.getAttribute('href'), 'https://example.com/x');
    assert.match(await links.getAttribute('rel'), /noopener/);

    await p.screenshot({ path: path.join(artifacts, 'web-markdown.png') });
    await reply.locator('.copy').click();
    await reply.locator('.copy', { hasText: /Copied|Copy failed/ }).waitFor();
    assert.equal(await p.evaluate(() => navigator.clipboard.readText()), 'const x = "<script>";');

    // The renderer as a module, straight from the page's origin.
    const direct = await p.evaluate(async (text) => {
      const { renderMarkdown } = await import('/markdown.js');
      const div = document.createElement('div');
      div.append(renderMarkdown(text));
      return { elements: div.querySelectorAll('img, script, iframe').length, text: div.textContent };
    }, `${HOSTILE}\n\n<iframe src="https://example.com"></iframe>`);
    assert.equal(direct.elements, 0);
    assert.match(direct.text, /<script>window.__pwned=1<\/script>/);
    assert.deepEqual(r.offsite, []);
    assert.deepEqual(r.errors, []);
    await ctx.close();
  });

  it('asks for the API key when the server wants one, then works', async () => {
    const keyed = await startServer({ apiKey: API_KEY });
    const ctx = await browser.newContext();
    try {
      const { page: p, record: r } = await openPage(ctx, keyed.url);
      await p.locator('#key-dialog').waitFor();
      await p.locator('#key-input').fill('wrong-key');
      await p.keyboard.press('Enter');
      await p.locator('#key-message', { hasText: 'refused' }).waitFor();  // asked again, saying why
      await p.locator('#key-input').fill(API_KEY);
      await p.keyboard.press('Enter');
      await p.locator('#model-name', { hasText: keyed.model }).waitFor();
      assert.ok(await p.locator('#key-dialog').isHidden());
      await p.locator('#max-tokens').fill('8');
      await send(p, 'hi');
      await lastReply(p).locator('.stats').waitFor();
      assert.ok(await p.locator('#key-dialog').isHidden(), 'asked only once');
      assert.equal(await p.evaluate(() => JSON.parse(localStorage.getItem('pagoda.apiKey'))), API_KEY);
      // The only errors: the browser's notes on the 401 answers before the key.
      assert.deepEqual(r.errors.filter((e) => !/status of 401/.test(e)), []);
      assert.deepEqual(r.offsite, []);
    } finally {
      await ctx.close();
      assert.equal(await keyed.stop(), 0);
    }
  });
});
