/**
 * One service process for bench/stack.ts, with the instrumentation parts named in BENCH_PARTS
 * (metrics, log; tracing comes from the preload the parent adds) or with all of it off. Logs in a demo patient and reports the API
 * URL, a token and the patient's id to the parent over IPC; stops on SIGTERM.
 */
import { startService } from '../app';

async function main(): Promise<void> {
  // BENCH_PARTS: which in-process parts are on (metrics, log); tracing is the preload's.
  const parts = (process.env.BENCH_PARTS ?? '').split(',');
  const service = await startService({
    port: 0,
    metricsPort: 0,
    host: '127.0.0.1',
    instrumentation: { metrics: parts.includes('metrics'), accessLog: parts.includes('log') },
    print: () => undefined,
  });
  const patient = service.credentials?.users.find((u) => u.role === 'patient');
  if (!patient?.patientId) throw new Error('no demo patient');
  const res = await fetch(`${service.apiUrl}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: patient.username, password: patient.password }),
  });
  const { token } = (await res.json()) as { token: string };
  process.send?.({
    apiUrl: service.apiUrl,
    metricsUrl: service.metricsUrl,
    token,
    patientId: patient.patientId,
  });
  process.once('SIGTERM', () => {
    void service.close().then(() => process.exit(0));
  });
}

main().catch((err: unknown) => {
  console.error(`stack-server: ${err instanceof Error ? err.name : 'error'}`);
  process.exit(1);
});
