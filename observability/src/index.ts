// The public surface of @shop/observability (what the e2e tests drive against a real Prometheus).
export type { AlertWebhook, WebhookAlert, WebhookNotification } from './alert-webhook';
export { startAlertWebhook } from './alert-webhook';
export type { DashboardSpec } from './dashboards';
export { buildDashboard, DASHBOARDS, panelQueries } from './dashboards';
export type { AlertmanagerConfigOptions, PrometheusConfigOptions } from './stack-config';
export { ALERTMANAGER_CONFIG_FILE, PROMETHEUS_CONFIG_FILE, renderAlertmanagerConfig, renderAlertRules, renderPrometheusConfig, RULE_FILES, RULE_TESTS_FILE } from './stack-config';
