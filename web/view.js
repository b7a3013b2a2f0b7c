// DOM for the conversation: one <article> per message, the per-reply stats line and the list of
// stored conversations. Text only ever enters through textContent or the Markdown renderer.
import { renderMarkdown } from './markdown.js';

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// "42 tokens · 31.2 tokens/s · 180 ms to first token"
export function formatStats(stats) {
  if (!stats) return '';
  const parts = [];
  if (stats.stopped) parts.push('stopped');
  parts.push(`${stats.estimated ? '~' : ''}${stats.tokens} token${stats.tokens === 1 ? '' : 's'}`);
  if (stats.tokensPerSecond) parts.push(`${stats.tokensPerSecond.toFixed(1)} tokens/s`);
  if (stats.ttftMs != null) parts.push(`${Math.round(stats.ttftMs)} ms to first token`);
  if (stats.finish && stats.finish !== 'stop') parts.push(`finish: ${stats.finish}`);
  return parts.join(' · ');
}

// A message's <article>; update() redraws it from `message` (called as a reply streams in).
export function messageView(message, assistantName) {
  const user = message.role === 'user';
  const article = el('article', `msg ${user ? 'user' : 'assistant'}`);
  const who = el('h3', 'who', user ? 'You' : message.model || assistantName || 'Assistant');
  const body = el('div', 'body');
  const stats = el('p', 'stats');
  const error = el('p', 'error');
  error.setAttribute('role', 'alert');
  article.append(who, body, stats, error);

  let shown = null;
  const update = () => {
    if (message.content !== shown) {
      shown = message.content;
      if (user) body.textContent = message.content;
      else body.replaceChildren(renderMarkdown(message.content));
    }
    stats.textContent = formatStats(message.stats);
    stats.hidden = !message.stats;
    error.textContent = message.error ? `Error: ${message.error}` : '';
    error.hidden = !message.error;
  };
  update();
  return { element: article, update };
}

// The conversation list: one entry per chat, newest first, each with open and delete buttons.
export function renderChatList(list, chats, currentId, { onOpen, onDelete }) {
  list.replaceChildren(
    ...[...chats]
      .sort((a, b) => b.updated - a.updated)
      .map((chat) => {
        const item = el('li', 'chat-item');
        const open = el('button', 'chat-open', chat.title);
        open.type = 'button';
        if (chat.id === currentId) open.setAttribute('aria-current', 'true');
        open.addEventListener('click', () => onOpen(chat.id));
        const del = el('button', 'chat-delete', '×');
        del.type = 'button';
        del.setAttribute('aria-label', `Delete conversation: ${chat.title}`);
        del.title = 'Delete';
        del.addEventListener('click', () => onDelete(chat.id));
        item.append(open, del);
        return item;
      }),
  );
}
