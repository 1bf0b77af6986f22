/**
 * The standalone gateway (gateway/src/main.ts) as an OS process of its own, configured only
 * through its environment, as Kubernetes runs it.
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import path from 'node:path';
import type { TestShop } from './harness';

const MAIN = path.resolve(__dirname, '../../gateway/src/main.ts');

export interface GatewayProcess {
  /** http://127.0.0.1:<port>/graphql */
  readonly url: string;
  /** Process ids of the workers (GATEWAY_WORKERS > 1), else this process's. */
  readonly pids: number[];
  readonly child: ChildProcess;
  /** SIGTERM, then SIGKILL after 30 s; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** The environment of a gateway in front of `shop`'s subgraphs (its secrets, its Kafka namespace if on Kafka); `env` adds or overrides. */
export function gatewayEnvFor(shop: TestShop, brokers: readonly string[], env: Record<string, string> = {}): Record<string, string> {
  const url = (name: 'users' | 'catalog' | 'inventory' | 'orders') => shop.supergraph.services[name].url;
  return {
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    PORT: '0',
    HOST: '127.0.0.1',
    USERS_URL: url('users'),
    CATALOG_URL: url('catalog'),
    INVENTORY_URL: url('inventory'),
    ORDERS_URL: url('orders'),
    JWT_SECRET: shop.jwtSecret,
    INTERNAL_AUTH_SECRET: shop.internalAuthSecret,
    KAFKA_BROKERS: brokers.join(','),
    ...(shop.kafkaNamespace ? { KAFKA_NAMESPACE: shop.kafkaNamespace } : {}),
    ...env,
  };
}

/**
 * Starts main.ts with `env`; resolves once it logged (at LOG_LEVEL info) that it serves ('gateway cluster ready' from
 * the primary with GATEWAY_WORKERS > 1, else 'gateway ready').
 */
export function startGatewayProcess(env: Record<string, string>): Promise<GatewayProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const readyMessage = Number(env['GATEWAY_WORKERS'] ?? '1') > 1 ? 'gateway cluster ready' : 'gateway ready';
  let output = '';
  const stop = () =>
    new Promise<number | null>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.once('exit', (code) => {
        clearTimeout(timer);
        resolve(code);
      });
      child.kill('SIGTERM');
    });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`gateway not ready within 120 s; output:\n${output.slice(-4_000)}`));
    }, 120_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      for (const line of output.split('\n')) {
        if (!line.includes(`"${readyMessage}"`)) continue;
        const { url, pids } = JSON.parse(line) as { url: string; pids?: number[] };
        clearTimeout(timer);
        output = '';
        return resolve({ url, pids: pids ?? [child.pid ?? -1], child, stop });
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => void (output += chunk.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`gateway exited with ${code} before it was ready; output:\n${output.slice(-4_000)}`));
    });
  });
}
