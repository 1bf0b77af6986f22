/**
 * Two gateway processes (the standalone `gateway/src/main.ts`, as Kubernetes runs each replica,
 * configured only through their environment) sharing the test run's real redis-server enforce one
 * budget per client. The query is one the gateway answers itself, so no subgraph is needed.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { testKafkaBrokers, testRedisUrl } from '@shop/platform/testing';

const MAIN = path.resolve(__dirname, '../src/main.ts');

interface GatewayProcess {
  readonly url: string;
  stop(): Promise<void>;
}

/** Starts `main.ts` with `env`; resolves with its URL once it logged 'gateway ready'. */
function startGatewayProcess(env: Record<string, string>): Promise<GatewayProcess> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', MAIN], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill('SIGTERM');
    });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`gateway process not ready within 90 s; output:\n${output.slice(-4_000)}`));
    }, 90_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      for (const line of output.split('\n')) {
        if (!line.includes('gateway ready')) continue;
        const url = (JSON.parse(line) as { url?: string }).url;
        if (!url) continue;
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        child.stdout?.resume();
        return resolve({ url, stop });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => void (output += chunk.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`gateway process exited with ${code} before it was ready; output:\n${output.slice(-4_000)}`));
    });
  });
}

describe('rate limits shared by gateway processes', () => {
  const gateways: GatewayProcess[] = [];

  beforeAll(async () => {
    const env = {
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      PORT: '0',
      HOST: '127.0.0.1',
      JWT_SECRET: randomBytes(32).toString('base64url'),
      INTERNAL_AUTH_SECRET: randomBytes(32).toString('base64url'),
      KAFKA_BROKERS: testKafkaBrokers().join(','),
      REDIS_URL: testRedisUrl(),
      TRUST_PROXY_HOPS: '1',
      RATE_LIMIT_EXEMPT_ADDRESSES: '',
      RATE_LIMIT_ANONYMOUS_REQUESTS: '6',
      // Two replicas of one worker each, as Kubernetes runs them (workers: e2e/foundation/gateway-cluster.test.ts).
      GATEWAY_WORKERS: '1',
    };
    gateways.push(...(await Promise.all([startGatewayProcess(env), startGatewayProcess(env)])));
  }, 120_000);
  afterAll(async () => {
    await Promise.all(gateways.map((g) => g.stop()));
  });

  it('should enforce one budget per client across two gateway processes that share Redis', async () => {
    const [one, two] = gateways as [GatewayProcess, GatewayProcess];
    expect(one.url).not.toBe(two.url);
    // A fresh address per run: the budget's keys are the processes' defaults.
    const from = `198.18.${randomBytes(1)[0]}.${randomBytes(1)[0]}`;
    const answers: Array<{ status: number; remaining: string | null }> = [];
    for (let i = 0; i < 8; i++) {
      const res = await fetch(i % 2 === 0 ? one.url : two.url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-for': from }, body: JSON.stringify({ query: '{ __typename }' }) });
      await res.arrayBuffer();
      answers.push({ status: res.status, remaining: res.headers.get('ratelimit-remaining') });
    }
    // Alternating between the processes, the six requests of one budget run down one counter.
    expect(answers).toEqual([
      { status: 200, remaining: '5' },
      { status: 200, remaining: '4' },
      { status: 200, remaining: '3' },
      { status: 200, remaining: '2' },
      { status: 200, remaining: '1' },
      { status: 200, remaining: '0' },
      { status: 429, remaining: '0' },
      { status: 429, remaining: '0' },
    ]);
  });
});
