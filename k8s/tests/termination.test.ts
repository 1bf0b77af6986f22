/**
 * What Kubernetes does to a pod on every rollout and scale-in: SIGTERM (after the preStop pause),
 * then SIGKILL when terminationGracePeriodSeconds runs out. The gateway process, started as its
 * image starts it (`node --import tsx src/main.ts`, NODE_ENV=production), must drain and exit 0
 * well within that grace.
 *
 * Only the gateway is started here: a standalone subgraph would join its real consumer group on the
 * shared test broker and take events from other suites. The subgraphs share the shutdown code with
 * the gateway (platform onShutdown, Apollo's signal handling disabled, checked below).
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { eventually, testKafkaBrokers } from '@shop/platform/testing';
import { REPO_ROOT } from '../lib/kustomize';

const GATEWAY_DEPLOYMENT = parse(readFileSync(path.join(REPO_ROOT, 'k8s/base/gateway/deployment.yaml'), 'utf8')) as {
  spec: { template: { spec: { terminationGracePeriodSeconds: number; containers: Array<{ lifecycle?: { preStop?: { sleep?: { seconds: number } } } }> } } };
};

let child: ChildProcess | undefined;

afterEach(() => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  child = undefined;
});

it('should let Kubernetes, not Apollo Server, own the SIGTERM handling of every service', () => {
  // Apollo's default handler stops the server and re-sends the signal: the second signal ends the
  // process (exit 1) before our drain has closed the bus and the database.
  for (const file of ['packages/platform/src/service/start.ts', 'gateway/src/gateway.ts']) {
    const source = readFileSync(path.join(REPO_ROOT, file), 'utf8');
    expect({ file, disabled: /new ApolloServer[\s\S]*?stopOnTerminationSignals:\s*false/.test(source) }).toEqual({ file, disabled: true });
  }
});

it('should drain and exit 0 on SIGTERM, within the grace period the manifests give the gateway', async () => {
  const pod = GATEWAY_DEPLOYMENT.spec.template.spec;
  const budgetMs = (pod.terminationGracePeriodSeconds - (pod.containers[0]?.lifecycle?.preStop?.sleep?.seconds ?? 0)) * 1000;
  const secret = 'termination-test-secret-0123456789abcdef';
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: path.join(REPO_ROOT, 'gateway'),
    env: {
      PATH: process.env['PATH'],
      NODE_ENV: 'production',
      LOG_LEVEL: 'info',
      PORT: '0',
      HOST: '127.0.0.1',
      KAFKA_BROKERS: testKafkaBrokers().join(','),
      INTERNAL_AUTH_SECRET: secret,
      JWT_SECRET: secret,
      // As the ConfigMap sets it (k8s/base/gateway/config.env): one worker per pod.
      GATEWAY_WORKERS: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child = proc;
  let log = '';
  proc.stdout?.on('data', (chunk: Buffer) => (log += chunk.toString()));
  proc.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));

  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway not ready after 45 s:\n${log}`)), 45_000);
    const check = (): void => {
      const m = /"url":"(http:\/\/127\.0\.0\.1:\d+)\/graphql"[^\n]*"msg":"gateway ready"/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(m[1] as string);
      }
    };
    proc.stdout?.on('data', check);
    void exited.then(() => reject(new Error(`gateway exited before it was ready:\n${log}`)));
  });
  // Listening is not ready: readiness also waits for the replay of revoked sessions (as a probe would).
  await eventually(async () => (await fetch(`${url}/health/ready`)).status === 200, 30_000, 100);

  const t0 = Date.now();
  proc.kill('SIGTERM');
  const result = await Promise.race([exited, new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), budgetMs).unref())]);
  const tookMs = Date.now() - t0;
  expect({ result, log: /second signal/.test(log) ? log : 'no second signal' }).toEqual({ result: { code: 0, signal: null }, log: 'no second signal' });
  expect(log).toContain('gateway stopped');
  expect(tookMs).toBeLessThan(budgetMs);
}, 90_000);
