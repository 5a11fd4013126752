/**
 * Where a FastCGI application listens, written the way the CLI takes it: `unix:PATH` or
 * `tcp:HOST:PORT` (`tcp:[::1]:9000` for IPv6). The same value serves net.Server.listen() on the
 * application side and net.createConnection() on the web-server side.
 */
import { FastCgiError } from './protocol.ts';

export type Address = { transport: 'unix'; path: string } | { transport: 'tcp'; host: string; port: number };

export function parseAddress(text: string): Address {
  if (text.startsWith('unix:') && text.length > 'unix:'.length) return { transport: 'unix', path: text.slice(5) };
  const tcp = /^tcp:(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const port = Number(tcp?.[3]);
  if (tcp && port <= 65535) return { transport: 'tcp', host: (tcp[1] ?? tcp[2])!, port };
  throw new FastCgiError(`fastcgi: address ${JSON.stringify(text)} is neither unix:PATH nor tcp:HOST:PORT`);
}

export function formatAddress(address: Address): string {
  if (address.transport === 'unix') return `unix:${address.path}`;
  return address.host.includes(':') ? `tcp:[${address.host}]:${address.port}` : `tcp:${address.host}:${address.port}`;
}

/** Options for net.Server.listen() and net.createConnection() alike. */
export function netOptions(address: Address): { path: string } | { host: string; port: number } {
  return address.transport === 'unix' ? { path: address.path } : { host: address.host, port: address.port };
}
