/**
 * The compose PostgreSQL's TLS set-up, proven with the real PostgreSQL 15 binaries instead of Docker:
 * certificates from deploy/make-dev-secrets.sh, the server settings of deploy/postgres/start-with-tls.sh
 * and deploy/postgres/pg_hba.conf, and a client configured exactly like the compose `app` service
 * (DATABASE_URL with sslmode=verify-full, PGPASSWORD, NODE_EXTRA_CA_CERTS).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../deploy/local-stack/processes';
import { loadComposeDocument, repoRoot, type ComposeFile } from './compose-model';

const BIN = '/usr/lib/postgresql/15/bin';
const canRun = existsSync(join(BIN, 'postgres')) && process.getuid?.() === 0 && hasUser('postgres');

function hasUser(name: string): boolean {
  try {
    execFileSync('id', ['-u', name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** PostgreSQL refuses to run as root: its processes run as the `postgres` user, spawned directly (no
 * runuser in between, so that our signals reach the server). */
const postgresIds = () => ({
  uid: Number(execFileSync('id', ['-u', 'postgres']).toString()),
  gid: Number(execFileSync('id', ['-g', 'postgres']).toString()),
});
const asPostgres = (cmd: string, args: string[]) =>
  execFileSync(cmd, args, { stdio: 'pipe', ...postgresIds() });

/** The `-c name=value` settings start-with-tls.sh passes, with its paths mapped to this test's files. */
function serverSettings(tlsDir: string, deployDir = join(repoRoot, 'deploy')): string[] {
  const script = readFileSync(join(repoRoot, 'deploy/postgres/start-with-tls.sh'), 'utf8');
  const settings = [...script.matchAll(/-c ([a-z_]+)=("?)([^"\s\\]+)\2/g)].map((m) => `${m[1]}=${m[3]}`);
  return settings.map((s) =>
    s
      .replace('$tls_dir', tlsDir)
      .replace('/etc/postgresql/pg_hba.conf', join(deployDir, 'postgres/pg_hba.conf')),
  );
}

/** Runs a query in a child Node process configured through the environment only, like the container. */
function clientQuery(env: Record<string, string>): { ok: boolean; out: string } {
  const code = `
    const { Client } = require('pg');
    const c = new Client({ connectionString: process.env.DATABASE_URL, connectionTimeoutMillis: 5000 });
    c.connect()
      .then(() => c.query('SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()'))
      .then((r) => { console.log(JSON.stringify(r.rows[0])); return c.end(); })
      .catch((e) => { console.log('ERROR ' + e.message); process.exitCode = 1; });`;
  try {
    const out = execFileSync(process.execPath, ['-e', code], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH ?? '', ...env },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return { ok: true, out: out.trim() };
  } catch (err) {
    return { ok: false, out: String((err as { stdout?: string }).stdout ?? '').trim() };
  }
}

(canRun ? describe : describe.skip)('compose PostgreSQL TLS (real PostgreSQL 15)', () => {
  let dir: string;
  let server: ChildProcess | undefined;
  let port: number;
  let password: string;
  let ca: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pg-tls-'));
    chmodSync(dir, 0o755);
    cpSync(join(repoRoot, 'deploy'), join(dir, 'deploy'), { recursive: true });
    execFileSync('sh', [join(dir, 'deploy/make-dev-secrets.sh')], { stdio: 'pipe' });
    password = readFileSync(join(dir, 'secrets/postgres_password'), 'utf8');
    ca = join(dir, 'secrets/postgres_tls_ca.crt');
    // What start-with-tls.sh does: the key copied with the owner and mode PostgreSQL demands.
    const tls = join(dir, 'tls');
    execFileSync('install', ['-d', '-m', '0700', '-o', 'postgres', '-g', 'postgres', tls]);
    execFileSync('install', [
      '-m',
      '0600',
      '-o',
      'postgres',
      '-g',
      'postgres',
      join(dir, 'secrets/postgres_tls_server.key'),
      join(tls, 'server.key'),
    ]);
    execFileSync('install', [
      '-m',
      '0644',
      '-o',
      'postgres',
      '-g',
      'postgres',
      join(dir, 'secrets/postgres_tls_server.crt'),
      join(tls, 'server.crt'),
    ]);
    const pwfile = join(dir, 'pwfile');
    writeFileSync(pwfile, password);
    chownSync(pwfile, postgresIds().uid, 0);
    const data = join(dir, 'data');
    execFileSync('install', ['-d', '-m', '0700', '-o', 'postgres', '-g', 'postgres', data]);
    // As the image's entrypoint does with POSTGRES_INITDB_ARGS from docker-compose.yml.
    const compose = loadComposeDocument() as ComposeFile;
    const initArgs = String(
      (compose.services.postgres?.environment as Record<string, string>).POSTGRES_INITDB_ARGS,
    ).split(/\s+/);
    asPostgres(join(BIN, 'initdb'), ['-D', data, '-U', 'telehealth', `--pwfile=${pwfile}`, ...initArgs]);
    port = await freePort();
    const socketDir = join(dir, 'socket');
    execFileSync('install', ['-d', '-m', '0700', '-o', 'postgres', '-g', 'postgres', socketDir]);
    const args = ['-D', data, '-p', String(port), '-k', socketDir, '-c', 'listen_addresses=127.0.0.1'];
    // The copied deploy/ folder: the server user may not be able to read the work tree.
    for (const s of serverSettings(tls, join(dir, 'deploy'))) args.push('-c', s);
    server = spawn(join(BIN, 'postgres'), args, { stdio: ['ignore', 'ignore', 'pipe'], ...postgresIds() });
    let stderr = '';
    server.stderr?.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
    for (let i = 0; i < 100; i++) {
      try {
        execFileSync(join(BIN, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    throw new Error(`PostgreSQL did not start: ${stderr}`);
  });

  afterAll(async () => {
    if (server && server.exitCode === null) {
      const exited = new Promise((r) => server?.once('exit', r));
      server.kill('SIGINT'); // PostgreSQL's fast shutdown
      const killer = setTimeout(() => server?.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killer);
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('applies every setting of start-with-tls.sh (ssl on, TLS 1.2+, SCRAM, the pg_hba.conf)', () => {
    const settings = serverSettings('/x');
    expect(settings).toEqual(
      expect.arrayContaining([
        'ssl=on',
        'ssl_min_protocol_version=TLSv1.2',
        'password_encryption=scram-sha-256',
      ]),
    );
    expect(settings.some((s) => s.startsWith('hba_file='))).toBe(true);
  });

  it('accepts the compose client over verified TLS', () => {
    const r = clientQuery({
      DATABASE_URL: `postgres://telehealth@localhost:${port}/postgres?sslmode=verify-full`,
      PGPASSWORD: password,
      NODE_EXTRA_CA_CERTS: ca,
    });
    expect(r.out).toMatch(/^\{"ssl":true,"version":"TLSv1\.[23]"\}$/);
    expect(r.ok).toBe(true);
  });

  it('refuses a connection without TLS (pg_hba.conf: hostnossl reject)', () => {
    const r = clientQuery({
      DATABASE_URL: `postgres://telehealth@localhost:${port}/postgres?sslmode=disable`,
      PGPASSWORD: password,
    });
    expect(r.ok).toBe(false);
    expect(r.out).toMatch(/no pg_hba\.conf entry|no encryption/);
  });

  it('refuses a server certificate that does not chain to the trusted CA', () => {
    const r = clientQuery({
      DATABASE_URL: `postgres://telehealth@localhost:${port}/postgres?sslmode=verify-full`,
      PGPASSWORD: password,
    });
    expect(r.ok).toBe(false);
    expect(r.out).toMatch(/self[- ]signed|unable to verify|certificate/i);
  });

  it('refuses a wrong password (SCRAM, no trust)', () => {
    const r = clientQuery({
      DATABASE_URL: `postgres://telehealth@localhost:${port}/postgres?sslmode=verify-full`,
      PGPASSWORD: 'not-the-password',
      NODE_EXTRA_CA_CERTS: ca,
    });
    expect(r.ok).toBe(false);
    expect(r.out).toMatch(/password authentication failed/);
  });
});
