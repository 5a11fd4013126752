/**
 * The handler script contract (DESIGN.md, "The script contract"): a module whose default
 * export receives the CGI environment, the request body and a stream to print the CGI
 * response to, exactly what a CGI program would see and print. The same file runs unchanged
 * under every mode; the returned promise settling means the response is complete.
 */
import type { Readable, Writable } from 'node:stream';

/** @public What a handler script is called with: the contract a script author writes against. */
export interface HandlerContext {
  /** The CGI meta-variables (RFC 3875 §4.1): never the server's own environment. */
  env: Record<string, string>;
  /** The request body: exactly CONTENT_LENGTH bytes. */
  stdin: Readable;
  /** Where the handler prints its CGI response: headers, a blank line, the body. */
  stdout: Writable;
}

export type Handler = (context: HandlerContext) => unknown;
