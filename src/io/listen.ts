/**
 * server.listen() as a promise that rejects on the error listen() reports by event (EADDRINUSE,
 * EACCES), for node:http and node:net servers alike.
 */
import { createServer, type AddressInfo, type ListenOptions, type Server } from 'node:net';

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

/**
 * A port free right now on 127.0.0.1: the kernel picks one, we let it go and hand it on, for a
 * program that cannot be told to pick one itself (nginx's config, a learner's responder's PORT).
 */
export async function freePort(): Promise<number> {
  const server = createServer();
  await listen(server, { port: 0, host: '127.0.0.1' });
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
