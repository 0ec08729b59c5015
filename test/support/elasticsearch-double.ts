/**
 * A local Elasticsearch double for tests. It enforces the documented `_bulk` contract rather than
 * accepting anything: NDJSON with an action line and a source line per document, a trailing
 * newline, Content-Type application/x-ndjson or application/json (or the versioned vnd types the
 * 8.x client may send), `index`/`create` actions, http.max_content_length (413), per-item errors
 * with `errors: true`, and `took`/`errors`/`items` in the answer. Every answer carries the
 * `X-Elastic-Product: Elasticsearch` header, which the 8.x client checks.
 *
 * Endpoints the client and pino-elasticsearch call: `HEAD /` (ping), `GET /` (info), `POST|PUT
 * /_bulk` and `/{index}/_bulk`, and `POST /{index}/_refresh` (the bulk helper's refresh on
 * completion). Anything else is a 404 in Elasticsearch's error shape.
 *
 * Outages: `down('refuse')` closes the listener and every socket (connection refused), `down('503')`
 * answers 503 to everything, `down('hang')` accepts requests and never answers (an overloaded
 * node), `down('429')` answers every `_bulk` with 429 es_rejected_execution_exception (indexing
 * pressure: the node is up, pings succeed); `up()` restores service on the same port (hung
 * requests are cut). Options answer 429 to the first N `_bulk` requests, or to some documents
 * every time (item-level 429, what the bulk helper retries).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { randomUUID } from 'node:crypto';

export interface StoredDocument {
  index: string;
  id: string;
  source: Record<string, unknown>;
}

export interface BulkRequestRecord {
  method: string;
  path: string;
  contentType: string | undefined;
  status: number;
  documents: number;
  /** Epoch ms when the request was answered. */
  at: number;
}

export interface ElasticsearchDoubleOptions {
  /** http.max_content_length in bytes (Elasticsearch default 100 MB). */
  maxContentLength?: number;
  /** Documents for which an item-level error is answered (mapper_parsing_exception, status 400). */
  rejectDocument?: (source: Record<string, unknown>) => boolean;
  /** The first this many `_bulk` requests are answered 429 es_rejected_execution_exception. */
  overloadedBulkRequests?: number;
  /** Retry-After header value sent with those whole-request 429s (and with `down('429')`). */
  retryAfter?: string;
  /** Documents answered with an item-level 429 (es_rejected_execution_exception) every time. */
  overloadDocument?: (source: Record<string, unknown>) => boolean;
}

export interface ElasticsearchDouble {
  readonly url: string;
  readonly port: number;
  documents(index?: string): StoredDocument[];
  requests(): BulkRequestRecord[];
  down(mode: 'refuse' | '503' | 'hang' | '429'): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

const ACCEPTED_TYPES = [
  'application/x-ndjson',
  'application/json',
  'application/vnd.elasticsearch+x-ndjson',
  'application/vnd.elasticsearch+json',
];
const INDEX_NAME = /^[a-z0-9][a-z0-9_.+-]*$/;

function send(res: ServerResponse, status: number, body?: unknown, retryAfter?: string): void {
  res.setHeader('X-Elastic-Product', 'Elasticsearch');
  if (retryAfter !== undefined) res.setHeader('Retry-After', retryAfter);
  if (body === undefined) {
    res.writeHead(status).end();
    return;
  }
  const text = JSON.stringify(body);
  res
    .writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
    .end(text);
}

function esError(status: number, type: string, reason: string): Record<string, unknown> {
  return { error: { root_cause: [{ type, reason }], type, reason }, status };
}

export async function startElasticsearchDouble(
  opts: ElasticsearchDoubleOptions = {},
): Promise<ElasticsearchDouble> {
  const maxContentLength = opts.maxContentLength ?? 100 * 1024 * 1024;
  const docs: StoredDocument[] = [];
  const log: BulkRequestRecord[] = [];
  const sockets = new Set<Socket>();
  let mode: 'up' | '503' | 'refuse' | 'hang' | '429' = 'up';
  let overloadedLeft = opts.overloadedBulkRequests ?? 0;
  const hung = new Set<ServerResponse>();
  let port = 0;

  function bulk(
    req: IncomingMessage,
    res: ServerResponse,
    body: Buffer,
    pathIndex: string | undefined,
  ): void {
    const started = Date.now();
    const record: BulkRequestRecord = {
      method: req.method ?? '',
      path: req.url ?? '',
      contentType: req.headers['content-type'],
      status: 0,
      documents: 0,
      at: 0,
    };
    log.push(record);
    const answer = (status: number, payload: unknown, retryAfter?: string): void => {
      record.status = status;
      record.at = Date.now();
      send(res, status, payload, retryAfter);
    };
    // Indexing pressure rejects the whole request before reading it.
    if (mode === '429' || overloadedLeft > 0) {
      if (mode !== '429') overloadedLeft--;
      return answer(
        429,
        esError(
          429,
          'es_rejected_execution_exception',
          'rejected execution of coordinating operation [coordinating_and_primary_bytes=0, replica_bytes=0, all_bytes=0, coordinating_operation_bytes=1, max_coordinating_and_primary_bytes=0]',
        ),
        opts.retryAfter,
      );
    }
    const mediaType = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (!ACCEPTED_TYPES.includes(mediaType)) {
      return answer(406, {
        error: `Content-Type header [${req.headers['content-type'] ?? ''}] is not supported`,
        status: 406,
      });
    }
    const text = body.toString('utf8');
    if (text.length === 0)
      return answer(
        400,
        esError(400, 'action_request_validation_exception', 'Validation Failed: 1: no requests added;'),
      );
    if (!text.endsWith('\n')) {
      return answer(
        400,
        esError(400, 'illegal_argument_exception', 'The bulk request must be terminated by a newline [\\n]'),
      );
    }
    const lines = text.slice(0, -1).split('\n');
    const items: Array<Record<string, unknown>> = [];
    let errors = false;
    for (let i = 0; i < lines.length; i += 2) {
      let action: unknown;
      try {
        action = JSON.parse(lines[i]!);
      } catch {
        return answer(
          400,
          esError(400, 'x_content_parse_exception', `[${i + 1}:1] Malformed action/metadata line`),
        );
      }
      const keys = action && typeof action === 'object' ? Object.keys(action) : [];
      const op = keys[0];
      if (keys.length !== 1 || (op !== 'index' && op !== 'create')) {
        return answer(
          400,
          esError(
            400,
            'illegal_argument_exception',
            `Malformed action/metadata line [${i + 1}], expected one of [create, index] in this double but found [${op ?? ''}]`,
          ),
        );
      }
      const meta = ((action as Record<string, unknown>)[op] ?? {}) as Record<string, unknown>;
      const index = typeof meta._index === 'string' ? meta._index : pathIndex;
      if (!index || !INDEX_NAME.test(index)) {
        return answer(
          400,
          esError(
            400,
            'action_request_validation_exception',
            `Validation Failed: 1: index is missing or invalid at line [${i + 1}];`,
          ),
        );
      }
      const sourceLine = lines[i + 1];
      if (sourceLine === undefined) {
        return answer(
          400,
          esError(
            400,
            'illegal_argument_exception',
            `The bulk request must be terminated by a newline [\\n] (no source for action at line [${i + 1}])`,
          ),
        );
      }
      record.documents++;
      let source: unknown;
      try {
        source = JSON.parse(sourceLine);
      } catch {
        source = undefined;
      }
      const id = typeof meta._id === 'string' ? meta._id : randomUUID();
      if (
        !source ||
        typeof source !== 'object' ||
        Array.isArray(source) ||
        opts.rejectDocument?.(source as Record<string, unknown>)
      ) {
        errors = true;
        items.push({
          [op]: {
            _index: index,
            _id: id,
            status: 400,
            error: { type: 'mapper_parsing_exception', reason: 'failed to parse' },
          },
        });
        continue;
      }
      if (opts.overloadDocument?.(source as Record<string, unknown>)) {
        errors = true;
        items.push({
          [op]: {
            _index: index,
            _id: id,
            status: 429,
            error: {
              type: 'es_rejected_execution_exception',
              reason: 'rejected execution of primary operation',
            },
          },
        });
        continue;
      }
      if (op === 'create' && docs.some((d) => d.index === index && d.id === id)) {
        errors = true;
        items.push({
          [op]: {
            _index: index,
            _id: id,
            status: 409,
            error: {
              type: 'version_conflict_engine_exception',
              reason: `[${id}]: version conflict, document already exists`,
            },
          },
        });
        continue;
      }
      docs.push({ index, id, source: source as Record<string, unknown> });
      items.push({
        [op]: {
          _index: index,
          _id: id,
          _version: 1,
          result: 'created',
          _shards: { total: 1, successful: 1, failed: 0 },
          _seq_no: docs.length - 1,
          _primary_term: 1,
          status: 201,
        },
      });
    }
    answer(200, { took: Date.now() - started, errors, items });
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > maxContentLength) tooLarge = true;
      else chunks.push(c);
    });
    req.on('end', () => {
      if (mode === 'hang') {
        hung.add(res);
        return;
      }
      if (mode === '503') {
        return send(
          res,
          503,
          esError(
            503,
            'cluster_block_exception',
            'blocked by: [SERVICE_UNAVAILABLE/1/state not recovered / initialized];',
          ),
        );
      }
      if (tooLarge) {
        return send(
          res,
          413,
          esError(
            413,
            'content_too_long_exception',
            `entity content is too long [${size}] for the configured buffer limit [${maxContentLength}]`,
          ),
        );
      }
      const url = new URL(req.url ?? '/', 'http://double');
      const parts = url.pathname.split('/').filter((p) => p.length > 0);
      const method = req.method ?? 'GET';
      if (parts.length === 0 && (method === 'HEAD' || method === 'GET')) {
        if (method === 'HEAD') return send(res, 200);
        return send(res, 200, {
          name: 'double',
          cluster_name: 'test-double',
          cluster_uuid: 'double-cluster',
          version: {
            number: '8.15.0',
            build_flavor: 'default',
            lucene_version: '9.11.1',
            minimum_wire_compatibility_version: '7.17.0',
          },
          tagline: 'You Know, for Search',
        });
      }
      const last = parts[parts.length - 1];
      if (last === '_bulk' && parts.length <= 2 && (method === 'POST' || method === 'PUT')) {
        return bulk(req, res, Buffer.concat(chunks), parts.length === 2 ? parts[0] : undefined);
      }
      if (last === '_refresh' && (method === 'POST' || method === 'GET')) {
        return send(res, 200, { _shards: { total: 1, successful: 1, failed: 0 } });
      }
      send(
        res,
        404,
        esError(
          404,
          'no_handler_found_exception',
          `no handler found for uri [${url.pathname}] and method [${method}]`,
        ),
      );
    });
  }

  let server: Server = createServer(handle);
  const listen = async (): Promise<void> => {
    server = createServer(handle);
    server.on('connection', (s: Socket) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    port = (server.address() as { port: number }).port;
  };
  const cutHung = (): void => {
    for (const res of hung) res.socket?.destroy();
    hung.clear();
  };
  const stop = async (): Promise<void> => {
    cutHung();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of sockets) s.destroy();
    await closed;
  };
  await listen();

  return {
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    documents: (index) => (index ? docs.filter((d) => d.index === index) : [...docs]),
    requests: () => [...log],
    async down(newMode) {
      if (newMode === 'refuse' && mode !== 'refuse') await stop();
      mode = newMode;
    },
    async up() {
      cutHung();
      if (mode === 'refuse') await listen();
      mode = 'up';
    },
    async close() {
      if (mode !== 'refuse') await stop();
      mode = 'refuse';
    },
  };
}
