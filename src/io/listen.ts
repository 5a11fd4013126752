/**
 * server.listen() as a promise that rejects on the error listen() reports by event (EADDRINUSE,
 * EACCES), for node:http and node:net servers alike.
 */
import type { ListenOptions, Server } from 'node:net';

/** `where`: a port and host, a unix socket's path, or an inherited descriptor ({ fd }). */
export function listen(server: Server, where: ListenOptions | string | { fd: number }): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(where, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
