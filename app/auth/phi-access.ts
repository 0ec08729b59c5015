/**
 * Who may see a patient's PHI: the patient, the patient's assigned providers, and admins; staff see
 * billing records (orders, invoices) for payment and operations. Every decision is reported:
 * `phi_access` when a read is granted (the accounting of who saw which patient's records, HIPAA
 * § 164.528), `phi_write` when PHI is created or changed, `authz_fail` when denied (the PHI-snooping alert counts those). A denial does not say
 * whether the patient exists.
 */
import type { AppContext, AuthContext } from '../context';
import type { EventReason } from '../collector-api';
import { forbidden, HttpError, notFound } from '../http/errors';

export type PhiResource = 'patient_record' | 'soap_note' | 'prescription' | 'order' | 'invoice' | 'payment';

type Decision =
  | { granted: true; reason: EventReason<'phi_access'> }
  | { granted: false; reason: EventReason<'authz_fail'> };

async function decide(
  ctx: AppContext,
  auth: AuthContext,
  patientId: string,
  staffAllowed: boolean,
): Promise<Decision> {
  switch (auth.role) {
    case 'admin':
      return { granted: true, reason: 'admin_access' };
    case 'staff':
      return staffAllowed
        ? { granted: true, reason: 'billing_access' }
        : { granted: false, reason: 'role_forbidden' };
    case 'patient':
      return auth.patientId === patientId
        ? { granted: true, reason: 'own_record' }
        : { granted: false, reason: 'not_owner' };
    case 'provider': {
      const r = await ctx.db.query(
        `SELECT 1 FROM provider_assignments WHERE patient_id = $1 AND provider_id = $2`,
        [patientId, auth.userId],
      );
      return r.rowCount > 0
        ? { granted: true, reason: 'assigned_provider' }
        : { granted: false, reason: 'not_assigned' };
    }
  }
}

/**
 * Throws 403 (and reports `authz_fail`) unless the caller may act on the patient. Reads (`phiRead`)
 * report `phi_access` when granted; writes report once stored (reportPhiWrite, or their own business
 * event: an order, a prescription, a payment).
 * `staffAllowed` is for billing records (orders, invoices, payments): staff are granted them, and
 * their reads are reported with the reason `billing_access`.
 */
export async function authorizePatient(
  ctx: AppContext,
  auth: AuthContext,
  patientId: string,
  opts: {
    resource: PhiResource;
    resourceId?: string;
    phiRead: boolean;
    staffAllowed?: boolean;
    /**
     * For a thing looked up by its own id (an order, an invoice): a denial answers 404 with this
     * name, as a missing one does, so that a caller cannot tell another patient's id from a made-up
     * one. It is still reported as `authz_fail`.
     */
    deniedAsMissing?: string;
  },
): Promise<void> {
  const decision = await decide(ctx, auth, patientId, opts.staffAllowed === true);
  const actor = { role: auth.role, id: auth.userId };
  const resource = { type: opts.resource, id: opts.resourceId ?? patientId };
  if (!decision.granted) {
    ctx.events.report('authz_fail', { actor, reason: decision.reason, resource });
    if (opts.deniedAsMissing !== undefined) throw notFound(opts.deniedAsMissing);
    throw new HttpError(403, 'forbidden', 'You may not access this patient');
  }
  if (opts.phiRead) ctx.events.report('phi_access', { actor, reason: decision.reason, resource });
}

/**
 * Reports a write of a patient's PHI (after it is stored): `phi_write`, so that the record of who
 * touched a patient's PHI holds changes as well as reads. `resource.id` is the patient's id, as for
 * reads, so that both are accounted under the same patient.
 */
export function reportPhiWrite(
  ctx: AppContext,
  auth: AuthContext,
  reason: EventReason<'phi_write'>,
  resource: { type: PhiResource; id: string },
): void {
  ctx.events.report('phi_write', { actor: { role: auth.role, id: auth.userId }, reason, resource });
}

/**
 * The 403 for a role that may not do this at all (a patient creating an order, a provider listing
 * invoices), reported as `authz_fail` with `role_forbidden` like every other denial: the snooping
 * alert and the security dashboard count denials, and one left unreported is one they never see.
 * `resource`: what was asked for, when the request names it.
 */
export function roleForbidden(
  ctx: AppContext,
  auth: AuthContext,
  resource?: { type: PhiResource; id: string },
): HttpError {
  ctx.events.report('authz_fail', {
    actor: { role: auth.role, id: auth.userId },
    reason: 'role_forbidden',
    resource,
  });
  return forbidden();
}

/**
 * For a list that spans patients (staff's and admins' work queues of open orders, unpaid invoices):
 * one `phi_access` per patient whose records were returned, so that the accounting per patient is
 * as complete as for a single read. Only admins and staff reach these lists (the route gates them).
 */
export function reportBillingListRead(
  ctx: AppContext,
  auth: AuthContext,
  type: 'order' | 'invoice',
  patientIds: Iterable<string>,
): void {
  const reason = auth.role === 'admin' ? 'admin_access' : 'billing_access';
  const actor = { role: auth.role, id: auth.userId };
  for (const id of new Set(patientIds))
    ctx.events.report('phi_access', { actor, reason, resource: { type, id } });
}

export async function patientExists(ctx: AppContext, patientId: string): Promise<void> {
  const r = await ctx.db.query(`SELECT 1 FROM patients WHERE id = $1`, [patientId]);
  if (r.rowCount === 0) throw notFound('Patient');
}
