/**
 * A real Prometheus and Alertmanager (Debian's binaries, see scripts/ensure-observability-tools.sh)
 * on free ports in a temporary directory, configured from the committed files re-targeted at a
 * test shop (observability/src/stack-config.ts). Stopped (and their directory removed) by `stop()`.
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { eventually } from '@shop/platform/testing';
import { RULE_FILES, renderAlertmanagerConfig, renderAlertRules, renderPrometheusConfig } from '@shop/observability';

const exec = promisify(execFile);

export interface PrometheusStack {
  readonly prometheusUrl: string;
  readonly alertmanagerUrl: string;
  /** The generated files: prometheus.yml, rules/*.yml, alertmanager.yml. */
  readonly dir: string;
  readonly configFile: string;
  /** Runs an instant query; answers the result vector (or throws with Prometheus' error). */
  query(expr: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>;
  stop(): Promise<void>;
}

export interface PrometheusStackOptions {
  /** host:port per scrape job (gateway, users, catalog, inventory, orders). */
  readonly targets: Readonly<Record<string, string>>;
  /** Where Alertmanager's webhooks go (replaces http://127.0.0.1:9095). */
  readonly webhookBase: string;
  /** Default 1s. */
  readonly scrapeInterval?: string;
  /** `for` hold of every alert. Default 0s (removed). */
  readonly alertHold?: string;
}

/** Runs `promtool` with `args`; answers its output, or throws with it. */
export async function promtool(...args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await exec('promtool', args, { timeout: 30_000 });
    return `${stdout}${stderr}`;
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`promtool ${args.join(' ')} failed:\n${e.stdout ?? ''}${e.stderr ?? e.message}`);
  }
}

export async function startPrometheusStack(options: PrometheusStackOptions): Promise<PrometheusStack> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'shop-prometheus-'));
  const children: ChildProcess[] = [];
  const logs = new Map<string, string[]>();
  const stop = async (): Promise<void> => {
    await Promise.all(children.map((c) => terminate(c)));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const [promPort, amPort, amClusterPort] = [await freePort(), await freePort(), await freePort()];
    const interval = options.scrapeInterval ?? '1s';
    const recording = path.join(dir, 'recording.yml');
    const alerts = path.join(dir, 'alerts.yml');
    writeFileSync(recording, renderRulesFile(RULE_FILES[0]!));
    writeFileSync(alerts, renderAlertRules(options.alertHold ?? '0s'));
    const configFile = path.join(dir, 'prometheus.yml');
    writeFileSync(
      configFile,
      renderPrometheusConfig({ targets: options.targets, alertmanager: `127.0.0.1:${amPort}`, ruleFiles: [recording, alerts], scrapeInterval: interval, evaluationInterval: interval }),
    );
    const amConfig = path.join(dir, 'alertmanager.yml');
    writeFileSync(amConfig, renderAlertmanagerConfig({ webhookBase: options.webhookBase, groupWait: '1s' }));

    const alertmanagerBin = await which('prometheus-alertmanager').catch(() => which('alertmanager'));
    children.push(
      run('alertmanager', alertmanagerBin, [
        `--config.file=${amConfig}`,
        `--storage.path=${path.join(dir, 'am-data')}`,
        `--web.listen-address=127.0.0.1:${amPort}`,
        `--cluster.listen-address=127.0.0.1:${amClusterPort}`,
        '--log.level=warn',
      ], logs),
      run('prometheus', 'prometheus', [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${path.join(dir, 'prom-data')}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
        '--log.level=warn',
      ], logs),
    );
    const prometheusUrl = `http://127.0.0.1:${promPort}`;
    const alertmanagerUrl = `http://127.0.0.1:${amPort}`;
    const ready = async (url: string): Promise<boolean> => {
      for (const c of children) if (c.exitCode !== null) throw new Error(`a process exited early:\n${[...logs].map(([k, v]) => `${k}: ${v.join('')}`).join('\n')}`);
      return (await fetch(`${url}/-/ready`).catch(() => undefined))?.ok ?? false;
    };
    await eventually(() => ready(prometheusUrl), 20_000, 100);
    await eventually(() => ready(alertmanagerUrl), 20_000, 100);
    return {
      prometheusUrl,
      alertmanagerUrl,
      dir,
      configFile,
      query: async (expr) => {
        const res = await fetch(`${prometheusUrl}/api/v1/query`, { method: 'POST', body: new URLSearchParams({ query: expr }) });
        const body = (await res.json()) as { status: string; error?: string; data?: { resultType: string; result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
        if (body.status !== 'success') throw new Error(`query ${expr} failed: ${body.error}`);
        return body.data?.resultType === 'vector' ? body.data.result : [];
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The committed rule file, unchanged (copied so every file Prometheus loads lives in the temp dir). */
function renderRulesFile(file: string): string {
  return readFileSync(file, 'utf8');
}

function run(name: string, bin: string, args: string[], logs: Map<string, string[]>): ChildProcess {
  const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const lines: string[] = [];
  logs.set(name, lines);
  child.stderr?.on('data', (d: Buffer) => {
    lines.push(d.toString());
    if (lines.length > 50) lines.shift();
  });
  return child;
}

async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

async function which(bin: string): Promise<string> {
  const { stdout } = await exec('sh', ['-c', `command -v ${bin}`]);
  const found = stdout.trim();
  if (!found) throw new Error(`${bin} not found: run bash scripts/ensure-observability-tools.sh`);
  return found;
}

/** A port that was free a moment ago (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Serves `file` (an exposition in Prometheus' text format) at /metrics on a free loopback port,
 * with every `__N__` replaced by the number of scrapes so far, so its counters grow: a stand-in
 * for an exporter that cannot run on this machine (Kafka's, CloudNativePG's).
 */
export async function startExpositionFixture(file: string): Promise<{ readonly host: string; close(): Promise<void> }> {
  const text = readFileSync(file, 'utf8');
  let scrapes = 0;
  const server = http.createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    scrapes++;
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(text.replaceAll('__N__', String(scrapes)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return { host: `127.0.0.1:${port}`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
