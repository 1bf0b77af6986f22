/**
 * Child process: one gateway of the benchmark (argv: a JSON GatewayStartOptions). Answers "ready"
 * with its URL; "profile-start" / "profile-stop" (with `file`) record a V8 CPU profile of the
 * measured window alone (the profiler `--cpu-prof` uses, through the inspector, so that module
 * loading and warm-up stay out of it).
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import type { GatewayStartOptions } from './gateways';
import { startBenchGateway } from './gateways';
import { serveMessages } from './processes';

async function main(): Promise<void> {
  const options = JSON.parse(process.argv[2] ?? '{}') as GatewayStartOptions;
  const gateway = await startBenchGateway(options);
  let session: Session | undefined;
  serveMessages({
    'profile-start': async () => {
      session = new Session();
      session.connect();
      await session.post('Profiler.enable');
      // 1 ms sampling keeps the profiler's own cost small; --cpu-prof defaults to 1 ms too.
      await session.post('Profiler.setSamplingInterval', { interval: 1000 });
      await session.post('Profiler.start');
    },
    'profile-stop': async (m) => {
      if (!session) return;
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(String(m['file']), JSON.stringify(profile));
      session.disconnect();
      session = undefined;
    },
    stop: async () => {
      await gateway.stop();
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
