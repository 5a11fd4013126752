import { createFastCgiMode } from '../modes/fastcgi/index.ts';
import { conformance } from './conformance.ts';

// Two workers, so that the per-worker state and the queueing beyond the pool both show.
conformance({
  name: 'fastcgi',
  create: ({ cgiBin, logger }) => createFastCgiMode({ cgiBin, logger, workers: 2, pm: 'static', maxRequests: 0, trace: false }),
  runsPrograms: true,
  statePersists: true,
});
