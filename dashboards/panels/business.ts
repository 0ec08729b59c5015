/**
 * Business panels: orders, prescriptions, revenue by currency, payment failures and refunds from the
 * collector's event counters, and the gauges a scheduled job refreshes from the database.
 */
import * as units from '@grafana/grafana-foundation-sdk/units';
import { collectorMetricNames, CURRENCIES, type Currency } from '../../collector/metric-names';
import { MATCH, RANGE, RATE, statPanel, timeseriesPanel } from './shared';

const c = collectorMetricNames();
const PER_MINUTE = 60;

/** Grafana display unit per currency (Grafana has no CAD or AUD unit: a prefix does). */
const CURRENCY_UNITS: Record<Currency, string> = {
  USD: units.Dollars,
  EUR: units.Euro,
  GBP: units.Pounds,
  CAD: 'prefix:CA$',
  AUD: 'prefix:A$',
};

function events(type: string, window: string): string {
  return `${c.eventsTotal}{${MATCH.service}, event_type="${type}"}[${window}]`;
}

export function ordersAndPrescriptions() {
  return timeseriesPanel({
    title: 'Orders and prescriptions',
    description:
      'Orders created, fulfilled and cancelled, and prescriptions issued and filled, per minute. ' +
      'Cancellations rising against fulfilments, or fills falling behind issues, show in the backlog row below.',
    unit: 'opm',
    series: [
      { expr: `sum (rate(${events('order_created', RATE)})) * ${PER_MINUTE}`, legend: 'orders created' },
      {
        expr: `sum by (reason) (rate(${events('order_updated', RATE)})) * ${PER_MINUTE}`,
        legend: 'orders {{reason}}',
      },
      {
        expr: `sum (rate(${events('prescription_issued', RATE)})) * ${PER_MINUTE}`,
        legend: 'prescriptions issued',
      },
      {
        expr: `sum (rate(${events('prescription_filled', RATE)})) * ${PER_MINUTE}`,
        legend: 'prescriptions filled',
      },
    ],
  });
}

/** Invoices issued (for an order or a manual amount) and voided (their order cancelled), per minute. */
export function invoicesIssuedAndVoided() {
  return timeseriesPanel({
    title: 'Invoices issued and voided',
    description:
      'Invoices issued (for an order, or a manual amount) and voided because their order was cancelled, per minute.',
    unit: 'opm',
    series: [
      {
        expr: `sum by (reason) (rate(${events('invoice_issued', RATE)})) * ${PER_MINUTE}`,
        legend: 'issued: {{reason}}',
      },
      { expr: `sum (rate(${events('invoice_voided', RATE)})) * ${PER_MINUTE}`, legend: 'voided' },
    ],
  });
}

export function ordersTotal() {
  return statPanel({
    title: 'Orders in range',
    description: 'Orders created over the selected time range.',
    unit: 'short',
    series: [{ expr: `sum (increase(${events('order_created', RANGE)}))`, legend: 'orders' }],
  });
}

export function prescriptionsTotal() {
  return statPanel({
    title: 'Prescriptions in range',
    description: 'Prescriptions issued over the selected time range.',
    unit: 'short',
    series: [{ expr: `sum (increase(${events('prescription_issued', RANGE)}))`, legend: 'prescriptions' }],
  });
}

/** Net revenue: captured minus refunded amounts (major units), per currency, over the selected range. */
export function revenueByCurrency() {
  const amount = (type: string) =>
    `sum by (currency) (increase(${c.paymentsAmountTotal}{${MATCH.service}, event_type="${type}"}[${RANGE}]))`;
  const panel = statPanel({
    title: 'Net revenue by currency (range)',
    description: 'Captured minus refunded payment amounts over the selected range, one value per currency.',
    unit: 'short',
    series: [
      { expr: `${amount('payment_captured')} - ${amount('payment_refunded')}`, legend: '{{currency}}' },
    ],
    width: 12,
  });
  for (const currency of CURRENCIES) {
    panel.overrideByName(currency, [{ id: 'unit', value: CURRENCY_UNITS[currency] }]);
  }
  return panel;
}

export function paymentFailuresAndRefunds() {
  return timeseriesPanel({
    title: 'Payment failures and refunds',
    description: 'Failed payments (by reason) and refunds (by reason) per minute.',
    unit: 'opm',
    series: [
      {
        expr: `sum by (reason) (rate(${events('payment_failed', RATE)})) * ${PER_MINUTE}`,
        legend: 'failed: {{reason}}',
      },
      {
        expr: `sum by (reason) (rate(${events('payment_refunded', RATE)})) * ${PER_MINUTE}`,
        legend: 'refunded: {{reason}}',
      },
    ],
  });
}

export function paymentsCaptured() {
  return timeseriesPanel({
    title: 'Payments captured',
    description: 'Captured payments per minute.',
    unit: 'opm',
    series: [{ expr: `sum (rate(${events('payment_captured', RATE)})) * ${PER_MINUTE}`, legend: 'captured' }],
  });
}

export function businessGauges() {
  return timeseriesPanel({
    title: 'Open orders, pending prescriptions, unpaid invoices',
    description: 'Business backlog gauges, refreshed from the database by a scheduled job.',
    unit: 'short',
    series: [
      { expr: `max (${c.ordersOpen}{${MATCH.service}})`, legend: 'open orders' },
      { expr: `max (${c.prescriptionsPending}{${MATCH.service}})`, legend: 'pending prescriptions' },
      { expr: `max (${c.invoicesUnpaid}{${MATCH.service}})`, legend: 'unpaid invoices' },
    ],
    width: 24,
  });
}
