/**
 * One query interface over PostgreSQL (`pg` Pool) and embedded PostgreSQL (PGlite), so that the
 * service and the audit store run unchanged on a real server or on a machine with none.
 *
 * PGlite is used in-process, not through pglite-socket: the socket serves one connection at a time
 * and a failed statement kills that connection (field notes), which a pool cannot live with.
 * Result values are normalised to what `pg` returns (int8/numeric as strings, bytea as Buffer).
 */
import { Pool, type PoolClient } from 'pg';
import { from as copyFromStdin } from 'pg-copy-streams';

export interface QueryResult<R> {
  rows: R[];
  rowCount: number;
}

export interface Queryable {
  query<R = Record<string, unknown>>(text: string, params?: unknown[]): Promise<QueryResult<R>>;
}

/**
 * The handle a transaction callback gets. `copyFrom` exists on PostgreSQL only (PGlite has no
 * COPY FROM STDIN over this interface): callers check for it and fall back to `query`.
 */
export interface Transaction extends Queryable {
  /**
   * Runs several statements without parameters, separated by `;`, in ONE round trip (on PostgreSQL
   * together with the transaction's BEGIN when it is the first statement); resolves to the result of
   * the last. A busy event loop reads each response a whole turn late, so a hot path that needs
   * several statements before its data goes saves a turn per statement folded in here.
   */
  script<R = Record<string, unknown>>(sql: string): Promise<QueryResult<R>>;
  /** Runs `COPY … FROM STDIN` (text format) with `data` as the input; resolves to the rows copied. */
  copyFrom?(sql: string, data: Buffer): Promise<number>;
}

export interface Database extends Queryable {
  readonly kind: 'postgres' | 'pglite';
  /** Runs several statements separated by `;` (migrations). Takes no parameters. */
  exec(sql: string): Promise<void>;
  /** BEGIN … COMMIT on one connection; ROLLBACK when `fn` throws. BEGIN goes with the first statement. */
  transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T>;
  poolStats(): { total: number; idle: number; waiting: number };
  close(): Promise<void>;
  /**
   * PostgreSQL only: options that open this database again, for a worker thread's own connection
   * (PGlite lives in this thread's memory and cannot be shared).
   */
  connectOptions?(): OpenDatabaseOptions;
}

export interface OpenDatabaseOptions {
  /** postgres:// URL; without one an embedded PGlite is started. */
  url?: string;
  /** PGlite data folder; in memory when undefined. Ignored with `url`. */
  dataDir?: string;
  /** pg pool size (default 10). */
  poolMax?: number;
  /** pg: milliseconds to wait for a connection before failing (default 5000). */
  connectionTimeoutMillis?: number;
  /** pg: per-statement timeout in milliseconds (default 30000). */
  statementTimeoutMillis?: number;
}

export async function openDatabase(opts: OpenDatabaseOptions = {}): Promise<Database> {
  return opts.url ? openPostgres(opts.url, opts) : openPglite(opts.dataDir);
}

function openPostgres(url: string, opts: OpenDatabaseOptions): Database {
  const pool = new Pool({
    connectionString: url,
    max: opts.poolMax ?? 10,
    connectionTimeoutMillis: opts.connectionTimeoutMillis ?? 5000,
    statement_timeout: opts.statementTimeoutMillis ?? 30000,
    // Identifies our sessions in pg_stat_activity; never carries request data.
    application_name: 'telehealth',
  });
  // An idle client whose server went away emits 'error' on the pool: without a listener that is an
  // uncaught exception. The next query gets a fresh connection, so there is nothing else to do.
  pool.on('error', () => undefined);
  // One promise per query. Through their promise APIs, pg-pool (a promisify and its catch) and pg
  // (its own promise) plus an async wrapper made about six, and with tracing on every promise also
  // runs the async hooks of its context propagation (a PHI read made 87 promises, now 63:
  // docs/benchmarks/app.md). With callbacks neither library makes any.
  const query = <R>(text: string, params?: unknown[]): Promise<QueryResult<R>> =>
    new Promise((resolve, reject) => {
      pool.query(text, params as unknown[], (err: Error | undefined, r) => {
        if (err) reject(err);
        else resolve({ rows: r.rows as R[], rowCount: r.rowCount ?? r.rows.length });
      });
    });
  return {
    kind: 'postgres',
    query,
    async exec(sql) {
      await pool.query(sql);
    },
    async transaction(fn) {
      const client: PoolClient = await pool.connect();
      // A server that goes away mid-transaction makes the checked-out client emit 'error'; without a
      // listener that is an uncaught exception (the pool only listens on idle clients). The failed
      // query rejects as well, which is what the caller handles.
      const onError = (): void => undefined;
      client.on('error', onError);
      // BEGIN is sent with the first statement when that is a script (one round trip for both).
      let begun = false;
      const begin = async (): Promise<void> => {
        if (begun) return;
        begun = true;
        await client.query('BEGIN');
      };
      try {
        const result = await fn({
          query: async <R>(text: string, params?: unknown[]) => {
            await begin();
            const r = await client.query(text, params as unknown[] | undefined);
            return { rows: r.rows as R[], rowCount: r.rowCount ?? r.rows.length };
          },
          script: async <R>(sql: string) => {
            const text = begun ? sql : `BEGIN; ${sql}`;
            begun = true;
            // Several statements give an array of results (one statement, a single result).
            const r = (await client.query(text)) as unknown as QueryResult<R> | QueryResult<R>[];
            const last = (Array.isArray(r) ? r[r.length - 1] : r) as QueryResult<R>;
            return { rows: last.rows, rowCount: last.rowCount ?? last.rows.length };
          },
          copyFrom: async (sql, data) => {
            await begin();
            return copyInto(client, sql, data);
          },
        });
        if (begun) await client.query('COMMIT');
        client.off('error', onError);
        client.release();
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        client.off('error', onError);
        // A connection in an unknown state is destroyed rather than returned to the pool.
        client.release(true);
        throw err;
      }
    },
    poolStats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    connectOptions: () => ({
      url,
      poolMax: 1,
      connectionTimeoutMillis: opts.connectionTimeoutMillis,
      statementTimeoutMillis: opts.statementTimeoutMillis,
    }),
    async close() {
      await pool.end();
    },
  };
}

/** COPY FROM STDIN on a checked-out client; a server error rejects (and aborts the transaction). */
function copyInto(client: PoolClient, sql: string, data: Buffer): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const stream = client.query(copyFromStdin(sql));
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      reject(err);
    };
    stream.on('error', fail);
    stream.on('finish', () => {
      if (settled) return;
      settled = true;
      resolve(stream.rowCount);
    });
    stream.end(data);
  });
}

const INT8_OID = 20;
const NUMERIC_OID = 1700;
const BYTEA_OID = 17;

async function openPglite(dataDir: string | undefined): Promise<Database> {
  // Loaded lazily: the WASM build costs start-up time and memory that a pg deployment never needs.
  const { PGlite } = await import('@electric-sql/pglite');
  const db = await PGlite.create({
    dataDir,
    parsers: {
      [INT8_OID]: (v: string) => v,
      [NUMERIC_OID]: (v: string) => v,
      [BYTEA_OID]: (v: string) => Buffer.from(v.startsWith('\\x') ? v.slice(2) : v, 'hex'),
    },
  });
  type PgliteLike = Pick<typeof db, 'query'>;
  const run = async <R>(target: PgliteLike, text: string, params?: unknown[]): Promise<QueryResult<R>> => {
    const r = await target.query<R>(text, params as unknown[] | undefined);
    const rows = r.rows.map(normaliseRow) as R[];
    return { rows, rowCount: r.affectedRows || rows.length };
  };
  let closed = false;
  return {
    kind: 'pglite',
    query: (text, params) => run(db, text, params),
    async exec(sql) {
      await db.exec(sql);
    },
    transaction: (fn) =>
      db.transaction((tx) =>
        fn({
          query: (text, params) => run(tx, text, params),
          script: async <R>(sql: string) => {
            const results = await tx.exec(sql);
            const last = results[results.length - 1];
            const rows = (last?.rows ?? []).map(normaliseRow) as R[];
            return { rows, rowCount: last?.affectedRows || rows.length };
          },
        }),
      ),
    // One in-process connection: PGlite serialises statements itself.
    poolStats: () => ({ total: 1, idle: 1, waiting: 0 }),
    async close() {
      if (closed) return;
      closed = true;
      await db.close();
    },
  };
}

function normaliseRow(row: unknown): unknown {
  if (row === null || typeof row !== 'object') return row;
  const out = row as Record<string, unknown>;
  for (const key of Object.keys(out)) {
    const v = out[key];
    if (v instanceof Uint8Array && !Buffer.isBuffer(v))
      out[key] = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  }
  return out;
}
