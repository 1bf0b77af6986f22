/**
 * Child process: one gateway of the benchmark (argv: a JSON GatewayStartOptions). Answers "ready"
 * with its URL (and, for `ours-workers`, the workers' pids: its CPU is theirs too);
 * "profile-start" / "profile-stop" (with `file`) record a V8 CPU profile of the measured window
 * alone (the profiler `--cpu-prof` uses, through the inspector, so that module loading and warm-up
 * stay out of it).
 *
 * `ours-workers`: this process is the cluster's primary (gateway/src/cluster.ts, as main.ts runs
 * it), forking one worker per core that runs this file again and starts ours on the same port.
 */
import cluster from 'node:cluster';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import os from 'node:os';
import type { GatewayStartOptions, StartedGateway } from './gateways';
import { startBenchGateway } from './gateways';
import { serveMessages } from './processes';

async function main(): Promise<void> {
  const options = JSON.parse(process.argv[2] ?? '{}') as GatewayStartOptions;
  if (options.kind === 'ours-workers') {
    const { isGatewayWorker, reportWorkerReady, startGatewayCluster } = await import('@shop/gateway/cluster');
    const { createLogger } = await import('@shop/platform');
    if (isGatewayWorker()) {
      const gateway = await startBenchGateway(options);
      process.once('SIGTERM', () => void gateway.stop().then(() => process.exit(0)));
      reportWorkerReady(gateway.url);
      return;
    }
    if (cluster.isPrimary) {
      const workers = await startGatewayCluster({ workers: Number(process.env['BENCH_GATEWAY_WORKERS'] ?? os.availableParallelism()), logger: createLogger('gateway', 'warn'), stopTimeoutMs: 10_000, args: process.argv.slice(2) });
      serve({ url: workers.url, stop: () => workers.stop() });
      process.send?.({ type: 'ready', url: workers.url, pids: workers.pids() });
      return;
    }
  }
  const gateway = await startBenchGateway(options);
  serve(gateway);
  process.send?.({ type: 'ready', url: gateway.url });
}

function serve(gateway: StartedGateway): void {
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
}

main().catch((error: unknown) => {
  process.send?.({ type: 'ready', error: error instanceof Error ? error.stack ?? error.message : String(error) });
  process.exitCode = 1;
  setImmediate(() => process.exit(1));
});
