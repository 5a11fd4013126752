/**
 * Markdown → one complete HTML page, for the guides and lessons in the docroot: the page a
 * browser shows when a learner follows a link to `fastcgi.md` or a lesson's README.md.
 *
 * markdown-it with raw HTML off (a doc cannot inject script into the page), headings given
 * GitHub's anchor ids (so `fastcgi.md#the-process-model` lands where it does on GitHub), and a
 * small self-contained page: no CDN, no font, nothing fetched from the network.
 * Relative links are left as written: a link to another `.md` asks the same server for it, and
 * a browser asking for a `.md` is given this page again (see src/server/docs-pages.ts).
 */
import MarkdownIt from 'markdown-it';

const markdown = new MarkdownIt({ html: false, linkify: false, typographer: false });

export interface MarkdownPage {
  /** The first heading's text, else `fallbackTitle`. */
  title: string;
  html: string;
}

/** Renders `source`; `rawHref` is where the same text can be read as markdown. */
export function renderMarkdownPage(source: string, { fallbackTitle, rawHref }: { fallbackTitle: string; rawHref: string }): MarkdownPage {
  const env = {};
  const tokens = markdown.parse(source, env);
  let title: string | undefined;
  const seen = new Map<string, number>();
  tokens.forEach((token, i) => {
    if (token.type !== 'heading_open') return;
    const text = tokens[i + 1]?.children?.map((child) => child.content).join('') ?? '';
    if (token.tag === 'h1' && title === undefined) title = text;
    token.attrSet('id', uniqueSlug(text, seen));
  });
  const body = markdown.renderer.render(tokens, markdown.options, env);
  const pageTitle = title ?? fallbackTitle;
  return { title: pageTitle, html: page(pageTitle, body, rawHref) };
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes, repeats numbered. */
function uniqueSlug(text: string, seen: Map<string, number>): string {
  const base = text
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .trim()
    .replace(/\s/g, '-');
  const count = seen.get(base) ?? 0;
  seen.set(base, count + 1);
  return count === 0 ? base : `${base}-${count}`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title: string, body: string, rawHref: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · webhist</title>
<style>
  body { font: 16px/1.6 system-ui, sans-serif; max-width: 48em; margin: 0 auto; padding: 0 1em 3em; color: #222; }
  nav { display: flex; justify-content: space-between; padding: .8em 0; border-bottom: 1px solid #ddd; font-size: .9em; }
  h1 { font-size: 1.7em; line-height: 1.25; } h2 { font-size: 1.3em; margin-top: 1.8em; border-bottom: 1px solid #eee; }
  h3 { font-size: 1.1em; } a { color: #0645ad; }
  code { font: .9em ui-monospace, monospace; background: #f3f3f3; padding: .1em .25em; border-radius: 3px; }
  pre { background: #f6f6f6; border: 1px solid #e4e4e4; padding: .8em 1em; overflow-x: auto; line-height: 1.4; }
  pre code { background: none; padding: 0; font-size: .85em; }
  table { border-collapse: collapse; margin: 1em 0; } th, td { border: 1px solid #ddd; padding: .3em .6em; text-align: left; vertical-align: top; }
  th { background: #f6f6f6; } blockquote { margin: 1em 0; padding: 0 1em; border-left: 3px solid #ddd; color: #555; }
</style>
</head>
<body>
<nav><a href="/">← webhist</a><a href="${escapeHtml(rawHref)}">markdown source</a></nav>
<main>
${body}</main>
</body>
</html>
`;
}
