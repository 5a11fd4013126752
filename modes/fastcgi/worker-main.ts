/**
 * The entry a pool starts for each of its own workers: node worker-main.js OPTIONS_JSON, with the
 * pool's listening socket on fd 0. `webhist worker` is the same worker, started by a person.
 */
import { createLogger } from '../../src/server/log.ts';
import type { FromWorker } from './messages.ts';
import { startWorker, type WorkerOptions } from './worker.ts';

const options = JSON.parse(process.argv[2] ?? '{}') as Omit<WorkerOptions, 'logger'>;
const retiring: FromWorker = { type: 'retiring' };
const worker = await startWorker({
  ...options,
  supervised: true,
  logger: createLogger({ format: 'clf', quiet: true }),
  onRetire: () => process.send?.(retiring),
});
process.once('SIGTERM', () => void worker.close().then(() => process.exit(0)));
// The manager is gone: so is the reason to be here.
process.once('disconnect', () => process.exit(0));
