/**
 * Reads docker-compose.yml into the few facts the deployment tests check: services, the container
 * ports each one listens on, its mounts and secrets. No Docker engine runs here, so these checks are
 * what stands between a typo in the compose file and a stack that does not start.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

export const repoRoot = join(__dirname, '..', '..');

export interface ComposeService {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  ports?: Array<string | number | { target: number; published?: string | number }>;
  expose?: Array<string | number>;
  volumes?: Array<string | { type?: string; source?: string; target: string }>;
  secrets?: Array<string | { source: string; target?: string }>;
  environment?: Record<string, string | number | boolean | null> | string[];
  healthcheck?: { test?: string | string[]; disable?: boolean };
  restart?: string;
  depends_on?: string[] | Record<string, { condition: string }>;
  entrypoint?: string | string[];
  command?: string | string[];
}

export interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
  secrets?: Record<string, { file?: string; environment?: string; external?: boolean }>;
}

export function loadComposeDocument(path = join(repoRoot, 'docker-compose.yml')): unknown {
  // `merge: true` resolves the `<<: *anchor` merge keys the file uses, as Compose does.
  return parse(readFileSync(path, 'utf8'), { merge: true });
}

/** Container-side TCP ports a service listens on, from `ports` (target side) and `expose`. */
export function containerPorts(service: ComposeService): Set<number> {
  const out = new Set<number>();
  for (const p of service.ports ?? []) {
    if (typeof p === 'number') out.add(p);
    else if (typeof p === 'object') out.add(p.target);
    else {
      const withoutProto = p.split('/')[0] ?? '';
      const target = withoutProto.split(':').pop() ?? '';
      const [from, to] = target.split('-').map(Number);
      if (from === undefined || Number.isNaN(from)) continue;
      for (let port = from; port <= (to ?? from); port++) out.add(port);
    }
  }
  for (const e of service.expose ?? []) out.add(Number(String(e).split('/')[0]));
  return out;
}

/** `(source, target)` pairs of bind mounts from the host (relative paths: files in the repository). */
export function bindMounts(service: ComposeService): Array<{ source: string; target: string }> {
  const out: Array<{ source: string; target: string }> = [];
  for (const v of service.volumes ?? []) {
    if (typeof v === 'object') {
      if (v.type === 'bind' && v.source) out.push({ source: v.source, target: v.target });
      continue;
    }
    const [source, target] = v.split(':');
    if (source === undefined || target === undefined) continue;
    // A named volume has no slash or dot prefix.
    if (source.startsWith('.') || source.startsWith('/')) out.push({ source, target });
  }
  return out;
}

/** Names of the secrets mounted into a service (at /run/secrets/<name> unless a target says otherwise). */
export function secretMounts(service: ComposeService): Map<string, string> {
  const out = new Map<string, string>();
  for (const s of service.secrets ?? []) {
    if (typeof s === 'string') out.set(`/run/secrets/${s}`, s);
    else {
      const target = s.target ?? s.source;
      out.set(target.startsWith('/') ? target : `/run/secrets/${target}`, s.source);
    }
  }
  return out;
}

/** Maps a container path to the repository path mounted there (longest mount prefix wins). */
export function resolveInContainer(service: ComposeService, containerPath: string): string | undefined {
  let best: { source: string; target: string } | undefined;
  for (const m of bindMounts(service)) {
    if (!m.source.startsWith('.')) continue;
    if (containerPath === m.target || containerPath.startsWith(`${m.target.replace(/\/$/, '')}/`)) {
      if (!best || m.target.length > best.target.length) best = m;
    }
  }
  if (!best) return undefined;
  return join(repoRoot, best.source, containerPath.slice(best.target.length));
}

/** `host:port` out of a URL or a bare `host:port` target. */
export function hostPort(target: string): { host: string; port: number } {
  const url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(target) ? target : `http://${target}`);
  const port = url.port !== '' ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  return { host: url.hostname, port };
}
