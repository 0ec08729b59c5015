/** A Database that forwards to a real one, or fails like an unreachable server while "down". */
import type { Database, Transaction } from '../../collector/database';

export interface SwitchableDatabase extends Database {
  down: boolean;
}

function refused(): Error {
  return Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
}

export function switchable(real: Database, down = false): SwitchableDatabase {
  const db: SwitchableDatabase = {
    down,
    kind: real.kind,
    query<R>(text: string, params?: unknown[]) {
      return db.down ? Promise.reject(refused()) : real.query<R>(text, params);
    },
    exec(sql: string) {
      return db.down ? Promise.reject(refused()) : real.exec(sql);
    },
    transaction<T>(fn: (tx: Transaction) => Promise<T>) {
      return db.down ? Promise.reject(refused()) : real.transaction(fn);
    },
    poolStats: () => real.poolStats(),
    close: () => real.close(),
  };
  return db;
}
