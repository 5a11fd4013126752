// notes.js: notes as resources (REST, Fielding 2000). A handler script (export default), so
// the same file runs in all three modes: cgi, fastcgi (four workers) and embedded.
// (Any language works under cgi and fastcgi; embedded mode runs only handlers.)
//
// TODO: /cgi-bin/notes.js      GET → 200, every note as a JSON list
//                              POST {"text": "..."} → 201, Location: SCRIPT_NAME/ID, the note {"id", "text"}
//       /cgi-bin/notes.js/ID   GET → 200 the note, or 404
//                              PUT {"text": "..."} → 200 the note, replaced (the same twice is the same)
//                              DELETE → 204; after that GET and DELETE → 404
//       any other method → 405 with Allow; a body that is not {"text": "..."} → 400
//       env.PATH_INFO is "/ID" (or "" for the collection); env.SCRIPT_NAME is /cgi-bin/notes.js
export default async function notes({ env, stdin, stdout }) {
  stdout.write('Status: 501 Not Implemented\r\nContent-Type: text/plain\r\n\r\nnot written yet\n');
}
