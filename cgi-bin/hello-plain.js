// hello-plain.js: a plain CGI program in JavaScript: no `export default`, so it is not a
// handler. It prints to process.stdout like any CGI program, and every request pays for
// starting a whole node process: the 1993 model, with a 2020s runtime. Compare with hello.js.
process.stdout.write('Content-Type: text/plain\r\n\r\n');
process.stdout.write('Hello, world from plain JavaScript (a node process per request)\n');
