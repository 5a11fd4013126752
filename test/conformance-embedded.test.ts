import { createEmbeddedMode } from '../modes/embedded/index.ts';
import { createLogger } from '../src/server/log.ts';
import { conformance } from './conformance.ts';

// The mode's own lines (re-imports) go to stderr; the suite changes no script, so expects none.
const create = () => createEmbeddedMode({ logger: createLogger({ format: 'clf', quiet: true }) });

conformance({ name: 'embedded', create, runsPrograms: false, statePersists: true });
