/**
 * Decryption of a stored PHI value (or secret) for a request, failing closed: a value that does not
 * authenticate is never returned, the request answers the generic 500, and the failure is reported
 * as `phi_integrity_fail` with who was reading what. Such a value was altered or moved in the
 * database, or written under a key this deployment does not hold: a security incident or a broken
 * key rotation, which the PhiIntegrityFailure alert pages on. Without the event the only trace was
 * a 500 among others.
 */
import type { AppContext } from '../context';
import type { EventActorInput } from '../events/event-reporter';
import type { ResourceType } from '../collector-api';
import { PhiDecryptionError } from './phi-cipher';

export function decryptReported(
  ctx: AppContext,
  actor: EventActorInput,
  resource: { type: ResourceType; id: string },
  stored: string,
  context: string,
): string {
  try {
    return ctx.cipher.decrypt(stored, context);
  } catch (err) {
    if (err instanceof PhiDecryptionError)
      ctx.events.report('phi_integrity_fail', { actor, reason: err.reason, resource });
    throw err;
  }
}
