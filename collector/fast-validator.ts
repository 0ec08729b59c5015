/**
 * A fast acceptance check compiled from a zod schema's own definition, for the ingest hot path
 * (zod's safeParse of one event costs ~10 us; this ~1 us). The zod schema stays the single source
 * of truth: limits, patterns, closed sets and refinements are read from it, never restated here.
 *
 * The compiled function only ever ACCEPTS: it returns a fresh copy of the input when it is sure zod
 * would accept it and produce that same value, and `undefined` otherwise, in which case the caller
 * runs zod (so every rejection, and its error reporting, is zod's). Anything it is not sure about
 * (a value of undefined, a non-plain object, an unexpected key, a throwing getter) is "not sure".
 * A construct it does not know (a transform, coercion, another string format...) makes compilation
 * throw, so that a schema change it cannot mirror fails loudly instead of being skipped.
 *
 * The check is generated as JavaScript source (as zod's own object fast path is), so that every
 * property access has a constant key: one closure walking any shape costs twice as much. Keys are
 * emitted as JSON string literals; patterns, sets and refinements are passed in, never inlined.
 */
import type { z } from 'zod';

const FAIL: unique symbol = Symbol('fail');

interface Def {
  type: string;
  [k: string]: unknown;
}

const defOf = (schema: unknown): Def => (schema as { _zod: { def: Def } })._zod.def;

function unsupported(path: string, what: string): never {
  throw new Error(`fast validator: unsupported zod construct ${what} at ${path || '(root)'}`);
}

/** Only these def keys are understood per type; any other key (coerce, transforms...) is refused. */
const KNOWN_KEYS: Record<string, readonly string[]> = {
  object: ['type', 'shape', 'catchall', 'checks'],
  string: ['type', 'checks', 'format', 'check', 'abort', 'pattern', 'coerce'],
  number: ['type', 'checks', 'format', 'check', 'abort', 'coerce'],
  literal: ['type', 'values'],
  enum: ['type', 'entries'],
  optional: ['type', 'innerType'],
  nullable: ['type', 'innerType'],
  never: ['type'],
  union: ['type', 'options', 'discriminator', 'inclusive'],
};

const safePattern = (p: unknown, path: string): RegExp => {
  if (!(p instanceof RegExp) || p.global || p.sticky) unsupported(path, 'pattern');
  return p;
};

/** The value checks of a string or number (its own format first, as zod runs it). */
function compileChecks(def: Def, path: string): ((v: never) => boolean)[] {
  const out: ((v: never) => boolean)[] = [];
  if (def.type === 'string' && def.format !== undefined) {
    if (def.format !== 'uuid' && def.format !== 'regex' && def.format !== 'guid')
      unsupported(path, `string format ${String(def.format)}`);
    const re = safePattern(def.pattern, path);
    out.push((v: string) => re.test(v));
  }
  if (def.type === 'number' && def.format !== undefined) {
    if (def.format !== 'safeint') unsupported(path, `number format ${String(def.format)}`);
    out.push((v: number) => Number.isSafeInteger(v));
  }
  for (const c of (def.checks ?? []) as unknown[]) {
    const cd = defOf(c) as Def & { check: string };
    switch (cd.check) {
      case 'max_length': {
        const max = cd.maximum as number;
        out.push((v: string) => v.length <= max);
        break;
      }
      case 'min_length': {
        const min = cd.minimum as number;
        out.push((v: string) => v.length >= min);
        break;
      }
      case 'string_format': {
        if (cd.format !== 'regex') unsupported(path, `string format ${String(cd.format)}`);
        const re = safePattern(cd.pattern, path);
        out.push((v: string) => re.test(v));
        break;
      }
      case 'greater_than': {
        const lim = cd.value as number;
        out.push(cd.inclusive ? (v: number) => v >= lim : (v: number) => v > lim);
        break;
      }
      case 'less_than': {
        const lim = cd.value as number;
        out.push(cd.inclusive ? (v: number) => v <= lim : (v: number) => v < lim);
        break;
      }
      case 'custom': {
        // A refinement: zod accepts when it returns a truthy non-promise. (A superRefine returns
        // undefined or throws without its context: "not sure", so zod runs.)
        const fn = cd.fn as (v: unknown) => unknown;
        out.push((v: never) => {
          const r = fn(v);
          return r === true || (Boolean(r) && !(r instanceof Promise));
        });
        break;
      }
      default:
        unsupported(path, `check ${String(cd.check)}`);
    }
  }
  return out;
}

/** Generates the source of checks; constants (patterns, sets, refinements) go into `consts`. */
class Generator {
  readonly consts: unknown[] = [];
  readonly functions: string[] = [];
  private vars = 0;

  constant(v: unknown): string {
    this.consts.push(v);
    return `K${this.consts.length - 1}`;
  }

  fresh(): string {
    this.vars += 1;
    return `v${this.vars}`;
  }

  /** Statements that check `v` against `schema` and assign the copy to `out` (or return FAIL). */
  node(schema: unknown, path: string, v: string, out: string): string {
    const def = defOf(schema);
    const known = KNOWN_KEYS[def.type];
    if (!known) unsupported(path, def.type);
    for (const k of Object.keys(def)) if (!known.includes(k)) unsupported(path, `${def.type}.${k}`);
    if (def.coerce) unsupported(path, 'coercion');
    switch (def.type) {
      case 'string':
      case 'number': {
        const conds = [
          def.type === 'string'
            ? `typeof ${v} !== 'string'`
            : `typeof ${v} !== 'number' || !Number.isFinite(${v})`,
          ...compileChecks(def, path).map((c) => `!${this.constant(c)}(${v})`),
        ];
        return `if (${conds.join(' || ')}) return FAIL; ${out} = ${v};`;
      }
      case 'literal':
      case 'enum': {
        let values: unknown[];
        if (def.type === 'literal') values = def.values as unknown[];
        else {
          const entries = Object.entries(def.entries as Record<string, unknown>);
          if (entries.some(([k, x]) => k !== x)) unsupported(path, 'enum with distinct keys and values');
          values = entries.map(([, x]) => x);
        }
        return `if (!${this.constant(new Set(values))}.has(${v})) return FAIL; ${out} = ${v};`;
      }
      case 'nullable':
        return `if (${v} === null) ${out} = null; else { ${this.node(def.innerType, path, v, out)} }`;
      case 'optional':
        // Absent (undefined) is handled by the enclosing object, which alone knows whether it may be.
        return this.node(def.innerType, path, v, out);
      case 'never':
        return 'return FAIL;';
      case 'object':
        return `${out} = ${this.object(def, path)}(${v}); if (${out} === FAIL) return FAIL;`;
      case 'union':
        return `${out} = ${this.union(def, path)}(${v}); if (${out} === FAIL) return FAIL;`;
      default:
        return unsupported(path, def.type);
    }
  }

  /** A function checking and copying an object; returns its name. */
  object(def: Def, path: string): string {
    if ((def.checks as unknown[] | undefined)?.length) unsupported(path, 'object checks');
    const shape = def.shape as Record<string, unknown>;
    if (Object.getOwnPropertySymbols(shape).length > 0) unsupported(path, 'symbol keys');
    const catchall = def.catchall === undefined ? 'strip' : defOf(def.catchall).type;
    if (catchall !== 'never' && catchall !== 'strip') unsupported(path, `catchall ${catchall}`);
    const keys = Object.keys(shape);
    const name = `f${this.functions.length}`;
    this.functions.push(''); // reserve the name before nested objects take theirs
    const lines = [
      `function ${name}(src) {`,
      `if (typeof src !== 'object' || src === null) return FAIL;`,
      `const proto = Object.getPrototypeOf(src);`,
      `if (proto !== Object.prototype && proto !== null) return FAIL;`,
      `let present = 0; let mask = 0;`,
    ];
    const results: string[] = [];
    const optionalBits: number[] = [];
    for (const k of keys) {
      const key = JSON.stringify(k);
      const v = this.fresh();
      const r = this.fresh();
      results.push(r);
      const isOptional = defOf(shape[k]).type === 'optional';
      const bit = isOptional ? 1 << optionalBits.length : 0;
      if (isOptional) optionalBits.push(bit);
      // Read once: the copy is made of the values checked.
      const check = `${this.node(shape[k], path ? `${path}.${k}` : k, v, r)} present += 1;`;
      lines.push(
        `const ${v} = src[${key}]; let ${r};`,
        isOptional
          ? `if (${v} !== undefined) { mask |= ${bit}; ${check} }`
          : `if (${v} === undefined) return FAIL; ${check}`,
      );
    }
    // Every enumerable key must be a declared one holding a value (zod enumerates with for...in).
    lines.push(
      `let enumerated = 0;`,
      `for (const k in src) { switch (k) { ${keys.map((k) => `case ${JSON.stringify(k)}:`).join(' ')} enumerated += 1; break; default: return FAIL; } }`,
      `if (enumerated !== present) return FAIL;`,
    );
    // The copy as one literal (one allocation, keys in shape order as zod makes them, absent
    // optional keys left out): one literal per combination of present optional keys.
    const literal = (m: number) =>
      `{ ${keys
        .map((k, i) => ({ k, r: results[i] as string, opt: defOf(shape[k]).type === 'optional' }))
        .filter(({ k }, i) => !(defOf(shape[k]).type === 'optional') || (m & (1 << optionalIndex(i))) !== 0)
        .map(({ k, r }) => `${JSON.stringify(k)}: ${r}`)
        .join(', ')} }`;
    const optionalIndex = (i: number) =>
      keys.slice(0, i).filter((k) => defOf(shape[k]).type === 'optional').length;
    if (optionalBits.length > 4) unsupported(path, 'more than 4 optional keys');
    const combos = 1 << optionalBits.length;
    lines.push(
      `switch (mask) { ${Array.from({ length: combos }, (_, m) => `case ${m}: return ${literal(m)};`).join(' ')} }`,
      `return FAIL;`,
      `}`,
    );
    this.functions[Number(name.slice(1))] = lines.join('\n');
    return name;
  }

  /** A discriminated union: the option is chosen by the discriminator's literal value. */
  union(def: Def, path: string): string {
    const key = def.discriminator;
    if (typeof key !== 'string') unsupported(path, 'union without discriminator');
    const byValue = new Map<unknown, string>();
    for (const option of def.options as unknown[]) {
      const od = defOf(option);
      if (od.type !== 'object') unsupported(path, 'union option that is not an object');
      const disc = defOf((od.shape as Record<string, unknown>)[key]);
      if (disc.type !== 'literal') unsupported(path, 'discriminator that is not a literal');
      const fn = this.object(od, path);
      for (const v of disc.values as unknown[]) {
        if (byValue.has(v)) unsupported(path, 'ambiguous discriminator');
        byValue.set(v, fn);
      }
    }
    const name = `f${this.functions.length}`;
    // The option re-checks the discriminator on the value it copies.
    const cases = [...byValue].map(([v, fn]) => `case ${this.constant(v)}: return ${fn}(src);`);
    this.functions.push(
      [
        `function ${name}(src) {`,
        `if (typeof src !== 'object' || src === null) return FAIL;`,
        `switch (src[${JSON.stringify(key)}]) { ${cases.join(' ')} default: return FAIL; }`,
        `}`,
      ].join('\n'),
    );
    return name;
  }
}

/**
 * Compiles `schema` into `(input) => copy | undefined`: a copy equal to zod's output when zod would
 * accept the input, `undefined` when zod must decide. Throws on constructs it does not know.
 */
export function compileFastValidator<S extends z.ZodType>(
  schema: S,
): (input: unknown) => z.output<S> | undefined {
  const gen = new Generator();
  const root = gen.fresh();
  const out = gen.fresh();
  const rootCheck = gen.node(schema, '', root, out);
  const source = [
    ...gen.consts.map((_, i) => `const K${i} = K[${i}];`),
    ...gen.functions,
    `return function check(${root}) { let ${out}; ${rootCheck} return ${out}; };`,
  ].join('\n');
  let check: (input: unknown) => unknown;
  try {
    // Generated from the schema only: keys are JSON literals, values are passed in as K[i].
    check = new Function('K', 'FAIL', source)(gen.consts, FAIL) as (input: unknown) => unknown;
  } catch {
    // Code generation disallowed (--disallow-code-generation-from-strings): zod decides every time.
    return () => undefined;
  }
  return (input) => {
    try {
      const r = check(input);
      return r === FAIL ? undefined : (r as z.output<S>);
    } catch {
      return undefined; // a throwing getter or proxy: zod decides (and reports)
    }
  };
}
