/**
 * The traffic simulator as a library: `runScenario()` drives a running service at a fixed request
 * rate (open loop: a slow service does not slow the offered load, as with real users) for a
 * duration, and returns a summary. Scenarios:
 *   normal               patients read their record and pay invoices, providers read charts, write
 *                        notes and prescribe, staff create, invoice, fulfil and cancel orders and
 *                        fill prescriptions, admins refund
 *   credential-stuffing  mostly logins with leaked-looking usernames and passwords (all fail)
 *   phi-snooping         a provider and a staff member read charts they are not assigned to (403)
 *   error-spike          normal traffic with the service's fault switch failing 30% of requests
 *   latency-spike        normal traffic with the fault switch delaying every request by 3 s
 */
import { randomBytes, randomInt } from 'node:crypto';
import { readCredentialsFile, type DemoCredentials, type DemoUser } from '../seed/demo-seed';
import { errorCode, SimClient, UserSession, type HttpResult } from './client';
import { RunStats, summarise, type LatencySummary, type StatsSnapshot } from './stats';

export const SCENARIOS = [
  'normal',
  'credential-stuffing',
  'phi-snooping',
  'error-spike',
  'latency-spike',
] as const;
export type Scenario = (typeof SCENARIOS)[number];

export interface ScenarioOptions {
  /** Base URL of the API, e.g. http://127.0.0.1:3000 */
  target: string;
  scenario: Scenario;
  /** Requests per second offered (default 5). */
  rate?: number;
  durationSeconds: number;
  /** Demo users; default: read from `credentialsFile`. */
  credentials?: DemoCredentials;
  /** Default: .data/dev-credentials.json (what `npm start` writes). */
  credentialsFile?: string;
  /** Requests in flight above which new ones are skipped (default 512). */
  maxInFlight?: number;
  requestTimeoutMs?: number;
  /** Fault for the spike scenarios (defaults: errorRate 0.3; latencyMs 3000). */
  fault?: { errorRate?: number; latencyMs?: number };
  /** Leave the fault on after the run (it still ends by itself after `faultSeconds`). */
  keepFault?: boolean;
  /** How long the service keeps the fault on if nobody turns it off (default duration + 60 s). */
  faultSeconds?: number;
  /** Called about once a second. */
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
}

export interface Progress extends StatsSnapshot {
  elapsedSeconds: number;
  durationSeconds: number;
}

export interface ScenarioSummary {
  scenario: Scenario;
  target: string;
  rate: number;
  durationSeconds: number;
  requests: number;
  byStatus: Record<string, number>;
  networkErrors: number;
  skipped: number;
  latency: LatencySummary;
  byAction: Record<string, LatencySummary & { byStatus: Record<string, number> }>;
  /** 5xx answers / requests. */
  serverErrorRatio: number;
  failedLogins: number;
  phiDenied: number;
}

type Action = () => Promise<unknown>;

interface World {
  client: SimClient;
  sessions: Map<string, UserSession>;
  admin: UserSession;
  staff: UserSession;
  providers: Array<{ session: UserSession; patients: string[] }>;
  patients: Array<{ session: UserSession; patientId: string }>;
  allPatients: string[];
  unpaidInvoices: Map<string, string[]>; // patientId -> invoice ids
  /** The order each invoice of the run bills (its cancellation voids the invoice). */
  orderOfInvoice: Map<string, string>;
  /** Orders whose invoice is paid: the next to fulfil. */
  paidOrders: string[];
  captured: string[];
  pendingPrescriptions: string[];
  counters: { failedLogins: number; phiDenied: number };
}

const pick = <T>(xs: readonly T[]): T => xs[randomInt(xs.length)] as T;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function loadCredentials(opts: ScenarioOptions): DemoCredentials {
  if (opts.credentials) return opts.credentials;
  const file = opts.credentialsFile ?? '.data/dev-credentials.json';
  const c = readCredentialsFile(file);
  if (!c) throw new Error(`No demo credentials: ${file} not found (start the service with demo data first)`);
  return c;
}

/** Calls `path` as `session`'s user, logging in again once if the session ended. */
async function as(
  w: World,
  session: UserSession,
  action: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<HttpResult> {
  for (let i = 0; i < 2; i++) {
    const token = await session.token();
    if (!token) return { status: 401, body: null };
    const r = await w.client.request(action, method, path, { token, body });
    const code = errorCode(r.body);
    if (
      r.status === 401 &&
      (code === 'session_expired' || code === 'token_revoked' || code === 'invalid_token')
    ) {
      session.invalidate();
      continue;
    }
    if (r.status === 403) w.counters.phiDenied += 1;
    return r;
  }
  return { status: 401, body: null };
}

async function setup(client: SimClient, creds: DemoCredentials): Promise<World> {
  const byRole = (role: DemoUser['role']) => creds.users.filter((u) => u.role === role);
  const need = (u: DemoUser | undefined, what: string): DemoUser => {
    if (!u) throw new Error(`The demo credentials have no ${what}`);
    return u;
  };
  const sessions = new Map<string, UserSession>();
  const session = (u: DemoUser) => {
    let s = sessions.get(u.username);
    if (!s) sessions.set(u.username, (s = new UserSession(client, u)));
    return s;
  };
  const w: World = {
    client,
    sessions,
    admin: session(need(byRole('admin')[0], 'admin')),
    staff: session(need(byRole('staff')[0], 'staff member')),
    providers: byRole('provider').map((u) => ({ session: session(u), patients: [] })),
    patients: byRole('patient')
      .filter((u) => u.patientId)
      .map((u) => ({ session: session(u), patientId: u.patientId as string })),
    allPatients: [...creds.patientIds],
    unpaidInvoices: new Map(),
    orderOfInvoice: new Map(),
    paidOrders: [],
    captured: [],
    pendingPrescriptions: [],
    counters: { failedLogins: 0, phiDenied: 0 },
  };
  if (w.providers.length === 0 || w.patients.length === 0)
    throw new Error('The demo credentials lack providers or patients');
  // Log everyone in up front (in parallel) and learn each provider's patients from the API.
  await Promise.all([...sessions.values()].map((s) => s.token()));
  for (const p of w.providers) {
    const r = await as(w, p.session, 'list_patients', 'GET', '/api/patients?limit=100');
    if (r.status === 200)
      p.patients = (r.body as { patients: Array<{ id: string }> }).patients.map((x) => x.id);
  }
  return w;
}

/** Paid orders kept to fulfil. */
const MAX_PAID_ORDERS = 1000;
const SKUS = ['RX-CONSULT', 'LAB-PANEL', 'KIT-BP', 'RX-REFILL', 'TELE-VISIT'];
const MEDS = ['Amoxicillin 500 mg', 'Lisinopril 10 mg', 'Metformin 500 mg', 'Atorvastatin 20 mg'];

function normalActions(w: World): Array<[weight: number, action: Action]> {
  const provider = () => pick(w.providers.filter((p) => p.patients.length > 0));
  const patient = () => pick(w.patients);
  return [
    [
      22,
      async () => {
        const p = patient();
        return as(w, p.session, 'read_own_record', 'GET', `/api/patients/${p.patientId}`);
      },
    ],
    [
      18,
      async () => {
        const p = provider();
        return as(w, p.session, 'read_patient', 'GET', `/api/patients/${pick(p.patients)}`);
      },
    ],
    [
      6,
      async () => {
        const p = provider();
        return as(w, p.session, 'read_notes', 'GET', `/api/patients/${pick(p.patients)}/soap-notes?limit=10`);
      },
    ],
    [
      5,
      async () => {
        const p = provider();
        return as(w, p.session, 'write_note', 'POST', `/api/patients/${pick(p.patients)}/soap-notes`, {
          subjective: 'Reports mild headache for two days.',
          objective: 'BP 128/82, afebrile.',
          assessment: 'Tension headache.',
          plan: 'Hydration, rest, follow up in one week.',
        });
      },
    ],
    [
      5,
      async () => {
        const p = provider();
        const r = await as(w, p.session, 'prescribe', 'POST', '/api/prescriptions', {
          patientId: pick(p.patients),
          medication: pick(MEDS),
          dosage: 'Once daily',
          refills: randomInt(3),
        });
        if (r.status === 201) w.pendingPrescriptions.push((r.body as { id: string }).id);
        return r;
      },
    ],
    [
      3,
      async () => {
        const id = w.pendingPrescriptions.shift();
        if (!id) return as(w, w.staff, 'list_orders', 'GET', '/api/orders?status=open&limit=20');
        return as(w, w.staff, 'fill_prescription', 'POST', `/api/prescriptions/${id}/fill`);
      },
    ],
    [
      8,
      async () => {
        const p = patient();
        const items = [
          { sku: pick(SKUS), quantity: 1 + randomInt(2), unitPriceMinor: 1500 + randomInt(20) * 250 },
        ];
        const r = await as(w, w.staff, 'create_order', 'POST', '/api/orders', {
          patientId: p.patientId,
          currency: 'USD',
          items,
        });
        if (r.status !== 201) return r;
        const order = r.body as { id: string };
        const inv = await as(w, w.staff, 'create_invoice', 'POST', '/api/invoices', {
          patientId: p.patientId,
          orderId: order.id,
        });
        if (inv.status === 201) {
          const invoiceId = (inv.body as { id: string }).id;
          const list = w.unpaidInvoices.get(p.patientId) ?? [];
          list.push(invoiceId);
          w.unpaidInvoices.set(p.patientId, list);
          w.orderOfInvoice.set(invoiceId, order.id);
        }
        return inv;
      },
    ],
    [
      9,
      async () => {
        const candidates = w.patients.filter((p) => (w.unpaidInvoices.get(p.patientId) ?? []).length > 0);
        if (candidates.length === 0)
          return as(w, w.staff, 'list_invoices', 'GET', '/api/invoices?status=unpaid&limit=20');
        const p = pick(candidates);
        const invoiceId = (w.unpaidInvoices.get(p.patientId) as string[]).shift() as string;
        const roll = randomInt(100);
        const paymentMethod =
          roll < 88 ? 'pm_card_visa' : roll < 94 ? 'pm_card_declined' : 'pm_card_insufficient_funds';
        const r = await as(w, p.session, 'pay_invoice', 'POST', `/api/invoices/${invoiceId}/payments`, {
          paymentMethod,
        });
        if (r.status === 201) {
          w.captured.push((r.body as { id: string }).id);
          const orderId = w.orderOfInvoice.get(invoiceId);
          w.orderOfInvoice.delete(invoiceId);
          // Kept bounded on long runs (fulfilment is rarer than payment): the oldest wait no more.
          if (orderId && w.paidOrders.push(orderId) > MAX_PAID_ORDERS) w.paidOrders.shift();
        } else if (r.status === 402) (w.unpaidInvoices.get(p.patientId) as string[]).push(invoiceId);
        return r;
      },
    ],
    [
      2,
      async () => {
        const id = w.captured.length > 5 ? w.captured.shift() : undefined;
        if (!id) return as(w, w.admin, 'list_users', 'GET', '/api/users?limit=20');
        return as(w, w.admin, 'refund', 'POST', `/api/payments/${id}/refunds`, {
          reason: pick(['customer_request', 'service_issue'] as const),
        });
      },
    ],
    [
      3,
      async () => {
        // A paid order ships.
        const id = w.paidOrders.shift();
        if (!id) return as(w, w.staff, 'list_orders', 'GET', '/api/orders?status=open&limit=20');
        return as(w, w.staff, 'fulfil_order', 'PATCH', `/api/orders/${id}`, { status: 'fulfilled' });
      },
    ],
    [
      1,
      async () => {
        // An unpaid order is called off: its invoice is voided with it.
        const candidates = w.patients.filter((p) => (w.unpaidInvoices.get(p.patientId) ?? []).length > 0);
        if (candidates.length === 0)
          return as(w, w.staff, 'list_orders', 'GET', '/api/orders?status=open&limit=20');
        const invoices = w.unpaidInvoices.get(pick(candidates).patientId) as string[];
        const invoiceId = invoices.pop() as string;
        const orderId = w.orderOfInvoice.get(invoiceId);
        w.orderOfInvoice.delete(invoiceId);
        if (!orderId) return as(w, w.staff, 'list_orders', 'GET', '/api/orders?status=open&limit=20');
        return as(w, w.staff, 'cancel_order', 'PATCH', `/api/orders/${orderId}`, { status: 'cancelled' });
      },
    ],
    [4, async () => as(w, w.staff, 'list_invoices', 'GET', '/api/invoices?status=unpaid&limit=20')],
    [
      2,
      async () => {
        const p = patient();
        return as(
          w,
          p.session,
          'read_own_prescriptions',
          'GET',
          `/api/patients/${p.patientId}/prescriptions`,
        );
      },
    ],
  ];
}

function stuffingAction(w: World): Action {
  return async () => {
    const username = `${randomBytes(4).toString('hex')}.user@example.test`;
    const r = await w.client.request('stuffed_login', 'POST', '/api/auth/login', {
      body: { username, password: randomBytes(9).toString('base64url') },
    });
    if (r.status === 401 || r.status === 423) w.counters.failedLogins += 1;
    return r;
  };
}

function snoopingAction(w: World): Action {
  return async () => {
    // A provider browsing charts beyond their assignments, or a staff member reading PHI at all.
    const p = pick(w.providers);
    const mine = new Set(p.patients);
    const others = w.allPatients.filter((id) => !mine.has(id));
    if (randomInt(2) === 0 && others.length > 0)
      return as(w, p.session, 'snoop_patient', 'GET', `/api/patients/${pick(others)}`);
    return as(w, w.staff, 'snoop_patient', 'GET', `/api/patients/${pick(w.allPatients)}`);
  };
}

function weighted(actions: Array<[number, Action]>): () => Action {
  const total = actions.reduce((s, [wt]) => s + wt, 0);
  return () => {
    let n = randomInt(total);
    for (const [wt, a] of actions) {
      if (n < wt) return a;
      n -= wt;
    }
    return (actions[0] as [number, Action])[1];
  };
}

async function setFault(
  target: string,
  fault: { errorRate: number; latencyMs: number; durationSeconds: number } | null,
) {
  const res = await fetch(`${target}/api/_faults`, {
    method: fault ? 'POST' : 'DELETE',
    headers: { 'content-type': 'application/json' },
    body: fault ? JSON.stringify(fault) : undefined,
    signal: AbortSignal.timeout(5000),
  });
  await res.text();
  if (!res.ok)
    throw new Error(
      res.status === 404
        ? 'The service has no fault switch: start it with FAULT_INJECTION=enabled (never in production)'
        : `The fault switch answered ${res.status}`,
    );
}

export async function runScenario(opts: ScenarioOptions): Promise<ScenarioSummary> {
  if (!SCENARIOS.includes(opts.scenario)) throw new Error(`Unknown scenario; one of ${SCENARIOS.join(', ')}`);
  const rate = opts.rate ?? 5;
  if (!(rate > 0 && rate <= 10_000)) throw new Error('rate must be between 0 and 10000 requests per second');
  if (!(opts.durationSeconds > 0 && opts.durationSeconds <= 86_400))
    throw new Error('durationSeconds must be in (0, 86400]');
  const target = opts.target.replace(/\/+$/, '');
  const stats = new RunStats();
  const client = new SimClient(target, stats, opts.requestTimeoutMs ?? 30_000);
  const w = await setup(client, loadCredentials(opts));

  const normal = weighted(normalActions(w));
  let next: () => Action;
  switch (opts.scenario) {
    case 'credential-stuffing': {
      const stuff = stuffingAction(w);
      next = () => (randomInt(10) < 8 ? stuff : normal());
      break;
    }
    case 'phi-snooping': {
      const snoop = snoopingAction(w);
      next = () => (randomInt(10) < 7 ? snoop : normal());
      break;
    }
    default:
      next = normal;
  }

  const spike = opts.scenario === 'error-spike' || opts.scenario === 'latency-spike';
  if (spike) {
    await setFault(target, {
      errorRate: opts.scenario === 'error-spike' ? (opts.fault?.errorRate ?? 0.3) : 0,
      latencyMs: opts.scenario === 'latency-spike' ? (opts.fault?.latencyMs ?? 3000) : 0,
      durationSeconds: opts.faultSeconds ?? Math.ceil(opts.durationSeconds) + 60,
    });
  }

  const maxInFlight = opts.maxInFlight ?? 512;
  const inFlight = new Set<Promise<unknown>>();
  const started = performance.now();
  const durationMs = opts.durationSeconds * 1000;
  let sent = 0;
  let lastProgress = 0;
  try {
    while (!opts.signal?.aborted) {
      const elapsed = performance.now() - started;
      if (elapsed >= durationMs) break;
      // Open loop: send what is due by now, whatever the previous requests are doing.
      const due = Math.floor((elapsed / 1000) * rate) + 1;
      while (sent < due) {
        sent += 1;
        if (inFlight.size >= maxInFlight) {
          stats.skipped += 1;
          continue;
        }
        const p: Promise<unknown> = next()()
          .catch(() => undefined)
          .finally(() => inFlight.delete(p));
        inFlight.add(p);
      }
      if (opts.onProgress && elapsed - lastProgress >= 1000) {
        lastProgress = elapsed;
        opts.onProgress({
          ...stats.snapshot(),
          elapsedSeconds: elapsed / 1000,
          durationSeconds: opts.durationSeconds,
        });
      }
      await sleep(Math.max(1, Math.min(50, 1000 / rate / 2)));
    }
    await Promise.all(inFlight);
  } finally {
    if (spike && !opts.keepFault) await setFault(target, null).catch(() => undefined);
  }
  opts.onProgress?.({
    ...stats.snapshot(),
    elapsedSeconds: opts.durationSeconds,
    durationSeconds: opts.durationSeconds,
  });

  const serverErrors = Object.entries(stats.byStatus)
    .filter(([s]) => /^5\d\d$/.test(s))
    .reduce((n, [, c]) => n + c, 0);
  const byAction: ScenarioSummary['byAction'] = {};
  for (const [name, a] of stats.byAction)
    byAction[name] = { ...summarise(a.latencies), byStatus: a.byStatus };
  return {
    scenario: opts.scenario,
    target,
    rate,
    durationSeconds: opts.durationSeconds,
    requests: stats.requests,
    byStatus: { ...stats.byStatus },
    networkErrors: stats.networkErrors,
    skipped: stats.skipped,
    latency: summarise(stats.latencies),
    byAction,
    serverErrorRatio: stats.requests ? serverErrors / stats.requests : 0,
    failedLogins: w.counters.failedLogins,
    phiDenied: w.counters.phiDenied,
  };
}
