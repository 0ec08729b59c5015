/**
 * The only thing a log line may say about an error: its class name or code. Messages and stacks
 * are never read because drivers and validators echo input values (PHI) into them.
 */
const CODE = /^[A-Z0-9_]{2,40}$/;
const CLASS_NAME = /^[A-Za-z_$][A-Za-z0-9_$]{0,63}$/;

export function errorType(err: unknown): string {
  if (err === null || err === undefined) return 'Unknown';
  if (typeof err !== 'object' && typeof err !== 'function') return typeof err;
  try {
    // pg and Node system errors carry stable codes (ECONNREFUSED, 23505) that are more useful
    // than the class name; only code-shaped values are trusted.
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && CODE.test(code)) return code;
    const name = (err as { constructor?: { name?: unknown } }).constructor?.name;
    if (typeof name === 'string' && CLASS_NAME.test(name) && name !== 'Object') return name;
  } catch {
    // A hostile getter must not break logging.
  }
  return 'Error';
}
