/**
 * Logging benchmark: prints figures and ratios against baselines measured in the same run.
 *
 *  1. Caller cost per line (ns): our logger (allow-list + ECS + bounded queue, to /dev/null)
 *     vs plain pino (sonic-boom async) to /dev/null, same fields. Time is summed over the
 *     synchronous part of 1000-line blocks; the event loop runs between blocks so both sinks
 *     actually write (no drop path in the figure).
 *  2. Slow sink (a FIFO read at ~80 KiB/s) for 5 s of logging at full speed: RSS growth and
 *     lines dropped, ours vs pino.transport (worker thread, pino/file) — each in its own process.
 *  3. Shutdown: from the end of logging to process exit (ours: close() then a natural exit;
 *     stock: the natural exit, during which pino flushes the transport).
 *
 * Run: npx tsx bench/logging.ts   (BENCH_LOG_SECONDS=5 BENCH_LOG_LINES=200000 to tune)
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import pino from 'pino';
import { createLogger, type LogFields } from '../collector/logging';

const LINES = Number(process.env.BENCH_LOG_LINES ?? 200_000);
const SECONDS = Number(process.env.BENCH_LOG_SECONDS ?? 5);
const BLOCK = 1000;

const fields: LogFields = {
  'event.action': 'http_request',
  'event.outcome': 'success',
  'http.request.method': 'GET',
  'url.path': '/api/patients/:id',
  'http.response.status_code': 200,
  'event.duration': 1_234_567,
};

const yieldLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function measure(write: (i: number) => void): Promise<number> {
  for (let i = 0; i < 20 * BLOCK; i++) {
    write(i);
    if (i % BLOCK === 0) await yieldLoop();
  }
  let ns = 0n;
  for (let done = 0; done < LINES; done += BLOCK) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < BLOCK; i++) write(i);
    ns += process.hrtime.bigint() - t0;
    await yieldLoop();
  }
  return Number(ns) / LINES;
}

async function callerCost(): Promise<void> {
  const dest = pino.destination({ dest: '/dev/null', sync: false, minLength: 4096 });
  const plain = pino({ base: { pid: process.pid, hostname: 'bench' } }, dest);
  const ours = createLogger({ serviceName: 'bench', destination: { path: '/dev/null' }, elasticsearch: false });
  // Alternate the two, twice, so neither benefits from running second.
  const plainNs: number[] = [];
  const oursNs: number[] = [];
  for (let round = 0; round < 2; round++) {
    plainNs.push(await measure(() => plain.info(fields, 'request completed')));
    oursNs.push(await measure(() => ours.info(fields, 'request completed')));
  }
  const p = Math.min(...plainNs);
  const o = Math.min(...oursNs);
  const stats = ours.stats().sinks[0]!;
  await ours.close();
  dest.flushSync();
  console.log('1. caller cost per line (best of 2 rounds, %d lines each)', LINES);
  console.log(`   plain pino -> /dev/null        ${p.toFixed(0).padStart(6)} ns/line`);
  console.log(`   createLogger -> /dev/null      ${o.toFixed(0).padStart(6)} ns/line   ratio ${(o / p).toFixed(2)}x   budget 5000 ns: ${o <= 5000 ? 'met' : 'NOT met'}`);
  console.log(`   (our lines dropped during the run: ${stats.droppedLines.buffer_full + stats.droppedLines.sink_error})`);
}

/** Child mode: log to `fifo` for SECONDS, report memory, then shut down and let the process exit. */
async function slowSinkChild(kind: 'ours' | 'stock', fifo: string): Promise<void> {
  const rss0 = process.memoryUsage().rss;
  let peak = rss0;
  let written = 0;
  let close: () => Promise<unknown>;
  let dropped = () => 0;
  let log: (i: number) => void;
  if (kind === 'ours') {
    const ours = createLogger({ serviceName: 'bench', destination: { path: fifo }, elasticsearch: false });
    log = () => ours.info(fields, 'request completed');
    close = () => ours.close();
    dropped = () => {
      const s = ours.stats().sinks[0]!;
      return s.droppedLines.buffer_full + s.droppedLines.sink_error;
    };
  } else {
    const transport = pino.transport({ target: 'pino/file', options: { destination: fifo } });
    const stock = pino({}, transport);
    log = () => stock.info(fields, 'request completed');
    close = async () => undefined; // out of the box: nothing; pino flushes on exit
  }
  const until = Date.now() + SECONDS * 1000;
  while (Date.now() < until) {
    for (let i = 0; i < BLOCK; i++) log(written++);
    const rss = process.memoryUsage().rss;
    if (rss > peak) peak = rss;
    await yieldLoop();
  }
  const t0 = Date.now();
  await close();
  const closeMs = Date.now() - t0;
  process.stdout.write(
    JSON.stringify({ kind, written, dropped: dropped(), growthBytes: peak - rss0, closeMs, shutdownAt: Date.now() }) + '\n',
  );
}

async function slowSink(kind: 'ours' | 'stock'): Promise<Record<string, number | string>> {
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-log-'));
  const fifo = path.join(dir, 'sink');
  spawnSync('mkfifo', [fifo]);
  const reader = spawn('sh', ['-c', `exec 3<"${fifo}"; while :; do dd bs=4096 count=1 <&3 >/dev/null 2>&1 || exit 0; sleep 0.05; done`], {
    stdio: 'ignore',
  });
  try {
    const child = spawn(process.execPath, [...process.execArgv, __filename, 'child', kind, fifo], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const timeout = setTimeout(() => child.kill('SIGKILL'), (SECONDS + 90) * 1000);
    await new Promise<void>((resolve) => child.on('exit', () => resolve()));
    const exitedAt = Date.now();
    clearTimeout(timeout);
    const report = JSON.parse(out.trim().split('\n').pop() ?? '{}') as Record<string, number | string>;
    return { ...report, exitMs: exitedAt - Number(report.shutdownAt) + Number(report.closeMs) };
  } finally {
    reader.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  if (process.argv[2] === 'child') return slowSinkChild(process.argv[3] as 'ours' | 'stock', process.argv[4]!);
  console.log(`logging benchmark (node ${process.version})`);
  await callerCost();
  const MiB = 1024 * 1024;
  console.log(`2./3. slow sink: FIFO read at ~80 KiB/s, ${SECONDS} s of logging at full speed, then shutdown`);
  for (const kind of ['stock', 'ours'] as const) {
    const r = await slowSink(kind);
    const label = kind === 'ours' ? 'createLogger (bounded 16 MiB)' : 'pino.transport (pino/file)  ';
    console.log(
      `   ${label}  lines ${String(r.written).padStart(9)}  dropped ${String(r.dropped ?? 'n/a').padStart(9)}  RSS growth ${(Number(r.growthBytes) / MiB).toFixed(1).padStart(6)} MiB  close ${String(r.closeMs).padStart(5)} ms  shutdown->exit ${String(r.exitMs).padStart(6)} ms`,
    );
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
