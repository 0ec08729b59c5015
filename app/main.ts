/**
 * `npm start`: the service with its defaults (embedded PostgreSQL in .data/ when DATABASE_URL is
 * unset, demo users in development), API on :3000 and /metrics on :9464. Stops gracefully on
 * SIGTERM/SIGINT. Prints addresses and where the dev credentials are, never a secret.
 */
import { FolderInUseError, shutdownTracing } from './collector-api';
import { ConfigError } from './config';
import { startService } from './service';

async function main(): Promise<void> {
  let service: Awaited<ReturnType<typeof startService>>;
  try {
    service = await startService({
      // The service has closed itself: exit non-zero once it is done, to be replaced.
      onLeaseLost: () => {
        process.exitCode = 1;
      },
    });
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const i of err.issues) console.error(`[config] ${i.variable}: ${i.message}`);
      process.exit(78); // EX_CONFIG
    }
    // Its message names the folder and the process holding it, nothing else.
    if (err instanceof FolderInUseError) {
      console.error(`[start] failed: ${err.message}`);
      process.exit(1);
    }
    console.error(
      `[start] failed: ${err instanceof Error ? err.name : 'error'}${(err as { code?: string }).code ? ` (${(err as { code?: string }).code})` : ''}`,
    );
    process.exit(1);
  }
  const c = service.config;
  console.log(
    `[start] ${c.serviceName} (${c.nodeEnv}) database: ${service.database.kind}${service.database.kind === 'pglite' ? ` in ${c.dataDir}` : ''}`,
  );
  console.log(
    `[start] API      ${service.apiUrl}  (health: ${service.apiUrl}/api/health, ready: ${service.apiUrl}/api/ready)`,
  );
  if (service.metricsUrl) console.log(`[start] metrics  ${service.metricsUrl}`);
  if (service.faults)
    console.log('[start] fault injection ENABLED: POST/DELETE /api/_faults (loopback or admin)');
  if (service.credentials) {
    console.log(
      `[start] demo users: ${service.credentials.users.map((u) => `${u.username} (${u.role})`).join(', ')}`,
    );
    console.log(`[start] their passwords and TOTP secrets are in ${c.devCredentialsFile} (mode 0600)`);
  } else if (c.seedDemoData) {
    console.log(
      `[start] demo data exists but ${c.devCredentialsFile} is missing: delete ${c.dataDir} to reseed`,
    );
  }

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`[stop] ${signal}: draining`);
    service
      .close()
      // Spans of the last requests are exported before the process exits (bounded: 3 s).
      .then(() => shutdownTracing())
      .then(
        () => {
          console.log('[stop] done');
          process.exit(process.exitCode ?? 0);
        },
        () => process.exit(1),
      );
  };
  // A crash still drains: in-flight requests finish and accepted events reach the spool and store.
  // Only the error's class is printed: messages can carry values.
  process.on('uncaughtException', (err) => {
    console.error(`[crash] uncaught ${err instanceof Error ? err.name : typeof err}`);
    process.exitCode = 1;
    stop('uncaughtException');
  });
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

void main();
