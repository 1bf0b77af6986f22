/**
 * A small kit over @grafana/grafana-foundation-sdk so that each dashboard file reads as a list of
 * questions and PromQL answers. Every panel queries the `$datasource` variable (a Prometheus data
 * source picked in Grafana; the provisioned one has uid `prometheus`), gets a stable id and an
 * explicit position (rows of 24 columns), and long-range panels say which recording rule they read.
 */
import * as common from '@grafana/grafana-foundation-sdk/common';
import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import {
  DashboardBuilder,
  DashboardCursorSync,
  DatasourceVariableBuilder,
  MappingType,
  QueryVariableBuilder,
  RowBuilder,
  ThresholdsConfigBuilder,
  ThresholdsMode,
  VariableRefresh,
  VariableSort,
} from '@grafana/grafana-foundation-sdk/dashboard';
import type { Dashboard, Threshold } from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatPanelBuilder } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TimeseriesPanelBuilder } from '@grafana/grafana-foundation-sdk/timeseries';

/** The data source every panel queries: the dashboard's `datasource` variable. */
export const DATASOURCE = { type: 'prometheus', uid: '${datasource}' } as const;

/** The jobs (scrape targets) of the shop, one per service; alert rules use the same list. */
export const SERVICE_JOBS = 'gateway|users|catalog|inventory|orders';

/** One query of a panel: PromQL and the legend (`{{label}}` placeholders). */
export interface Query {
  readonly expr: string;
  readonly legend?: string;
}

export interface PanelOptions {
  readonly description: string;
  /** Grafana unit id (`s`, `percentunit`, `reqps`, `bytes`, `short`…). Default `short`. */
  readonly unit?: string;
  /** Columns out of 24. Default 12. */
  readonly width?: number;
  /** Grid rows. Default 8. */
  readonly height?: number;
  /** Threshold steps after the base green, e.g. `[[0.2, 'red']]` (also drawn as a line on time series). */
  readonly thresholds?: ReadonlyArray<readonly [number, string]>;
  /** A relative time range of its own (`7d`): long-range panels that read recording rules. */
  readonly timeFrom?: string;
  /** Stacked areas (parts of a whole). Default false. */
  readonly stacked?: boolean;
  readonly min?: number;
  readonly max?: number;
  /** Stat panels: text for values (`{ '0': 'DOWN', '1': 'UP' }`). */
  readonly valueText?: Readonly<Record<string, { text: string; color: string }>>;
}

type PanelKind = 'timeseries' | 'stat';
interface PanelSpec {
  readonly kind: PanelKind;
  readonly title: string;
  readonly queries: readonly Query[];
  readonly options: PanelOptions;
}
interface RowSpec {
  readonly title: string;
  readonly panels: readonly PanelSpec[];
}

/** A time series panel (rates, ratios, latencies over time). */
export function timeseries(title: string, queries: Query | readonly Query[], options: PanelOptions): PanelSpec {
  return { kind: 'timeseries', title, queries: Array.isArray(queries) ? queries : [queries as Query], options };
}

/** A single-value panel (current state: targets up, low-stock products, dead letters in the last hour). */
export function stat(title: string, queries: Query | readonly Query[], options: PanelOptions): PanelSpec {
  return { kind: 'stat', title, queries: Array.isArray(queries) ? queries : [queries as Query], options: { width: 6, height: 5, ...options } };
}

/** A row of panels under a title. */
export function row(title: string, panels: readonly PanelSpec[]): RowSpec {
  return { title, panels };
}

export interface DashboardSpec {
  readonly uid: string;
  readonly title: string;
  readonly description: string;
  readonly tags: readonly string[];
  /** Adds a `service` variable (multi-select over the `service` label). Default false. */
  readonly serviceVariable?: boolean;
  readonly rows: readonly RowSpec[];
}

/** Builds the Grafana dashboard JSON model of `spec` (deterministic: same spec, same JSON). */
export function buildDashboard(spec: DashboardSpec): Dashboard {
  const builder = new DashboardBuilder(spec.title)
    .uid(spec.uid)
    .description(spec.description)
    .tags(['shop', 'generated', ...spec.tags])
    .editable()
    .tooltip(DashboardCursorSync.Crosshair)
    .refresh('30s')
    .time({ from: 'now-3h', to: 'now' })
    .timezone('browser')
    .withVariable(new DatasourceVariableBuilder('datasource').label('Data source').type('prometheus'));
  if (spec.serviceVariable) {
    builder.withVariable(
      new QueryVariableBuilder('service')
        .label('Service')
        .datasource(DATASOURCE)
        .query({ query: 'label_values(graphql_operations_total, service)', refId: 'service' })
        .definition('label_values(graphql_operations_total, service)')
        .refresh(VariableRefresh.OnTimeRangeChanged)
        .sort(VariableSort.AlphabeticalAsc)
        .multi(true)
        .includeAll(true)
        .allValue('.*')
        .current({ selected: true, text: ['All'], value: ['$__all'] }),
    );
  }
  let id = 1;
  let y = 0;
  for (const r of spec.rows) {
    builder.withRow(new RowBuilder(r.title).id(id++).gridPos({ x: 0, y, w: 24, h: 1 }));
    y += 1;
    let x = 0;
    let rowHeight = 0;
    for (const p of r.panels) {
      const w = p.options.width ?? 12;
      const h = p.options.height ?? 8;
      if (x + w > 24) {
        x = 0;
        y += rowHeight;
        rowHeight = 0;
      }
      builder.withPanel(panel(p, id++, { x, y, w, h }));
      x += w;
      rowHeight = Math.max(rowHeight, h);
    }
    y += rowHeight;
  }
  return builder.build();
}

function panel(p: PanelSpec, id: number, gridPos: { x: number; y: number; w: number; h: number }): cog.Builder<any> {
  const targets = p.queries.map((q, i) => {
    const t = new DataqueryBuilder().expr(q.expr).refId(String.fromCharCode(65 + i)).datasource(DATASOURCE);
    if (q.legend) t.legendFormat(q.legend);
    return t;
  });
  const steps: Threshold[] = [{ value: null, color: 'green' }, ...(p.options.thresholds ?? []).map(([value, color]) => ({ value, color }))];
  const thresholds = new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps(steps);
  const description = p.options.timeFrom ? `${p.options.description} (Last ${p.options.timeFrom}, from recording rules.)` : p.options.description;
  if (p.kind === 'stat') {
    const b = new StatPanelBuilder()
      .id(id)
      .title(p.title)
      .description(description)
      .datasource(DATASOURCE)
      .gridPos(gridPos)
      .targets(targets)
      .unit(p.options.unit ?? 'short')
      .thresholds(thresholds)
      .graphMode(common.BigValueGraphMode.Area)
      .colorMode(common.BigValueColorMode.Value)
      .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false));
    if (p.options.valueText) {
      b.mappings([
        {
          type: MappingType.ValueToText,
          options: Object.fromEntries(Object.entries(p.options.valueText).map(([value, r], index) => [value, { text: r.text, color: r.color, index }])),
        },
      ]);
    }
    if (p.options.timeFrom) b.timeFrom(p.options.timeFrom);
    return b;
  }
  const b = new TimeseriesPanelBuilder()
    .id(id)
    .title(p.title)
    .description(description)
    .datasource(DATASOURCE)
    .gridPos(gridPos)
    .targets(targets)
    .unit(p.options.unit ?? 'short')
    .thresholds(thresholds)
    .lineWidth(1)
    .fillOpacity(p.options.stacked ? 30 : 10)
    .showPoints(common.VisibilityMode.Never)
    .legend(new common.VizLegendOptionsBuilder().showLegend(true).displayMode(common.LegendDisplayMode.List).placement(common.LegendPlacement.Bottom))
    .tooltip(new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Multi).sort(common.SortOrder.Descending));
  if (p.options.thresholds?.length) b.thresholdsStyle(new common.GraphThresholdsStyleConfigBuilder().mode(common.GraphThresholdsStyleMode.Line));
  if (p.options.stacked) b.stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal));
  if (p.options.min !== undefined) b.min(p.options.min);
  if (p.options.max !== undefined) b.max(p.options.max);
  if (p.options.timeFrom) b.timeFrom(p.options.timeFrom);
  return b;
}

/** Every PromQL expression of a built dashboard, with its panel title (for tests). */
export function panelQueries(dashboard: Dashboard): Array<{ panel: string; expr: string }> {
  const out: Array<{ panel: string; expr: string }> = [];
  for (const p of dashboard.panels ?? []) {
    if (p.type === 'row') continue;
    for (const t of ((p as { targets?: Array<{ expr?: string }> }).targets ?? [])) if (t.expr) out.push({ panel: String((p as { title?: string }).title), expr: t.expr });
  }
  return out;
}
