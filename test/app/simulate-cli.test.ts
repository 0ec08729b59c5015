/** `npm run simulate`: reads the dev credentials file (0600), drives the service, prints a summary. */
import { execFile } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { defaultBackend, startTestService, type TestService } from './helpers';

const run = promisify(execFile);
const ROOT = join(__dirname, '..', '..');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');

/** The normal scenario against the test service, with `args` (rate, duration, credentials). */
function simulate(target: string, args: string[], env?: NodeJS.ProcessEnv) {
  return run(TSX, ['scripts/simulate.ts', '--scenario', 'normal', '--target', target, ...args], {
    cwd: ROOT,
    timeout: 60_000,
    env,
  });
}

describe(`npm run simulate (${defaultBackend()})`, () => {
  let t: TestService;
  beforeAll(async () => {
    t = await startTestService(defaultBackend());
  }, 120_000);
  afterAll(async () => {
    await t?.stop();
  }, 60_000);

  it('writes the demo credentials to a 0600 file the simulator reads, and prints a summary', async () => {
    const file = t.service.config.devCredentialsFile;
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const { stdout } = await simulate(t.service.apiUrl, [
      '--rate',
      '8',
      '--duration',
      '2',
      '--credentials',
      file,
    ]);
    // Not a terminal: plain progress lines, then the summary.
    expect(stdout).toMatch(/\d+\/2s +\d+ req/);
    expect(stdout).toMatch(/^requests \d+/m);
    expect(stdout).toMatch(/^status +200:\d+/m);
    expect(stdout).toMatch(/^latency +p50 [\d.]+ ms +p95 [\d.]+ ms/m);
    for (const u of t.service.credentials!.users) expect(stdout).not.toContain(u.password);
  }, 90_000);

  it('finds the credentials where the service wrote them from DATA_DIR, as npm start does', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: t.dataDir };
    delete env.DEV_CREDENTIALS_FILE;
    const { stdout } = await simulate(t.service.apiUrl, ['--rate', '4', '--duration', '1'], env);
    expect(stdout).toMatch(/^status +200:\d+/m);
  }, 90_000);

  it('refuses bad arguments with the usage and exit code 2', async () => {
    const err = await run(TSX, ['scripts/simulate.ts', '--scenario', 'meltdown'], {
      cwd: ROOT,
      timeout: 30_000,
    }).catch((e: { code: number; stderr: string }) => e);
    expect((err as { code: number }).code).toBe(2);
    expect((err as { stderr: string }).stderr).toMatch(/Usage: npm run simulate/);
  }, 60_000);
});
