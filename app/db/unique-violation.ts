/**
 * The unique index or constraint a failed write collided with (SQLSTATE 23505), or undefined for any
 * other error. Both drivers (pg, PGlite) carry PostgreSQL's error fields, `code` and `constraint`.
 */
export function uniqueViolation(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; constraint?: unknown };
  if (e.code !== '23505') return undefined;
  return typeof e.constraint === 'string' ? e.constraint : '';
}
