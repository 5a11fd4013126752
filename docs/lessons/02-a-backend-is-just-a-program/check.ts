/**
 * Lesson 2's checks: cgi-bin/greet.sh through `webhist run` (the exact bytes it prints) and
 * over HTTP in CGI mode. One name is picked by the seed, so a hard-coded answer cannot pass.
 */
import type { CheckContext, Response, Suite } from '../../../src/learn/checks.ts';

const script = '/cgi-bin/greet.sh';

/** Names with a space, a hyphen, an apostrophe or a letter beyond ASCII: each must survive the query string. */
const people = ['Radia Perlman', 'Tim Berners-Lee', 'Margaret Hamilton', 'Rob McCool', "Brian O'Neil", 'Émile Baudot', 'Ida Noddack', 'Grace Hopper'];

/** The form encoding of a value (as a browser sends it): space as + or %20, other bytes as %XX. */
function encode(value: string, spaceAsPlus: boolean): string {
  return encodeURIComponent(value)
    .replace(/'/g, '%27')
    .replace(/%20/g, spaceAsPlus ? '+' : '%20');
}

function expectGreeting(t: CheckContext, response: Response, name: string) {
  const expected = `Hello, ${name}!\n`;
  t.status(response, 200);
  t.header(response, 'Content-Type', /^text\/plain/, 'print "Content-Type: text/plain" as the first header line');
  if (response.text === expected.slice(0, -1))
    t.fail(`the body is ${JSON.stringify(response.text)}: it lacks the newline at the end. echo adds one; printf needs \\n`);
  if (response.text.includes('+') && !name.includes('+'))
    t.fail(
      `the body is ${JSON.stringify(response.text)}: a + in a query string stands for a space (forms encode spaces that way); turn + into a space before decoding %XX`,
    );
  if (/%[0-9A-F]{2}/i.test(response.text))
    t.fail(`the body is ${JSON.stringify(response.text)}: %XX is a byte written in hex; decode it (%20 is a space, %C3%89 the two bytes of É in UTF-8)`);
  t.body(response, expected);
}

export default {
  files: [{ path: 'cgi-bin/greet.sh', executable: true }],
  checks: [
    {
      task: 1,
      title: 'webhist run: ?name=Ada%20Lovelace prints a Content-Type header, an empty line, "Hello, Ada Lovelace!"',
      async run(t) {
        const out = (await t.runScript('cgi-bin/greet.sh', ['--query', 'name=Ada%20Lovelace'])).toString('utf8');
        const end = /\r?\n\r?\n/.exec(out);
        if (!end) t.fail('there is no empty line after the header lines, so the server cannot tell where the body starts (RFC 3875 §6.2)');
        const head = out.slice(0, end!.index);
        t.expect(
          /^content-type:[ \t]*text\/plain/im.test(head),
          `the header lines are ${JSON.stringify(head)}; one of them must be "Content-Type: text/plain"`,
        );
        const body = out.slice(end!.index + end![0].length);
        t.expect(body === 'Hello, Ada Lovelace!\n', `the body printed is ${JSON.stringify(body)}; expected "Hello, Ada Lovelace!\\n"`);
      },
    },
    {
      task: 1,
      title: 'GET ?name=Ada%20Lovelace answers 200 text/plain "Hello, Ada Lovelace!"',
      async run(t) {
        expectGreeting(t, await t.http({ path: `${script}?name=Ada%20Lovelace` }), 'Ada Lovelace');
      },
    },
    {
      task: 2,
      title: 'GET ?name=Grace+Hopper: a + is a space',
      async run(t) {
        expectGreeting(t, await t.http({ path: `${script}?name=Grace+Hopper` }), 'Grace Hopper');
      },
    },
    {
      task: 2,
      title: 'GET ?name=%C3%89mile%20Baudot: %XX are bytes (here UTF-8 for É)',
      async run(t) {
        expectGreeting(t, await t.http({ path: `${script}?name=%C3%89mile%20Baudot` }), 'Émile Baudot');
      },
    },
    {
      task: 2,
      title: 'GET with a name picked by the seed, after another field',
      async run(t) {
        const name = people[Math.floor(t.random() * people.length)]!;
        expectGreeting(t, await t.http({ path: `${script}?lang=en&name=${encode(name, t.random() < 0.5)}` }), name);
      },
    },
    {
      task: 3,
      title: 'GET with no name answers 400',
      async run(t) {
        const advice = 'With no name there is nobody to greet: print the header line "Status: 400 Bad Request" (RFC 3875 §6.3.3) before the empty line';
        t.status(await t.http({ path: script }), 400, advice);
        t.status(await t.http({ path: `${script}?greeting=hi` }), 400, advice);
      },
    },
  ],
} satisfies Suite;
