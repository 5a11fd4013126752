// form.js: HTML forms, the reason CGI existed (NCSA Mosaic 2.0 and httpd 1.0 brought <form> and
// CGI together in 1993). GET with no query shows two forms that post back here; anything else
// shows what arrived. The two body encodings a browser sends are told apart by CONTENT_TYPE:
// application/x-www-form-urlencoded (name=value&..., like a query string) and
// multipart/form-data (RFC 1867, 1995: the form upload), which the WHATWG Response parses.
const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export default async function form({ env, stdin, stdout }) {
  const chunks = [];
  for await (const chunk of stdin) chunks.push(chunk);
  const body = Buffer.concat(chunks);
  const method = env.REQUEST_METHOD;
  const query = env.QUERY_STRING ?? '';

  if ((method === 'GET' || method === 'HEAD') && query === '') {
    return page(stdout, 'A form, two ways', formsHtml(escapeHtml(env.SCRIPT_NAME)));
  }

  let fields; // [name, string | File][]
  let how;
  if (method === 'GET' || method === 'HEAD') {
    fields = [...new URLSearchParams(query)];
    how = 'GET, from QUERY_STRING';
  } else {
    const type = (env.CONTENT_TYPE ?? '').split(';')[0].trim().toLowerCase();
    how = `${method}, ${body.length} bytes of ${type || 'no type'}`;
    if (type === 'application/x-www-form-urlencoded') {
      fields = [...new URLSearchParams(body.toString('utf8'))];
    } else if (type === 'multipart/form-data') {
      try {
        fields = [...(await new Response(body, { headers: { 'content-type': env.CONTENT_TYPE } }).formData())];
      } catch (err) {
        return page(stdout, 'Unreadable form', `<p>${escapeHtml(err.message)}</p>`, '400 Bad Request');
      }
    } else {
      return page(stdout, 'Not a form', `<p>Cannot read a body of type ${escapeHtml(type || '(none)')}.</p>`, '415 Unsupported Media Type');
    }
  }

  const rows = fields.map(([name, value]) =>
    typeof value === 'string'
      ? `<tr><td>${escapeHtml(name)}</td><td>${escapeHtml(value)}</td></tr>`
      : `<tr><td>${escapeHtml(name)}</td><td>file <b>${escapeHtml(value.name || '(none chosen)')}</b>, ${escapeHtml(value.type || 'no type')}, ${value.size} bytes</td></tr>`,
  );
  page(
    stdout,
    'What the form sent',
    `<p>${escapeHtml(how)}: ${fields.length} field(s).</p>\n` +
      `<table>\n<tr><th>name</th><th>value</th></tr>\n${rows.join('\n')}\n</table>\n<p><a href="${escapeHtml(env.SCRIPT_NAME)}">Back to the forms</a></p>`,
  );
}

function page(stdout, title, html, status) {
  stdout.write(
    (status ? `Status: ${status}\r\n` : '') +
      'Content-Type: text/html; charset=utf-8\r\n\r\n' +
      `<!doctype html>\n<meta charset="utf-8">\n<title>${title}</title>\n` +
      '<style>body{font:16px system-ui,sans-serif;max-width:40em;margin:2em auto}td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left}table{border-collapse:collapse}fieldset{margin:1em 0}</style>\n' +
      `<h1>${title}</h1>\n${html}\n`,
  );
}

function formsHtml(self) {
  return `<form method="post" action="${self}">
<fieldset><legend>application/x-www-form-urlencoded</legend>
<p><label>Name <input name="name" value="Tim"></label></p>
<p>Languages <label><input type="checkbox" name="lang" value="perl" checked> Perl</label>
<label><input type="checkbox" name="lang" value="c"> C</label>
<label><input type="checkbox" name="lang" value="sh" checked> sh</label></p>
<p><label>Comment<br><textarea name="comment">Fields may repeat &amp; carry &lt;markup&gt;</textarea></label></p>
<button>Post urlencoded</button></fieldset></form>
<form method="post" action="${self}" enctype="multipart/form-data">
<fieldset><legend>multipart/form-data</legend>
<p><label>Title <input name="title" value="My upload"></label></p>
<p><label>File <input type="file" name="upload" multiple></label></p>
<button>Post multipart</button></fieldset></form>
<p>Or as a GET, the way a search box sends it: <a href="${self}?name=Tim&amp;lang=perl&amp;lang=sh">${self}?name=Tim&amp;lang=perl&amp;lang=sh</a></p>`;
}
