/**
 * A lesson's README for the terminal: markdown-it parses it, and its tokens become plain
 * lines with colour (headings bold, code cyan, links with their URL after them). Without a
 * terminal the palette is colourless and the text still reads as it should.
 */
import MarkdownIt from 'markdown-it';
import type { Token } from 'markdown-it';
import type { Paint } from './report.ts';

const parser = new MarkdownIt({ html: false, linkify: false });

export function renderMarkdown(source: string, paint: Paint, width = 100): string {
  const out: string[] = [];
  const lists: { ordered: boolean; n: number }[] = [];
  let quote = 0;
  const tokens = parser.parse(source, {});
  let pendingItem = '';
  const emit = (text: string) => {
    const indent = '  '.repeat(Math.max(0, lists.length - 1)) + (quote ? paint.dim('│ ') : '');
    const first = pendingItem ? `${indent}${pendingItem}` : indent;
    const rest = pendingItem ? `${indent}${' '.repeat(visibleLength(pendingItem))}` : indent;
    for (const [i, line] of wrap(text, width - visibleLength(first)).entries()) out.push(`${i ? rest : first}${line}`);
    pendingItem = '';
  };
  for (const [i, token] of tokens.entries()) {
    switch (token.type) {
      case 'heading_open': {
        const text = inline(tokens[i + 1]!, paint);
        out.push('', token.tag === 'h1' ? paint.bold(paint.cyan(text)) : paint.bold(`${token.tag === 'h2' ? '' : '› '}${text}`));
        if (token.tag !== 'h3') out.push('');
        break;
      }
      case 'paragraph_open':
        emit(inline(tokens[i + 1]!, paint));
        if (!lists.length) out.push('');
        break;
      case 'bullet_list_open':
      case 'ordered_list_open':
        lists.push({ ordered: token.type === 'ordered_list_open', n: Number(token.attrGet('start') ?? 1) });
        break;
      case 'bullet_list_close':
      case 'ordered_list_close':
        lists.pop();
        if (!lists.length) out.push('');
        break;
      case 'list_item_open': {
        const list = lists.at(-1)!;
        pendingItem = list.ordered ? `${list.n++}. ` : '• ';
        break;
      }
      case 'blockquote_open':
        quote++;
        break;
      case 'blockquote_close':
        quote--;
        break;
      case 'fence':
      case 'code_block':
        for (const line of token.content.replace(/\n$/, '').split('\n')) out.push(`    ${paint.cyan(line)}`);
        out.push('');
        break;
      case 'hr':
        out.push(paint.dim('─'.repeat(Math.min(width, 40))), '');
        break;
      case 'table_open':
        out.push(...table(tokens, i, paint), '');
        break;
    }
  }
  return `${out
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim()}\n`;
}

function inline(token: Token, paint: Paint): string {
  let text = '';
  let href: string | undefined;
  let bold = false;
  for (const child of token.children ?? []) {
    switch (child.type) {
      case 'text':
        text += bold ? paint.bold(child.content) : child.content;
        break;
      case 'code_inline':
        text += paint.cyan(child.content);
        break;
      case 'strong_open':
        bold = true;
        break;
      case 'strong_close':
        bold = false;
        break;
      case 'link_open':
        href = String(child.attrGet('href') ?? '');
        break;
      case 'link_close':
        if (href && !href.startsWith('#')) text += paint.dim(` <${href}>`);
        href = undefined;
        break;
      case 'softbreak':
        text += ' ';
        break;
      case 'hardbreak':
        text += '\n';
        break;
    }
  }
  return text;
}

/** A table as aligned columns (cells' inline text only). */
function table(tokens: Token[], start: number, paint: Paint): string[] {
  const rows: string[][] = [];
  for (let i = start; i < tokens.length && tokens[i]!.type !== 'table_close'; i++) {
    if (tokens[i]!.type === 'tr_open') rows.push([]);
    if (tokens[i]!.type === 'inline') rows.at(-1)!.push(inline(tokens[i]!, paint));
  }
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => visibleLength(r[c] ?? '')))) ?? [];
  return rows.map((row, r) => {
    const line = row.map((cell, c) => cell + ' '.repeat(widths[c]! - visibleLength(cell))).join('  ');
    return r === 0 ? paint.bold(line) : line;
  });
}

function visibleLength(text: string): number {
  return text.replace(/\x1b\[[0-9;]*m/g, '').length;
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  for (const paragraph of text.split('\n')) {
    let line = '';
    for (const word of paragraph.split(' ')) {
      if (line && visibleLength(line) + 1 + visibleLength(word) > width) {
        lines.push(line);
        line = word;
      } else {
        line = line ? `${line} ${word}` : word;
      }
    }
    lines.push(line);
  }
  return lines;
}
