/**
 * Small builders every area's panels share: the Prometheus query, the three panel kinds with a unit
 * always set, threshold steps taken from an alert of the catalogue, and the runbook links of those alerts.
 */
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as prometheus from '@grafana/grafana-foundation-sdk/prometheus';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import { runbookUrl, type AlertRef, type RunbookName } from './alert-catalogue';
import { HTTP_LABELS } from './labels';

/** Names of the template variables; queries reference them as `$name`. */
export const VAR = {
  datasource: 'datasource',
  logsDatasource: 'logs_datasource',
  job: 'job',
  instance: 'instance',
  route: 'route',
  node: 'node',
} as const;

/** Panels query the datasource the `datasource` variable selects (it defaults to the fixed uid). */
export const PROMETHEUS_REF: common.DataSourceRef = { type: 'prometheus', uid: `\${${VAR.datasource}}` };
export const ELASTICSEARCH_REF: common.DataSourceRef = {
  type: 'elasticsearch',
  uid: `\${${VAR.logsDatasource}}`,
};

/** Label matchers shared by the queries of one scope. */
export const MATCH = {
  service: `job=~"$${VAR.job}", instance=~"$${VAR.instance}"`,
  route: `job=~"$${VAR.job}", instance=~"$${VAR.instance}", ${HTTP_LABELS.route}=~"$${VAR.route}"`,
  node: `instance=~"$${VAR.node}"`,
} as const;

/** Grafana's rate window: at least four scrape intervals, so a rate never sees fewer than two samples. */
export const RATE = '$__rate_interval';
/** The whole selected time range (tables and totals). */
export const RANGE = '$__range';

export const COLORS = { ok: 'green', critical: 'red', warning: 'orange', info: 'blue' } as const;

/** One line of a panel: a PromQL expression and its legend. */
export interface Series {
  readonly expr: string;
  readonly legend?: string;
}

export function promTarget(
  series: Series,
  index: number,
  kind: 'range' | 'instant-table' = 'range',
): prometheus.DataqueryBuilder {
  const q = new prometheus.DataqueryBuilder()
    .datasource(PROMETHEUS_REF)
    .refId(String.fromCharCode(65 + index))
    .expr(series.expr)
    .legendFormat(series.legend ?? '__auto');
  return kind === 'range' ? q.range() : q.instant().format(prometheus.PromQueryFormat.Table);
}

/**
 * Unix time something last succeeded, from a gauge that is 0 until a process's first success, grouped
 * `by`: the latest success over `lookbackSeconds` (reaching past restarts, which reset the gauge), else
 * the oldest process start seen in that window. As the catalogue's staleness alerts count it, so a
 * panel and its alert agree after a restart; the lookback is twice the alert's threshold.
 */
export function lastSuccessTime(
  gauge: string,
  startTime: string,
  by: string,
  lookbackSeconds: number,
): string {
  const w = `${lookbackSeconds}s`;
  // `* 0 + on (job, instance) group_left` gives the start time the gauge's labels (e.g. `task`).
  return (
    `max by (${by}) (max_over_time(${gauge}[${w}]) > 0)` +
    ` or min by (${by}) (${gauge} * 0 + on (job, instance) group_left min by (job, instance) (min_over_time(${startTime}[${w}])))`
  );
}

/**
 * Threshold steps from alerts: a green base, then one step per alert at its threshold, coloured by
 * its severity. The values are the catalogue's, never a literal here.
 */
export function thresholdSteps(alerts: readonly AlertRef[]): dashboard.ThresholdsConfigBuilder {
  // Grafana's absolute steps colour from a value upwards: `>=` and `<` match exactly; `>` is drawn
  // with its boundary value coloured (it does not fire there); `<=` and `==` cannot be drawn.
  const unfit = alerts.find((a) => a.comparison === '<=' || a.comparison === '==');
  if (unfit) throw new Error(`${unfit.id}: a ${unfit.comparison} threshold cannot be drawn as colour steps`);
  const below = alerts.filter((a) => a.comparison === '<');
  let steps: dashboard.Threshold[];
  if (below.length > 0) {
    // A `<` alert fires under its threshold: the colour is below it and the healthy side is above.
    // One such alert per panel: a second colour order cannot be drawn by absolute steps.
    if (below.length !== alerts.length || new Set(below.map((a) => a.threshold)).size !== 1) {
      throw new Error(
        `a panel draws either one threshold that fires below it or thresholds that fire above them: ${alerts.map((a) => `${a.id} ${a.comparison} ${a.threshold}`).join(', ')}`,
      );
    }
    const a = below[0]!;
    steps = [
      { value: null, color: severityColor(a) },
      { value: a.threshold, color: COLORS.ok },
    ];
  } else {
    // Alerts of one name at several windows share a threshold value: one step each.
    const byValue = new Map(alerts.map((a) => [a.threshold, a]));
    const sorted = [...byValue.values()].sort((a, b) => a.threshold - b.threshold);
    steps = [
      { value: null, color: COLORS.ok },
      ...sorted.map((a) => ({ value: a.threshold, color: severityColor(a) })),
    ];
  }
  return new dashboard.ThresholdsConfigBuilder().mode(dashboard.ThresholdsMode.Absolute).steps(steps);
}

function severityColor(alert: AlertRef): string {
  return alert.severity === 'critical'
    ? COLORS.critical
    : alert.severity === 'warning'
      ? COLORS.warning
      : COLORS.info;
}

/** A link to each alert's runbook, in the panel's header menu (one per alert name). */
export function runbookLinks(alerts: readonly AlertRef[]): dashboard.DashboardLinkBuilder[] {
  const byName = new Map<string, AlertRef[]>();
  for (const a of alerts) byName.set(a.name, [...(byName.get(a.name) ?? []), a]);
  return [...byName.values()].map((rules) => {
    const first = rules[0]!;
    return new dashboard.DashboardLinkBuilder(`Runbook: ${first.name}`)
      .type(dashboard.DashboardLinkType.Link)
      .url(first.runbookUrl)
      .tooltip(rules.length === 1 ? first.summary : `${first.name}: ${rules.length} burn windows`)
      .targetBlank(true);
  });
}

export interface PanelSpec {
  readonly title: string;
  readonly description: string;
  readonly unit: string;
  readonly series: readonly Series[];
  /** Alerts whose threshold this panel draws, and whose runbooks it links to. */
  readonly alerts?: readonly AlertRef[];
  /** Runbooks to link without drawing a threshold (the panel shows a related signal). */
  readonly related?: readonly AlertRef[];
  /** Runbooks of alerts that have no threshold to draw (a target down, a metric absent). */
  readonly runbooks?: readonly RunbookName[];
  readonly width?: number;
  readonly height?: number;
  readonly min?: number;
  readonly max?: number;
}

function links(spec: PanelSpec): dashboard.DashboardLinkBuilder[] {
  return [
    ...runbookLinks([...(spec.alerts ?? []), ...(spec.related ?? [])]),
    ...(spec.runbooks ?? []).map((name) =>
      new dashboard.DashboardLinkBuilder(`Runbook: ${name}`)
        .type(dashboard.DashboardLinkType.Link)
        .url(runbookUrl(name))
        .tooltip(name)
        .targetBlank(true),
    ),
  ];
}

export function timeseriesPanel(spec: PanelSpec & { readonly stacked?: boolean }): timeseries.PanelBuilder {
  const alerts = spec.alerts ?? [];
  const panel = new timeseries.PanelBuilder()
    .title(spec.title)
    .description(spec.description)
    .datasource(PROMETHEUS_REF)
    .unit(spec.unit)
    .span(spec.width ?? 12)
    .height(spec.height ?? 8)
    .targets(spec.series.map((s, i) => promTarget(s, i)))
    .links(links(spec))
    .lineWidth(1)
    .fillOpacity(spec.stacked ? 30 : 10)
    .legend(
      new common.VizLegendOptionsBuilder()
        .showLegend(true)
        .displayMode(common.LegendDisplayMode.List)
        .placement(common.LegendPlacement.Bottom),
    )
    .tooltip(
      new common.VizTooltipOptionsBuilder()
        .mode(common.TooltipDisplayMode.Multi)
        .sort(common.SortOrder.Descending),
    )
    .thresholds(thresholdSteps(alerts))
    .thresholdsStyle(
      new common.GraphThresholdsStyleConfigBuilder().mode(
        alerts.length > 0 ? common.GraphThresholdsStyleMode.Dashed : common.GraphThresholdsStyleMode.Off,
      ),
    );
  if (spec.stacked) panel.stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal));
  if (spec.min !== undefined) panel.min(spec.min);
  if (spec.max !== undefined) panel.max(spec.max);
  return panel;
}

export function statPanel(spec: PanelSpec): stat.PanelBuilder {
  const panel = new stat.PanelBuilder()
    .title(spec.title)
    .description(spec.description)
    .datasource(PROMETHEUS_REF)
    .unit(spec.unit)
    .span(spec.width ?? 6)
    .height(spec.height ?? 5)
    .targets(spec.series.map((s, i) => promTarget(s, i)))
    .links(links(spec))
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false))
    .colorMode(common.BigValueColorMode.Value)
    .graphMode(common.BigValueGraphMode.Area)
    .thresholds(thresholdSteps(spec.alerts ?? []));
  if (spec.min !== undefined) panel.min(spec.min);
  if (spec.max !== undefined) panel.max(spec.max);
  return panel;
}

/** A table of instant values (one row per series), e.g. the worst routes over the selected range. */
export function tablePanel(spec: PanelSpec & { readonly sortBy?: string }): table.PanelBuilder {
  const panel = new table.PanelBuilder()
    .title(spec.title)
    .description(spec.description)
    .datasource(PROMETHEUS_REF)
    .unit(spec.unit)
    .span(spec.width ?? 12)
    .height(spec.height ?? 8)
    .targets(spec.series.map((s, i) => promTarget(s, i, 'instant-table')))
    .links(links(spec))
    .thresholds(thresholdSteps(spec.alerts ?? []))
    .cellHeight(common.TableCellHeight.Sm)
    // Instant table queries return a Time column and one Value column: hide the time, keep labels.
    .withTransformation({ id: 'organize', options: { excludeByName: { Time: true } } });
  if (spec.sortBy)
    panel.sortBy([new common.TableSortByFieldStateBuilder().displayName(spec.sortBy).desc(true)]);
  return panel;
}
