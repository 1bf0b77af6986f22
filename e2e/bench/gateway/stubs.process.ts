/** Child process: the four stub subgraphs (argv: host and a comma-separated list of ports, empty for free ones). */
import { serveMessages } from './processes';
import { startStubs } from './stub-subgraphs';
import { subgraphSdls } from './workload';

async function main(): Promise<void> {
  const host = process.argv[2] ?? '127.0.0.1';
  const ports = (process.argv[3] ?? '').split(',').filter(Boolean).map(Number);
  const stubs = await startStubs(subgraphSdls(), { host, ports });
  serveMessages({
    counts: async () => ({ type: 'counts:done', counts: stubs.counts() }),
    stop: async () => {
      await stubs.stop();
      setImmediate(() => process.exit(0));
    },
  });
  process.send?.({ type: 'ready', urls: stubs.urls });
}

main().catch((error: unknown) => {
  process.send?.({ type: 'ready', error: error instanceof Error ? error.stack ?? error.message : String(error) });
  setImmediate(() => process.exit(1));
});
