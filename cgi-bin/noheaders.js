// noheaders.js: the most common CGI bug of the 1990s, a program that forgets its header block
// and starts with the body. The server cannot tell what this is, so it must answer
// 502 Bad Gateway and log why (Apache's "malformed header from script").
export default async function noheaders({ stdout }) {
  stdout.write('Hello, world\nThis script forgot its header block and the blank line after it\n');
}
