/** Routing keys are secrets: read from a file named by configuration, never logged or echoed. */
import { readFileSync } from 'node:fs';
import { ROUTING_KEY_LENGTH } from './pagerduty-event';

export function readRoutingKeyFile(path: string): string {
  let raw: string;
  try {
    raw = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(
      `cannot read routing key file ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
  const key = raw.trim();
  if (key.length !== ROUTING_KEY_LENGTH || /\s/.test(key)) {
    throw new Error(
      `routing key file ${path} must hold one ${ROUTING_KEY_LENGTH}-character key (found ${key.length} characters)`,
    );
  }
  return key;
}
