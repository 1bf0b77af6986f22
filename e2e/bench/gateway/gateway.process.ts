/** Child process: one gateway of the benchmark (argv: a JSON GatewayStartOptions). Answers "ready" with its URL. */
import type { GatewayStartOptions } from './gateways';
import { startBenchGateway } from './gateways';
import { serveMessages } from './processes';

async function main(): Promise<void> {
  const options = JSON.parse(process.argv[2] ?? '{}') as GatewayStartOptions;
  const gateway = await startBenchGateway(options);
  serveMessages({
    stop: async () => {
      await gateway.stop();
      // Exit normally so that --cpu-prof writes its profile.
      setImmediate(() => process.exit(0));
    },
  });
  process.send?.({ type: 'ready', url: gateway.url });
}

main().catch((error: unknown) => {
  process.send?.({ type: 'ready', error: error instanceof Error ? error.stack ?? error.message : String(error) });
  process.exitCode = 1;
  setImmediate(() => process.exit(1));
});
