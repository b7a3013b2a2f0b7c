// What the page keeps in localStorage: conversations, the open one, settings, theme, API key.
// Everything read back is checked: storage may hold an older shape or be edited by hand.

const PREFIX = 'pagoda.';

function read(name, fallback) {
  try {
    const value = JSON.parse(localStorage.getItem(PREFIX + name));
    return value ?? fallback;
  } catch {
    return fallback;
  }
}

// False when storage is full or off (private windows): the page keeps working in memory.
function write(name, value) {
  try {
    localStorage.setItem(PREFIX + name, JSON.stringify(value));
    return true;
  } catch {
    return false;
  }
}

// [{id, title, updated, messages: [{role: 'user'|'assistant', content, stats?, error?}]}]
export function loadChats() {
  const chats = read('chats', []);
  if (!Array.isArray(chats)) return [];
  return chats
    .filter((c) => c && typeof c.id === 'string' && Array.isArray(c.messages))
    .map((c) => ({
      id: c.id,
      title: String(c.title ?? 'Conversation'),
      updated: Number(c.updated) || 0,
      messages: c.messages
        .filter((m) => m && typeof m.content === 'string')
        .map((m) => ({ ...m, role: m.role === 'user' ? 'user' : 'assistant' })),
    }));
}

export const saveChats = (chats) => write('chats', chats);
export const loadCurrentId = () => read('current', null);
export const saveCurrentId = (id) => write('current', id);
export const loadSettings = () => ({ ...read('settings', {}) });
export const saveSettings = (settings) => write('settings', settings);
export const loadTheme = () => read('theme', 'auto');
export const saveTheme = (theme) => write('theme', theme);
export const loadKey = () => String(read('apiKey', '') || '');
export const saveKey = (key) => (key ? write('apiKey', key) : localStorage.removeItem(PREFIX + 'apiKey'));

export function newChat() {
  const id = crypto.randomUUID?.() ?? `${Date.now()}-${Math.random().toString(36).slice(2)}`;
  return { id, title: 'New chat', updated: Date.now(), messages: [] };
}
