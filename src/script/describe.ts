/**
 * What a file in cgi-bin is and how to start it, decided without running it (DESIGN.md,
 * "The script contract").
 */

export interface Script {
  /** The URL path that names it, e.g. /cgi-bin/hello.sh: SCRIPT_NAME (RFC 3875 §4.1.13). */
  name: string;
  /** Its absolute path on disk: SCRIPT_FILENAME. */
  file: string;
  /** A JS/TS module with `export default` (a handler), or any other program. */
  kind: 'handler' | 'program';
  /** Named nph-*: it writes the whole HTTP response itself (RFC 3875 §5). */
  nph: boolean;
  /** How a process runs it: the program, then the arguments that come before §4.4's words. */
  command: [string, ...string[]];
}
