import { createCgiMode } from '../modes/cgi/index.ts';
import { conformance } from './conformance.ts';

conformance({ name: 'cgi', create: () => createCgiMode(), runsPrograms: true, statePersists: false });
