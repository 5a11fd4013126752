import { createCgiMode } from '../modes/cgi/index.ts';
import { conformance } from './conformance.ts';

// CGI mode starts programs two ways (src/run/launcher.ts): the spawn helper, and a fork of the
// server where the helper is not built. Both must behave the same to a client.
conformance({ name: 'cgi', create: () => createCgiMode({ spawn: 'helper' }), runsPrograms: true, statePersists: false });
conformance({ name: 'cgi (--spawn node)', create: () => createCgiMode({ spawn: 'node' }), runsPrograms: true, statePersists: false });
