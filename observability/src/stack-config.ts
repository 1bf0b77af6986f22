/**
 * The committed Prometheus and Alertmanager configuration, re-targeted: other ports, faster
 * intervals, another webhook. The e2e test runs the real configuration this way against a shop on
 * free ports; only addresses and timings change, never the rules' expressions or the routing tree.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';

const DIR = path.resolve(__dirname, '..');

/** Committed files (absolute paths). */
export const PROMETHEUS_CONFIG_FILE = path.join(DIR, 'prometheus/prometheus.yml');
export const RULE_FILES = [path.join(DIR, 'prometheus/rules/recording.yml'), path.join(DIR, 'prometheus/rules/alerts.yml')];
export const RULE_TESTS_FILE = path.join(DIR, 'prometheus/tests/alerts.test.yml');
export const ALERTMANAGER_CONFIG_FILE = path.join(DIR, 'alertmanager/alertmanager.yml');

export interface PrometheusConfigOptions {
  /** host:port of each scrape job (gateway, users, …), replacing the committed targets. */
  readonly targets: Readonly<Record<string, string>>;
  /** host:port of Alertmanager. */
  readonly alertmanager: string;
  /** Rule files to load (absolute paths). */
  readonly ruleFiles: readonly string[];
  /** Default: the committed 15 s. */
  readonly scrapeInterval?: string;
  /** Default: the committed 15 s. */
  readonly evaluationInterval?: string;
}

/** Scrape jobs of the platform under the services (Kafka, Postgres exporters): optional in a re-targeted config. */
export const INFRASTRUCTURE_JOBS: ReadonlySet<string> = new Set(['kafka-exporter', 'postgres']);

/** prometheus.yml with the given targets, Alertmanager, rule files and intervals. */
export function renderPrometheusConfig(options: PrometheusConfigOptions): string {
  const config = YAML.parse(readFileSync(PROMETHEUS_CONFIG_FILE, 'utf8')) as {
    global: Record<string, string>;
    rule_files: string[];
    alerting: { alertmanagers: Array<{ static_configs: Array<{ targets: string[] }> }> };
    scrape_configs: Array<{ job_name: string; static_configs: Array<{ targets: string[] }> }>;
  };
  if (options.scrapeInterval) {
    config.global['scrape_interval'] = options.scrapeInterval;
    config.global['scrape_timeout'] = options.scrapeInterval;
  }
  if (options.evaluationInterval) config.global['evaluation_interval'] = options.evaluationInterval;
  config.rule_files = [...options.ruleFiles];
  config.alerting.alertmanagers = [{ static_configs: [{ targets: [options.alertmanager] }] }];
  const jobs = new Set(config.scrape_configs.map((j) => j.job_name));
  for (const job of Object.keys(options.targets)) if (!jobs.has(job)) throw new Error(`No scrape job "${job}" in ${PROMETHEUS_CONFIG_FILE}`);
  for (const job of config.scrape_configs) {
    const target = options.targets[job.job_name];
    if (!target && !INFRASTRUCTURE_JOBS.has(job.job_name)) throw new Error(`No target given for scrape job "${job.job_name}"`);
    job.static_configs = target ? [{ targets: [target] }] : [];
  }
  // An infrastructure job without a target is left out (a test of the services alone).
  config.scrape_configs = config.scrape_configs.filter((j) => j.static_configs.length > 0);
  return YAML.stringify(config);
}

/**
 * alerts.yml with every alert's `for` hold set to `hold` (`0s` removes it): a test cannot wait
 * minutes, and the hold is the only thing it changes.
 */
export function renderAlertRules(hold: string): string {
  const rules = YAML.parse(readFileSync(RULE_FILES[1]!, 'utf8')) as { groups: Array<{ rules: Array<Record<string, unknown>> }> };
  for (const group of rules.groups) {
    for (const rule of group.rules) {
      if (!('alert' in rule)) continue;
      if (hold === '0s') delete rule['for'];
      else rule['for'] = hold;
    }
  }
  return YAML.stringify(rules);
}

export interface AlertmanagerConfigOptions {
  /** Base URL that replaces `http://127.0.0.1:9095` in every webhook receiver (paths are kept). */
  readonly webhookBase: string;
  /** group_wait and group_interval of every route. Default: the committed ones. */
  readonly groupWait?: string;
}

/** alertmanager.yml with the webhooks pointed at `webhookBase` and, optionally, shorter grouping delays. */
export function renderAlertmanagerConfig(options: AlertmanagerConfigOptions): string {
  const config = YAML.parse(readFileSync(ALERTMANAGER_CONFIG_FILE, 'utf8')) as {
    route: Route;
    receivers: Array<{ webhook_configs?: Array<{ url: string }> }>;
  };
  interface Route {
    group_wait?: string;
    group_interval?: string;
    routes?: Route[];
  }
  const visit = (route: Route): void => {
    if (options.groupWait) {
      if (route.group_wait || route === config.route) route.group_wait = options.groupWait;
      if (route.group_interval || route === config.route) route.group_interval = options.groupWait;
    }
    for (const child of route.routes ?? []) visit(child);
  };
  visit(config.route);
  for (const receiver of config.receivers) {
    for (const hook of receiver.webhook_configs ?? []) {
      const url = new URL(hook.url);
      hook.url = `${options.webhookBase.replace(/\/$/, '')}${url.pathname}`;
    }
  }
  return YAML.stringify(config);
}
