/** Child process: the load generator (see load.ts), driven by "run" messages. */
import type { LoadSpec } from './load';
import { runLoad } from './load';
import { serveMessages } from './processes';

serveMessages({
  run: async (m) => {
    const result = await runLoad(m['spec'] as LoadSpec, () => process.send?.({ type: 'measuring' }));
    return { type: 'run:done', result };
  },
  stop: async () => {
    setImmediate(() => process.exit(0));
  },
});
process.send?.({ type: 'ready' });
