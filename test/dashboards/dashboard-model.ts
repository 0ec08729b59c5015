/**
 * Reading generated dashboard JSON the way Grafana does: panels (also inside collapsed rows), their
 * targets, the template variables they use, and the substitution Grafana performs before a query.
 */

export interface Target {
  readonly refId?: string;
  readonly expr?: string;
  readonly query?: string;
  readonly datasource?: { type?: string; uid?: string };
  readonly metrics?: Array<{ type?: unknown; id?: string }>;
  readonly timeField?: string;
  readonly format?: string;
  readonly instant?: boolean;
  readonly range?: boolean;
}

export interface PanelJson {
  readonly id?: number;
  readonly type: string;
  readonly title?: string;
  readonly description?: string;
  readonly datasource?: { type?: string; uid?: string };
  readonly targets?: Target[];
  readonly panels?: PanelJson[];
  readonly links?: Array<{ title: string; url?: string }>;
  readonly fieldConfig?: {
    defaults?: {
      unit?: string;
      thresholds?: { steps: Array<{ value: number | null; color: string }> };
      links?: Array<{ title: string; url?: string }>;
    };
    overrides?: Array<{
      matcher: { id: string; options?: unknown };
      properties: Array<{ id: string; value?: unknown }>;
    }>;
  };
}

export interface VariableJson {
  readonly type: string;
  readonly name: string;
  readonly query?: unknown;
  readonly definition?: string;
  readonly allValue?: string;
  readonly includeAll?: boolean;
  readonly current?: { text?: unknown; value?: unknown };
  readonly datasource?: { type?: string; uid?: string };
}

export interface DashboardJson {
  readonly uid: string;
  readonly title: string;
  readonly panels: PanelJson[];
  readonly templating: { list: VariableJson[] };
  readonly annotations: { list: Array<{ name: string; expr?: string; datasource?: { uid?: string } }> };
  readonly links: Array<{ title: string; url?: string; type: string }>;
  readonly [key: string]: unknown;
}

/** Every non-row panel, including those a collapsed row holds. */
export function panelsOf(d: DashboardJson): PanelJson[] {
  const out: PanelJson[] = [];
  for (const p of d.panels) {
    if (p.type === 'row') out.push(...(p.panels ?? []));
    else out.push(p);
  }
  return out;
}

export function rowsOf(d: DashboardJson): PanelJson[] {
  return d.panels.filter((p) => p.type === 'row');
}

/** Grafana's variable references: `$name`, `${name}`, `${name:format}`, `[[name]]`. */
const VARIABLE_REF = /\$\{([A-Za-z0-9_]+)(?::[^}]*)?\}|\$([A-Za-z0-9_]+)|\[\[([A-Za-z0-9_]+)\]\]/g;

/** Names of the variables a string references; Grafana's built-ins (`__*`) are excluded. */
export function variablesIn(text: string): string[] {
  const names: string[] = [];
  for (const m of text.matchAll(VARIABLE_REF)) {
    const name = m[1] ?? m[2] ?? m[3];
    if (name && !name.startsWith('__')) names.push(name);
  }
  return names;
}

/** Every string anywhere in a JSON value, with its path (for error messages). */
export function stringsIn(value: unknown, path = ''): Array<{ path: string; text: string }> {
  if (typeof value === 'string') return [{ path, text: value }];
  if (Array.isArray(value)) return value.flatMap((v, i) => stringsIn(v, `${path}[${i}]`));
  if (value && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => stringsIn(v, path ? `${path}.${k}` : k));
  }
  return [];
}

/**
 * Grafana's interpolation of a Prometheus expression: variables take the given values (a regex for
 * multi-value variables under `=~`), the interval built-ins take fixed windows.
 */
export function substitute(
  expr: string,
  values: Readonly<Record<string, string>>,
  intervals: { rateInterval: string; range: string; interval: string },
): string {
  const builtins: Record<string, string> = {
    __rate_interval: intervals.rateInterval,
    __range: intervals.range,
    __interval: intervals.interval,
  };
  return expr.replace(VARIABLE_REF, (whole, a?: string, b?: string, c?: string) => {
    const name = (a ?? b ?? c)!;
    const value = builtins[name] ?? values[name];
    if (value === undefined) throw new Error(`variable $${name} has no value to substitute in ${expr}`);
    return value;
  });
}
