// The chat page's controller: conversations, sending and streaming, stop, settings, theme, the
// API-key dialog and the live server panel.
import { ApiError, listModels, readMetrics, streamChat, useKeys } from './api.js';
import * as store from './store.js';
import { messageView, renderChatList } from './view.js';

const $ = (id) => document.getElementById(id);
const ui = {
  log: $('log'), empty: $('empty'), form: $('composer'), prompt: $('prompt'), send: $('send'),
  stop: $('stop'), chatList: $('chat-list'), newChat: $('new-chat'), modelName: $('model-name'),
  notice: $('notice'), theme: $('theme-toggle'), forgetKey: $('forget-key'),
  keyDialog: $('key-dialog'), keyInput: $('key-input'), keyMessage: $('key-message'),
  system: $('system'), temperature: $('temperature'), topP: $('top-p'), maxTokens: $('max-tokens'),
  seed: $('seed'),
};

let chats = store.loadChats();
let current = chats.find((c) => c.id === store.loadCurrentId()) ?? null;
let model = null;
let running = null;  // {controller, chat} while a reply streams

// ---- notices, API key ----

function notify(message) {
  ui.notice.textContent = message;
  ui.notice.hidden = !message;
}

let keyRequest = null;  // one dialog at a time, shared by every request that got a 401
function askKey(refused) {
  keyRequest ??= new Promise((resolve) => {
    ui.keyMessage.textContent = refused ? 'The server refused the saved key.' : '';
    ui.keyInput.value = '';
    ui.keyDialog.returnValue = '';
    ui.keyDialog.addEventListener('close', () => {
      const key = ui.keyDialog.returnValue === 'save' ? ui.keyInput.value.trim() : '';
      if (key) store.saveKey(key);
      ui.forgetKey.hidden = !store.loadKey();
      keyRequest = null;
      resolve(key || null);
    }, { once: true });
    ui.keyDialog.showModal();
  });
  return keyRequest;
}
// Enter in the field submits "Save" (the form's first submit button); Cancel is a plain button.
$('key-cancel').addEventListener('click', () => ui.keyDialog.close('cancel'));
useKeys({ getKey: store.loadKey, askKey });
ui.forgetKey.hidden = !store.loadKey();
ui.forgetKey.addEventListener('click', () => {
  store.saveKey('');
  ui.forgetKey.hidden = true;
});

// ---- the model ----

async function loadModel() {
  try {
    [model] = await listModels();
    ui.modelName.textContent = model ?? 'none';
    notify('');
  } catch (e) {
    ui.modelName.textContent = 'unavailable';
    notify(`Could not list the models: ${e.message}`);
    if (!(e instanceof ApiError && e.status === 401)) setTimeout(loadModel, 3000);
  }
}

// ---- conversations ----

function save() {
  if (!store.saveChats(chats)) notify('The browser did not save the conversation (storage full or disabled).');
  store.saveCurrentId(current?.id ?? null);
}

// Redraws the open conversation and the list; returns the message views.
function showChat() {
  const views = (current?.messages ?? []).map((m) => messageView(m, model));
  ui.log.replaceChildren(ui.empty, ...views.map((v) => v.element));
  ui.empty.hidden = views.length > 0;
  renderChatList(ui.chatList, chats, current?.id, { onOpen: openChat, onDelete: deleteChat });
  ui.log.scrollTop = ui.log.scrollHeight;
  return views;
}

function openChat(id) {
  running?.controller.abort();  // a reply streams only into the conversation on screen
  current = chats.find((c) => c.id === id) ?? null;
  save();
  showChat();
  closeDrawers();
  ui.prompt.focus();
}

function deleteChat(id) {
  if (running?.chat.id === id) running.controller.abort();
  chats = chats.filter((c) => c.id !== id);
  if (current?.id === id) current = null;
  save();
  showChat();
}

ui.newChat.addEventListener('click', () => openChat(null));

// ---- sending and streaming ----

function samplingParams() {
  const number = (input, parse) => {
    const v = parse(input.value);
    return input.value.trim() !== '' && Number.isFinite(v) ? v : undefined;
  };
  return {
    temperature: number(ui.temperature, parseFloat),
    top_p: number(ui.topP, parseFloat),
    max_tokens: number(ui.maxTokens, (s) => parseInt(s, 10)),
    seed: number(ui.seed, (s) => parseInt(s, 10)),
  };
}

function setRunning(on) {
  ui.stop.hidden = !on;
  ui.send.disabled = on;
  ui.log.setAttribute('aria-busy', String(on));
}

async function send(text) {
  if (running || !text.trim()) return;
  if (!current) {
    current = store.newChat();
    chats.push(current);
  }
  const chat = current;
  if (!chat.messages.length) chat.title = text.trim().replace(/\s+/g, ' ').slice(0, 60);
  // Failed turns (a reply that is only an error, and the message that asked for it) are not resent.
  const failed = (m) => m?.role === 'assistant' && m.error && !m.content;
  const history = chat.messages.filter((m, i, all) => m.content && !m.error && !failed(all[i + 1]));
  chat.messages.push({ role: 'user', content: text });
  const reply = { role: 'assistant', content: '', model };
  chat.messages.push(reply);
  chat.updated = Date.now();
  save();
  const view = showChat().at(-1);

  const system = ui.system.value.trim();
  const messages = [
    ...(system ? [{ role: 'system', content: system }] : []),
    ...history.map(({ role, content }) => ({ role, content })),
    { role: 'user', content: text },
  ];
  const controller = new AbortController();
  running = { controller, chat };
  setRunning(true);

  const start = performance.now();
  let first = null;
  let pieces = 0;
  let usage = null;
  let finish = null;
  let frame = 0;
  const redraw = () => {
    frame = 0;
    const atBottom = ui.log.scrollHeight - ui.log.scrollTop - ui.log.clientHeight < 40;
    view.update();
    if (atBottom) ui.log.scrollTop = ui.log.scrollHeight;
  };
  try {
    await streamChat({ model: model ?? undefined, messages, ...samplingParams() }, {
      signal: controller.signal,
      onChunk(chunk) {
        if (chunk.usage) usage = chunk.usage;
        const choice = chunk.choices?.[0];
        if (choice?.finish_reason) finish = choice.finish_reason;
        const delta = choice?.delta?.content;
        if (!delta) return;
        first ??= performance.now();
        pieces++;
        reply.content += delta;
        frame ||= requestAnimationFrame(redraw);
      },
    });
  } catch (e) {
    if (e.name !== 'AbortError') reply.error = e.message;
  }
  const end = performance.now();
  cancelAnimationFrame(frame);
  const stopped = controller.signal.aborted;
  // Without usage (stopped early) each streamed piece is about one token.
  const tokens = usage?.completion_tokens ?? pieces;
  if (!reply.error || reply.content) {
    reply.stats = {
      tokens,
      estimated: !usage,
      ttftMs: first === null ? null : first - start,
      tokensPerSecond: first !== null && end > first && tokens > 1 ? (tokens - 1) / ((end - first) / 1000) : null,
      finish,
      stopped,
    };
  }
  running = null;
  setRunning(false);
  if (!model && !reply.error) loadModel();  // the key was only given now (the list had failed)
  chat.updated = Date.now();
  save();
  view.update();
  if (current === chat) ui.prompt.focus();
}

function stop() {
  running?.controller.abort();
}

ui.form.addEventListener('submit', (e) => {
  e.preventDefault();
  const text = ui.prompt.value;
  if (running || !text.trim()) return;
  ui.prompt.value = '';
  send(text);
});
ui.prompt.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    ui.form.requestSubmit();
  }
});
ui.stop.addEventListener('click', stop);
document.addEventListener('keydown', (e) => {
  if (e.key !== 'Escape' || ui.keyDialog.open) return;
  if (running) {
    e.preventDefault();
    stop();
  } else {
    closeDrawers();
  }
});

// ---- settings ----

const settingInputs = { system: ui.system, temperature: ui.temperature, topP: ui.topP, maxTokens: ui.maxTokens, seed: ui.seed };
const saved = store.loadSettings();
for (const [name, input] of Object.entries(settingInputs)) {
  if (typeof saved[name] === 'string') input.value = saved[name];
  input.addEventListener('input', () => {
    store.saveSettings(Object.fromEntries(Object.entries(settingInputs).map(([n, i]) => [n, i.value])));
  });
}

// ---- theme: auto (the system's), light, dark ----

const THEMES = ['auto', 'light', 'dark'];
function applyTheme(theme) {
  if (theme === 'auto') delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = theme;
  $('theme-name').textContent = theme;
  ui.theme.setAttribute('aria-label', `Colour theme: ${theme === 'auto' ? 'follow the system' : theme}. Change`);
}
let theme = THEMES.includes(store.loadTheme()) ? store.loadTheme() : 'auto';
applyTheme(theme);
ui.theme.addEventListener('click', () => {
  theme = THEMES[(THEMES.indexOf(theme) + 1) % THEMES.length];
  store.saveTheme(theme);
  applyTheme(theme);
});

// ---- drawers (conversations and settings on narrow screens) ----

const toggles = [...document.querySelectorAll('.drawer-toggle')];
function closeDrawers() {
  for (const t of toggles) {
    t.setAttribute('aria-expanded', 'false');
    $(t.getAttribute('aria-controls')).classList.remove('open');
  }
}
for (const toggle of toggles) {
  toggle.addEventListener('click', () => {
    const open = toggle.getAttribute('aria-expanded') !== 'true';
    closeDrawers();
    toggle.setAttribute('aria-expanded', String(open));
    $(toggle.getAttribute('aria-controls')).classList.toggle('open', open);
  });
}

// ---- live server panel ----

const percent = (x) => `${(x * 100).toFixed(1)}%`;
async function pollMetrics() {
  if (document.hidden) return;
  let m = null;
  try {
    m = await readMetrics();
  } catch {
    // server gone; show dashes
  }
  $('m-running').textContent = m ? String(m.running) : '–';
  $('m-waiting').textContent = m ? String(m.waiting) : '–';
  $('m-kv').textContent = m ? percent(m.kvUsage) : '–';
  $('m-prefix').textContent = m?.prefixHitRate != null ? percent(m.prefixHitRate) : '–';
}

// ---- start ----

showChat();
loadModel().then(() => running || showChat());  // the model's name labels the replies
pollMetrics();
setInterval(pollMetrics, 2000);
ui.prompt.focus();
