/**
 * Orders and prescriptions:
 *   POST  /api/orders                  admin, staff, assigned provider, the patient      -> order_created
 *   GET   /api/orders?patientId&status  admin, staff (queue); others: own/assigned patient
 *   GET   /api/orders/:id
 *   PATCH /api/orders/:id               admin, staff: fulfil or cancel an open order  -> order_updated
 *                                       (cancelling voids its unpaid invoice)          -> invoice_voided
 *   POST  /api/prescriptions            assigned provider                                -> prescription_issued
 *   POST  /api/prescriptions/:id/fill   admin, staff: the pharmacy fills a pending one -> prescription_filled
 */
import { randomUUID } from 'node:crypto';
import { Router } from 'express';
import { z } from 'zod';
import { authorizePatient, patientExists, reportBillingListRead, roleForbidden } from '../auth/phi-access';
import { getAuth, requireAuth } from '../auth/sessions';
import type { AppContext } from '../context';
import { prescriptionContext } from '../crypto/phi-context';
import { conflict, notFound } from '../http/errors';
import {
  currency,
  idParams,
  limit,
  MAX_MINOR_UNITS,
  multiline,
  patientOfBody,
  text,
  uuid,
} from '../http/schemas';
import { body, params, query } from '../http/validate';

const orderBody = z
  .object({
    patientId: uuid,
    currency,
    items: z
      .array(
        z
          .object({
            sku: z.string().regex(/^[A-Z0-9-]{2,32}$/, 'must be an upper-case SKU'),
            quantity: z.int().min(1).max(100),
            unitPriceMinor: z.int().min(0).max(10_000_000),
          })
          .strict(),
      )
      .min(1)
      .max(50),
  })
  .strict()
  // An order is invoiced for its total: it must fit what an invoice may hold.
  .refine((v) => v.items.reduce((sum, i) => sum + i.quantity * i.unitPriceMinor, 0) <= MAX_MINOR_UNITS, {
    message: `total must be at most ${MAX_MINOR_UNITS}`,
    path: ['items'],
  });
const orderQuery = z
  .object({
    patientId: uuid.optional(),
    status: z.enum(['open', 'fulfilled', 'cancelled']).optional(),
    limit,
  })
  .strict();
const orderPatch = z.object({ status: z.enum(['fulfilled', 'cancelled']) }).strict();
const prescriptionBody = z
  .object({
    patientId: uuid,
    medication: text(200),
    dosage: text(200),
    instructions: multiline(2000).optional(),
    refills: z.int().min(0).max(12).default(0),
  })
  .strict();

interface OrderRow {
  id: string;
  patient_id: string;
  status: string;
  currency: string;
  total_minor: string | number;
  items: unknown;
  created_at: Date;
}
const orderJson = (o: OrderRow) => ({
  id: o.id,
  patientId: o.patient_id,
  status: o.status,
  currency: o.currency,
  totalMinor: Number(o.total_minor),
  items: o.items,
  createdAt: o.created_at,
});

export function orderRoutes(ctx: AppContext): Router {
  const r = Router();
  r.use(requireAuth(ctx));

  r.post('/', async (req, res) => {
    const auth = getAuth(res);
    const { patientId } = body(req, patientOfBody);
    await authorizePatient(ctx, auth, patientId, {
      resource: 'order',
      phiRead: false,
      staffAllowed: true,
    });
    const input = body(req, orderBody);
    await patientExists(ctx, input.patientId);
    const total = input.items.reduce((sum, i) => sum + i.quantity * i.unitPriceMinor, 0);
    const id = randomUUID();
    await ctx.db.query(
      `INSERT INTO orders (id, patient_id, created_by, currency, total_minor, items) VALUES ($1, $2, $3, $4, $5, $6)`,
      [id, input.patientId, auth.userId, input.currency, total, JSON.stringify(input.items)],
    );
    ctx.events.report('order_created', {
      actor: { role: auth.role, id: auth.userId },
      reason: 'none',
      resource: { type: 'order', id },
    });
    res.status(201).json({ id, status: 'open', currency: input.currency, totalMinor: total });
  });

  r.get('/', async (req, res) => {
    const auth = getAuth(res);
    const q = query(req, orderQuery);
    if (q.patientId) {
      await authorizePatient(ctx, auth, q.patientId, {
        resource: 'order',
        phiRead: true,
        staffAllowed: true,
      });
    } else if (auth.role !== 'admin' && auth.role !== 'staff') {
      throw roleForbidden(ctx, auth);
    }
    const { rows } = await ctx.db.query<OrderRow>(
      q.patientId
        ? `SELECT id, patient_id, status, currency, total_minor, items, created_at FROM orders
            WHERE patient_id = $1 AND ($2::text IS NULL OR status = $2) ORDER BY created_at DESC LIMIT $3`
        : `SELECT id, patient_id, status, currency, total_minor, items, created_at FROM orders
            WHERE status = COALESCE($2::text, 'open') AND $1::uuid IS NULL ORDER BY created_at DESC LIMIT $3`,
      [q.patientId ?? null, q.status ?? null, q.limit],
    );
    if (!q.patientId)
      reportBillingListRead(
        ctx,
        auth,
        'order',
        rows.map((o) => o.patient_id),
      );
    res.json({ orders: rows.map(orderJson) });
  });

  r.get('/:id', async (req, res) => {
    const { id } = params(req, idParams);
    const { rows } = await ctx.db.query<OrderRow>(
      `SELECT id, patient_id, status, currency, total_minor, items, created_at FROM orders WHERE id = $1`,
      [id],
    );
    const order = rows[0];
    // A missing order and a forbidden one look the same to a caller who may not see it (404).
    if (!order) throw notFound('Order');
    await authorizePatient(ctx, getAuth(res), order.patient_id, {
      resource: 'order',
      resourceId: id,
      phiRead: true,
      staffAllowed: true,
      deniedAsMissing: 'Order',
    });
    res.json(orderJson(order));
  });

  r.patch('/:id', async (req, res) => {
    const { id } = params(req, idParams);
    const auth = getAuth(res);
    if (auth.role !== 'admin' && auth.role !== 'staff') throw roleForbidden(ctx, auth, { type: 'order', id });
    const { status } = body(req, orderPatch);
    const voidedInvoiceIds = await closeOrder(ctx, id, status);
    const actor = { role: auth.role, id: auth.userId };
    ctx.events.report('order_updated', { actor, reason: status, resource: { type: 'order', id } });
    for (const invoiceId of voidedInvoiceIds)
      ctx.events.report('invoice_voided', {
        actor,
        reason: 'order_cancelled',
        resource: { type: 'invoice', id: invoiceId },
      });
    res.json(status === 'cancelled' ? { id, status, voidedInvoiceIds } : { id, status });
  });
  return r;
}

/**
 * Fulfils or cancels an open order. Cancelling voids the order's unpaid invoice in the same
 * transaction, so no one is billed for a cancelled order; a paid invoice must be refunded first (409).
 * The order's row is locked first, as invoiceOrder() does, and the invoices' rows next, as a payment's
 * capture does: a cancellation and a capture of the same invoice serialise, and exactly one wins.
 */
async function closeOrder(ctx: AppContext, id: string, status: 'fulfilled' | 'cancelled'): Promise<string[]> {
  return ctx.db.transaction(async (tx) => {
    const o = await tx.query<{ status: string }>(`SELECT status FROM orders WHERE id = $1 FOR UPDATE`, [id]);
    const order = o.rows[0];
    if (!order) throw notFound('Order');
    if (order.status !== 'open') throw conflict('order_not_open', 'Only an open order can change status');
    let voided: string[] = [];
    if (status === 'cancelled') {
      const inv = await tx.query<{ id: string; status: string }>(
        `SELECT id, status FROM invoices WHERE order_id = $1 AND status <> 'void' FOR UPDATE`,
        [id],
      );
      if (inv.rows.some((i) => i.status === 'paid'))
        throw conflict('order_paid', 'The order is paid: refund its payment before cancelling it');
      voided = inv.rows.filter((i) => i.status === 'unpaid').map((i) => i.id);
      if (voided.length > 0)
        await tx.query(`UPDATE invoices SET status = 'void', updated_at = now() WHERE id = ANY($1::uuid[])`, [
          voided,
        ]);
    }
    await tx.query(`UPDATE orders SET status = $2, updated_at = now() WHERE id = $1`, [id, status]);
    return voided;
  });
}

export function prescriptionRoutes(ctx: AppContext): Router {
  const r = Router();
  r.use(requireAuth(ctx));

  r.post('/', async (req, res) => {
    const auth = getAuth(res);
    const { patientId: forPatient } = body(req, patientOfBody);
    if (auth.role !== 'provider') throw roleForbidden(ctx, auth, { type: 'prescription', id: forPatient });
    await authorizePatient(ctx, auth, forPatient, { resource: 'prescription', phiRead: false });
    const input = body(req, prescriptionBody);
    await patientExists(ctx, input.patientId);
    const id = randomUUID();
    const { patientId, ...details } = input;
    await ctx.db.query(
      `INSERT INTO prescriptions (id, patient_id, provider_id, details_enc) VALUES ($1, $2, $3, $4)`,
      [
        id,
        patientId,
        auth.userId,
        ctx.cipher.encrypt(JSON.stringify(details), prescriptionContext(id, patientId)),
      ],
    );
    ctx.events.report('prescription_issued', {
      actor: { role: auth.role, id: auth.userId },
      reason: 'none',
      resource: { type: 'prescription', id },
    });
    res.status(201).json({ id, status: 'pending' });
  });

  r.post('/:id/fill', async (req, res) => {
    const { id } = params(req, idParams);
    const auth = getAuth(res);
    if (auth.role !== 'admin' && auth.role !== 'staff')
      throw roleForbidden(ctx, auth, { type: 'prescription', id });
    const u = await ctx.db.query(
      `UPDATE prescriptions SET status = 'filled', updated_at = now() WHERE id = $1 AND status = 'pending' RETURNING id`,
      [id],
    );
    if (u.rowCount === 0) {
      const e = await ctx.db.query(`SELECT 1 FROM prescriptions WHERE id = $1`, [id]);
      if (e.rowCount === 0) throw notFound('Prescription');
      throw conflict('prescription_not_pending', 'Only a pending prescription can be filled');
    }
    ctx.events.report('prescription_filled', {
      actor: { role: auth.role, id: auth.userId },
      reason: 'none',
      resource: { type: 'prescription', id },
    });
    res.json({ id, status: 'filled' });
  });
  return r;
}
