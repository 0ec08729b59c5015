/**
 * Invoices, payments and refunds (amounts are integer minor units with a currency):
 *   POST /api/invoices                     admin, staff                 -> invoice_issued
 *   GET  /api/invoices?patientId&status     admin, staff; the patient for their own
 *   GET  /api/invoices/:id
 *   POST /api/invoices/:id/payments        the patient, admin, staff   -> payment_captured | payment_failed
 *   POST /api/payments/:id/refunds         admin                        -> payment_refunded
 * The card processor is simulated by payment-method tokens in the style of Stripe's test cards.
 */
import { randomUUID } from 'node:crypto';
import { Router } from 'express';
import { z } from 'zod';
import type { Currency } from '../collector-api';
import { authorizePatient, reportBillingListRead, roleForbidden } from '../auth/phi-access';
import { getAuth, requireAuth } from '../auth/sessions';
import type { AppContext } from '../context';
import { conflict, HttpError, notFound } from '../http/errors';
import { currency, idParams, limit, MAX_MINOR_UNITS, minorUnits, uuid } from '../http/schemas';
import { body, params, query } from '../http/validate';

/** Test payment methods and what the simulated processor answers for each. */
export const PAYMENT_METHODS = {
  pm_card_visa: null,
  pm_card_mastercard: null,
  pm_card_declined: 'card_declined',
  pm_card_insufficient_funds: 'insufficient_funds',
  pm_card_processor_error: 'processor_error',
} as const;
type PaymentMethod = keyof typeof PAYMENT_METHODS;

const invoiceBody = z
  .object({
    patientId: uuid,
    orderId: uuid.optional(),
    amountMinor: minorUnits.optional(),
    currency: currency.optional(),
  })
  .strict()
  .refine((v) => v.orderId !== undefined || (v.amountMinor !== undefined && v.currency !== undefined), {
    message: 'amountMinor and currency are required without orderId',
    path: ['amountMinor'],
  });
const invoiceQuery = z
  .object({
    patientId: uuid.optional(),
    status: z.enum(['unpaid', 'paid', 'refunded', 'void']).optional(),
    limit,
  })
  .strict();
const paymentBody = z
  .object({ paymentMethod: z.enum(Object.keys(PAYMENT_METHODS) as [PaymentMethod, ...PaymentMethod[]]) })
  .strict();
const refundBody = z
  .object({
    amountMinor: minorUnits.optional(),
    reason: z.enum(['customer_request', 'duplicate', 'fraudulent', 'service_issue']),
  })
  .strict();

interface InvoiceRow {
  id: string;
  patient_id: string;
  order_id: string | null;
  amount_minor: string | number;
  currency: Currency;
  status: string;
  created_at: Date;
}
const invoiceJson = (i: InvoiceRow) => ({
  id: i.id,
  patientId: i.patient_id,
  orderId: i.order_id,
  amountMinor: Number(i.amount_minor),
  currency: i.currency,
  status: i.status,
  createdAt: i.created_at,
});
const INVOICE_COLUMNS = 'id, patient_id, order_id, amount_minor, currency, status, created_at';

const invalid = (path: string, message: string) =>
  new HttpError(400, 'validation_failed', 'The request is invalid', [{ path, message }]);

/**
 * Invoices an order for its total, once: the order's row is locked while its invoices are checked
 * and the new one is written, so two requests for the same order cannot both pass the check, and a
 * cancellation waits for (or precedes) it. A cancelled order, or one with an invoice that is not
 * void, is refused with 409. An amount or currency given with the order must match the order's.
 */
async function invoiceOrder(
  ctx: AppContext,
  input: { patientId: string; orderId: string; amountMinor?: number; currency?: Currency },
  id: string,
  createdBy: string,
): Promise<{ amount: number; currency: Currency }> {
  return ctx.db.transaction(async (tx) => {
    const o = await tx.query<{ total_minor: string | number; currency: Currency; status: string }>(
      `SELECT total_minor, currency, status FROM orders WHERE id = $1 AND patient_id = $2 FOR UPDATE`,
      [input.orderId, input.patientId],
    );
    const order = o.rows[0];
    if (!order) throw notFound('Order');
    const total = Number(order.total_minor);
    if (input.amountMinor !== undefined && input.amountMinor !== total)
      throw invalid('body.amountMinor', 'must match the order total');
    if (input.currency !== undefined && input.currency !== order.currency)
      throw invalid('body.currency', 'must match the order currency');
    if (order.status === 'cancelled') throw conflict('order_cancelled', 'The order is cancelled');
    const existing = await tx.query(`SELECT 1 FROM invoices WHERE order_id = $1 AND status <> 'void'`, [
      input.orderId,
    ]);
    if (existing.rowCount > 0) throw conflict('order_invoiced', 'The order already has an invoice');
    if (total < 1 || total > MAX_MINOR_UNITS)
      throw conflict('order_total_out_of_range', 'The order total cannot be invoiced');
    await tx.query(
      `INSERT INTO invoices (id, patient_id, order_id, amount_minor, currency, created_by) VALUES ($1, $2, $3, $4, $5, $6)`,
      [id, input.patientId, input.orderId, total, order.currency, createdBy],
    );
    return { amount: total, currency: order.currency };
  });
}

export function invoiceRoutes(ctx: AppContext): Router {
  const r = Router();
  r.use(requireAuth(ctx));

  r.post('/', async (req, res) => {
    const auth = getAuth(res);
    if (auth.role !== 'admin' && auth.role !== 'staff') throw roleForbidden(ctx, auth);
    const input = body(req, invoiceBody);
    const p = await ctx.db.query(`SELECT 1 FROM patients WHERE id = $1`, [input.patientId]);
    if (p.rowCount === 0) throw notFound('Patient');
    const id = randomUUID();
    const invoice = input.orderId
      ? await invoiceOrder(ctx, { ...input, orderId: input.orderId }, id, auth.userId)
      : { amount: input.amountMinor as number, currency: input.currency as Currency };
    if (!input.orderId) {
      await ctx.db.query(
        `INSERT INTO invoices (id, patient_id, order_id, amount_minor, currency, created_by) VALUES ($1, $2, NULL, $3, $4, $5)`,
        [id, input.patientId, invoice.amount, invoice.currency, auth.userId],
      );
    }
    ctx.events.report('invoice_issued', {
      actor: { role: auth.role, id: auth.userId },
      reason: input.orderId ? 'order' : 'manual',
      resource: { type: 'invoice', id },
    });
    res.status(201).json({ id, status: 'unpaid', amountMinor: invoice.amount, currency: invoice.currency });
  });

  r.get('/', async (req, res) => {
    const auth = getAuth(res);
    const q = query(req, invoiceQuery);
    if (q.patientId) {
      await authorizePatient(ctx, auth, q.patientId, {
        resource: 'invoice',
        phiRead: true,
        staffAllowed: true,
      });
    } else if (auth.role !== 'admin' && auth.role !== 'staff') {
      throw roleForbidden(ctx, auth);
    }
    const { rows } = await ctx.db.query<InvoiceRow>(
      q.patientId
        ? `SELECT ${INVOICE_COLUMNS} FROM invoices WHERE patient_id = $1 AND ($2::text IS NULL OR status = $2)
            ORDER BY created_at DESC LIMIT $3`
        : `SELECT ${INVOICE_COLUMNS} FROM invoices WHERE status = COALESCE($2::text, 'unpaid') AND $1::uuid IS NULL
            ORDER BY created_at LIMIT $3`,
      [q.patientId ?? null, q.status ?? null, q.limit],
    );
    if (!q.patientId)
      reportBillingListRead(
        ctx,
        auth,
        'invoice',
        rows.map((i) => i.patient_id),
      );
    res.json({ invoices: rows.map(invoiceJson) });
  });

  r.get('/:id', async (req, res) => {
    const { id } = params(req, idParams);
    const { rows } = await ctx.db.query<InvoiceRow>(`SELECT ${INVOICE_COLUMNS} FROM invoices WHERE id = $1`, [
      id,
    ]);
    const invoice = rows[0];
    if (!invoice) throw notFound('Invoice');
    await authorizePatient(ctx, getAuth(res), invoice.patient_id, {
      resource: 'invoice',
      resourceId: id,
      phiRead: true,
      staffAllowed: true,
      deniedAsMissing: 'Invoice',
    });
    res.json(invoiceJson(invoice));
  });

  r.post('/:id/payments', async (req, res) => {
    const { id } = params(req, idParams);
    const auth = getAuth(res);
    if (auth.role === 'provider') throw roleForbidden(ctx, auth, { type: 'payment', id });
    const { paymentMethod } = body(req, paymentBody);
    const { rows } = await ctx.db.query<InvoiceRow>(`SELECT ${INVOICE_COLUMNS} FROM invoices WHERE id = $1`, [
      id,
    ]);
    const invoice = rows[0];
    if (!invoice) throw notFound('Invoice');
    await authorizePatient(ctx, auth, invoice.patient_id, {
      resource: 'invoice',
      resourceId: id,
      phiRead: false,
      staffAllowed: true,
      deniedAsMissing: 'Invoice',
    });
    const amount = Number(invoice.amount_minor);
    const actor = { role: auth.role, id: auth.userId };
    const paymentId = randomUUID();
    const declined = PAYMENT_METHODS[paymentMethod];
    if (declined) {
      if (invoice.status !== 'unpaid')
        throw conflict('invoice_not_unpaid', 'The invoice is not awaiting payment');
      await ctx.db.query(
        `INSERT INTO payments (id, invoice_id, amount_minor, currency, status, failure_reason, created_by)
         VALUES ($1, $2, $3, $4, 'failed', $5, $6)`,
        [paymentId, id, amount, invoice.currency, declined, auth.userId],
      );
      ctx.events.report('payment_failed', {
        actor,
        reason: declined,
        resource: { type: 'payment', id: paymentId },
        amount: { minorUnits: amount, currency: invoice.currency },
      });
      throw new HttpError(402, 'payment_failed', 'The payment was not accepted', undefined, undefined);
    }
    // The invoice flips to paid and the payment row is written in one transaction: two concurrent
    // captures of the same invoice cannot both succeed.
    const captured = await ctx.db.transaction(async (tx) => {
      const u = await tx.query(
        `UPDATE invoices SET status = 'paid', updated_at = now() WHERE id = $1 AND status = 'unpaid' RETURNING id`,
        [id],
      );
      if (u.rowCount === 0) return false;
      await tx.query(
        `INSERT INTO payments (id, invoice_id, amount_minor, currency, status, created_by)
         VALUES ($1, $2, $3, $4, 'captured', $5)`,
        [paymentId, id, amount, invoice.currency, auth.userId],
      );
      return true;
    });
    if (!captured) throw conflict('invoice_not_unpaid', 'The invoice is not awaiting payment');
    ctx.events.report('payment_captured', {
      actor,
      reason: 'none',
      resource: { type: 'payment', id: paymentId },
      amount: { minorUnits: amount, currency: invoice.currency },
    });
    res
      .status(201)
      .json({ id: paymentId, status: 'captured', amountMinor: amount, currency: invoice.currency });
  });
  return r;
}

export function paymentRoutes(ctx: AppContext): Router {
  const r = Router();
  r.use(requireAuth(ctx, ['admin']));
  r.post('/:id/refunds', async (req, res) => {
    const { id } = params(req, idParams);
    const auth = getAuth(res);
    const input = body(req, refundBody);
    const refundId = randomUUID();
    const result = await ctx.db.transaction(async (tx) => {
      const p = await tx.query<{
        amount_minor: string | number;
        refunded_minor: string | number;
        currency: Currency;
        invoice_id: string;
        status: string;
      }>(
        `SELECT amount_minor, refunded_minor, currency, invoice_id, status FROM payments WHERE id = $1 FOR UPDATE`,
        [id],
      );
      const payment = p.rows[0];
      if (!payment) return { error: notFound('Payment') };
      if (payment.status !== 'captured' && payment.status !== 'partially_refunded')
        return { error: conflict('payment_not_refundable', 'Only a captured payment can be refunded') };
      const remaining = Number(payment.amount_minor) - Number(payment.refunded_minor);
      const amount = input.amountMinor ?? remaining;
      if (amount > remaining)
        return {
          error: new HttpError(400, 'validation_failed', 'The request is invalid', [
            { path: 'body.amountMinor', message: 'must not exceed the amount not yet refunded' },
          ]),
        };
      const full = amount === remaining;
      await tx.query(`UPDATE payments SET refunded_minor = refunded_minor + $2, status = $3 WHERE id = $1`, [
        id,
        amount,
        full ? 'refunded' : 'partially_refunded',
      ]);
      await tx.query(
        `INSERT INTO refunds (id, payment_id, amount_minor, reason, created_by) VALUES ($1, $2, $3, $4, $5)`,
        [refundId, id, amount, input.reason, auth.userId],
      );
      if (full)
        await tx.query(`UPDATE invoices SET status = 'refunded', updated_at = now() WHERE id = $1`, [
          payment.invoice_id,
        ]);
      return { amount, currency: payment.currency, full };
    });
    if ('error' in result) throw result.error;
    ctx.events.report('payment_refunded', {
      actor: { role: auth.role, id: auth.userId },
      reason: input.reason,
      resource: { type: 'payment', id },
      amount: { minorUnits: result.amount, currency: result.currency },
    });
    res.status(201).json({
      id: refundId,
      amountMinor: result.amount,
      currency: result.currency,
      paymentStatus: result.full ? 'refunded' : 'partially_refunded',
    });
  });
  return r;
}
