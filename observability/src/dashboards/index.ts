import { businessDashboard } from './business.dashboard';
import { eventsDashboard } from './events.dashboard';
import { gatewayDashboard } from './gateway.dashboard';
import { infrastructureDashboard } from './infrastructure.dashboard';
import type { DashboardSpec } from './kit';
import { overviewDashboard } from './overview.dashboard';

/** Every dashboard, in menu order; each becomes grafana/dashboards/<uid>.json. */
export const DASHBOARDS: readonly DashboardSpec[] = [overviewDashboard, gatewayDashboard, eventsDashboard, businessDashboard, infrastructureDashboard];

export { buildDashboard, panelQueries } from './kit';
export type { DashboardSpec } from './kit';
