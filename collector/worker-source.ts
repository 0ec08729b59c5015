/**
 * Where a worker thread's code is: the built file next to this one, or, run from source (tsx,
 * jest), the .ts file through tsx's require hook (a development dependency; `--import tsx` in a
 * worker's execArgv does not reach its entry file on Node 20). Null when neither exists.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';

export interface WorkerSource {
  code: string;
  eval: boolean;
}

export function workerSource(basename: string): WorkerSource | null {
  const js = path.join(__dirname, `${basename}.js`);
  if (existsSync(js)) return { code: js, eval: false };
  const ts = path.join(__dirname, `${basename}.ts`);
  if (!existsSync(ts)) return null;
  try {
    const tsx = require.resolve('tsx/cjs');
    return { code: `require(${JSON.stringify(tsx)}); require(${JSON.stringify(ts)});`, eval: true };
  } catch {
    return null;
  }
}
