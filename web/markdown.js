// Markdown → DOM nodes for model replies. Model text is never parsed as HTML: every node is made
// with createElement and every piece of text goes in through a text node, so `<script>` or
// `<img onerror=…>` in a reply shows up literally. Covers what chat models write: paragraphs,
// headings, **bold**, *italic*, `code`, fenced code blocks (with a copy button), lists,
// blockquotes, tables, rules and http(s) links. Unclosed fences render as code (replies stream
// in).

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([^\s`]*)[^`]*$/;
const HEADING = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/;
const RULE = /^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$/;
const QUOTE = /^ {0,3}>[ ]?(.*)$/;
const ITEM = /^( *)([-*+]|\d{1,9}[.)])[ \t]+(.*)$/;
const TABLE_RULE = /^ {0,3}\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$/;

// Inline syntax, tried left to right; at one position the earlier alternative wins.
const INLINE = new RegExp(
  [
    /(?<tick>`+)(?<code>[^`]|[^`][\s\S]*?[^`])\k<tick>(?!`)/.source,
    /\[(?<label>[^\]\n]+)\]\((?<href>[^\s()]+)(?:[ \t]+"[^"\n]*")?\)/.source,
    /\*\*\*(?<both>\S(?:[\s\S]*?\S)?)\*\*\*/.source,
    /(?<strong>\*\*|__)(?<strongText>\S(?:[\s\S]*?\S)?)\k<strong>/.source,
    /(?<em>\*|_)(?<emText>[^\s*_](?:[\s\S]*?[^\s])?)\k<em>/.source,
    /<(?<angle>https?:\/\/[^\s<>]+)>/.source,
    /(?<url>https?:\/\/[^\s<>"]*[^\s<>".,;:!?'")\]])/.source,
    /(?<br>(?: {2,}|\\)\n)/.source,
  ].join('|'),
  'g',
);

const leadingSpaces = (line) => line.length - line.trimStart().length;
const startsBlock = (line) =>
  FENCE.test(line) || HEADING.test(line) || RULE.test(line) || QUOTE.test(line) || ITEM.test(line);

// A table row's cells: split on pipes not escaped with a backslash, outer pipes dropped.
const cells = (line) =>
  line.trim().replace(/^\|/, '').replace(/(?<!\\)\|$/, '').split(/(?<!\\)\|/).map((c) => c.trim().replaceAll('\\|', '|'));
const tableAt = (lines, i) =>
  lines[i].includes('|') && TABLE_RULE.test(lines[i + 1] ?? '') && cells(lines[i]).length === cells(lines[i + 1]).length;

// Renders `text` into a new DocumentFragment.
export function renderMarkdown(text, doc = document) {
  const fragment = doc.createDocumentFragment();
  renderBlocks(String(text ?? '').replace(/\r\n?/g, '\n').split('\n'), fragment, doc);
  return fragment;
}

function renderBlocks(lines, parent, doc) {
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    let m;
    if (!line.trim()) {
      i++;
    } else if ((m = FENCE.exec(line))) {
      const close = new RegExp(`^ {0,3}${m[1][0] === '`' ? '`' : '~'}{${m[1].length},}\\s*$`);
      const body = [];
      for (i++; i < lines.length && !close.test(lines[i]); i++) body.push(lines[i]);
      i++;  // the closing fence (or past the end)
      parent.append(codeBlock(body.join('\n'), m[2], doc));
    } else if ((m = HEADING.exec(line))) {
      const h = doc.createElement(`h${m[1].length}`);
      renderInline(m[2] ?? '', h, doc);
      parent.append(h);
      i++;
    } else if (RULE.test(line)) {
      parent.append(doc.createElement('hr'));
      i++;
    } else if (QUOTE.test(line)) {
      const inner = [];
      for (; i < lines.length && (m = QUOTE.exec(lines[i])); i++) inner.push(m[1]);
      const quote = doc.createElement('blockquote');
      renderBlocks(inner, quote, doc);
      parent.append(quote);
    } else if (ITEM.test(line)) {
      i = renderList(lines, i, parent, doc);
    } else if (tableAt(lines, i)) {
      i = renderTable(lines, i, parent, doc);
    } else {
      const text = [line];
      for (i++; i < lines.length && lines[i].trim() && !startsBlock(lines[i]) && !tableAt(lines, i); i++)
        text.push(lines[i]);
      const p = doc.createElement('p');
      renderInline(text.map((l) => l.trimStart()).join('\n'), p, doc);
      parent.append(p);
    }
  }
}

// One list starting at lines[start]; returns the index after it. An item owns the lines indented
// past its marker (nested lists, code) and unindented text that continues its paragraph.
function renderList(lines, start, parent, doc) {
  const first = ITEM.exec(lines[start]);
  const indent = first[1].length;
  const ordered = /\d/.test(first[2]);
  const list = doc.createElement(ordered ? 'ol' : 'ul');
  if (ordered && parseInt(first[2], 10) !== 1) list.start = parseInt(first[2], 10);
  let i = start;
  let loose = false;
  const items = [];
  for (;;) {
    const m = ITEM.exec(lines[i] ?? '');
    if (!m || m[1].length !== indent || /\d/.test(m[2]) !== ordered) break;
    const contentIndent = m[1].length + m[2].length + 1;
    const body = [m[3]];
    for (i++; i < lines.length; i++) {
      const l = lines[i];
      if (!l.trim()) {
        // Blank lines stay in the item only when indented content follows them.
        let j = i;
        while (j < lines.length && !lines[j].trim()) j++;
        if (j >= lines.length || leadingSpaces(lines[j]) <= indent) break;
        loose = true;
        body.push('');
        continue;
      }
      if (leadingSpaces(l) > indent) body.push(l.slice(Math.min(contentIndent, leadingSpaces(l))));
      else if (!startsBlock(l) && body[body.length - 1].trim()) body.push(l);
      else break;
    }
    items.push(body);
    // A blank line before the next item of this list makes the list loose (paragraphs in items).
    let j = i;
    while (j < lines.length && !lines[j].trim()) j++;
    const next = ITEM.exec(lines[j] ?? '');
    if (j > i && next && next[1].length === indent && /\d/.test(next[2]) === ordered) {
      loose = true;
      i = j;
    }
  }
  for (const body of items) {
    const li = doc.createElement('li');
    renderBlocks(body, li, doc);
    // Tight lists hold their text directly, not in paragraphs.
    if (!loose) for (const p of [...li.children]) if (p.tagName === 'P') p.replaceWith(...p.childNodes);
    list.append(li);
  }
  parent.append(list);
  return i;
}

// A GitHub-style table at lines[start] (header, |---|:-:| rule, rows); returns the index after it.
function renderTable(lines, start, parent, doc) {
  const align = cells(lines[start + 1]).map((c) =>
    c.endsWith(':') ? (c.startsWith(':') ? 'center' : 'right') : c.startsWith(':') ? 'left' : '');
  const row = (line, tag) => {
    const tr = doc.createElement('tr');
    const values = cells(line);
    align.forEach((a, k) => {
      const cell = doc.createElement(tag);
      if (a) cell.className = `align-${a}`;  // a class, not a style attribute: the CSP forbids those
      renderInline(values[k] ?? '', cell, doc);
      tr.append(cell);
    });
    return tr;
  };
  const head = doc.createElement('thead');
  head.append(row(lines[start], 'th'));
  const body = doc.createElement('tbody');
  let i = start + 2;
  for (; i < lines.length && lines[i].trim() && lines[i].includes('|'); i++) body.append(row(lines[i], 'td'));
  const table = doc.createElement('table');
  table.append(head, body);
  const wrap = doc.createElement('div');
  wrap.className = 'table-wrap';
  wrap.append(table);
  parent.append(wrap);
  return i;
}

export function renderInline(text, parent, doc = document) {
  let last = 0;
  INLINE.lastIndex = 0;
  for (let m; (m = INLINE.exec(text)); ) {
    const g = m.groups;
    const delimiter = g.strong ?? g.em;
    // Underscores inside words (snake_case) are not emphasis.
    if (delimiter?.startsWith('_') && (isWordChar(text[m.index - 1]) || isWordChar(text[INLINE.lastIndex]))) {
      INLINE.lastIndex = m.index + 1;
      continue;
    }
    const saved = INLINE.lastIndex;  // the recursive calls below reuse INLINE
    parent.append(text.slice(last, m.index));
    if (g.tick) {
      const code = doc.createElement('code');
      const inner = g.code;
      code.textContent = /^ .*[^ ].* $/s.test(inner) ? inner.slice(1, -1) : inner;
      parent.append(code);
    } else if (g.both !== undefined) {
      const strong = doc.createElement('strong');
      const em = doc.createElement('em');
      renderInline(g.both, em, doc);
      strong.append(em);
      parent.append(strong);
    } else if (g.label !== undefined) {
      parent.append(link(g.href, g.label, doc));
    } else if (g.strong) {
      const strong = doc.createElement('strong');
      renderInline(g.strongText, strong, doc);
      parent.append(strong);
    } else if (g.em) {
      const em = doc.createElement('em');
      renderInline(g.emText, em, doc);
      parent.append(em);
    } else if (g.url || g.angle) {
      parent.append(link(g.url ?? g.angle, null, doc));
    } else {
      parent.append(doc.createElement('br'));
    }
    last = INLINE.lastIndex = saved;
  }
  parent.append(text.slice(last));
}

const isWordChar = (c) => c !== undefined && /[\p{L}\p{N}_]/u.test(c);

// An <a> for http(s) URLs only (no javascript:, data: or relative links); anything else stays text.
function link(href, label, doc) {
  let url = null;
  try {
    url = new URL(href);
  } catch {
    // not an absolute URL
  }
  const target = url && (url.protocol === 'http:' || url.protocol === 'https:') ? doc.createElement('a') : null;
  const holder = target ?? doc.createElement('span');
  if (label === null) holder.textContent = href;
  else renderInline(label, holder, doc);
  if (!target) return label === null ? href : holder;
  target.href = url.href;
  target.rel = 'noopener noreferrer';
  target.target = '_blank';
  return target;
}

function codeBlock(code, lang, doc) {
  const block = doc.createElement('div');
  block.className = 'code-block';
  const head = doc.createElement('div');
  head.className = 'code-head';
  const name = doc.createElement('span');
  name.textContent = lang || 'code';
  const copy = doc.createElement('button');
  copy.type = 'button';
  copy.className = 'copy';
  copy.textContent = 'Copy';
  copy.setAttribute('aria-label', `Copy ${lang || 'code'} to the clipboard`);
  copy.addEventListener('click', async () => {
    copy.textContent = (await copyText(code, doc)) ? 'Copied' : 'Copy failed';
    setTimeout(() => (copy.textContent = 'Copy'), 1500);
  });
  head.append(name, copy);
  const pre = doc.createElement('pre');
  const codeEl = doc.createElement('code');
  codeEl.textContent = code;
  pre.append(codeEl);
  block.append(head, pre);
  return block;
}

// The Clipboard API needs a secure context (https or localhost); elsewhere fall back to a
// hidden textarea and execCommand.
async function copyText(text, doc) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const area = doc.createElement('textarea');
    area.value = text;
    area.setAttribute('readonly', '');
    area.className = 'visually-hidden';
    doc.body.append(area);
    area.select();
    const ok = doc.execCommand('copy');
    area.remove();
    return ok;
  }
}
