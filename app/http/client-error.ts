/**
 * Errors Node's HTTP parser raises before a request reaches the app (headers too large, a malformed
 * request, a request timeout) answered in the API's error shape and with its security headers,
 * instead of Node's bare status line. Mirrors Node's own handler otherwise: an answer only when
 * nothing of a response was sent on the socket yet, and then the connection is closed.
 */
import type { Socket } from 'node:net';
import type { Server, ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import { errorBody } from './errors';

const ANSWERS: Record<string, [number, string, string, string]> = {
  HPE_HEADER_OVERFLOW: [
    431,
    'Request Header Fields Too Large',
    'headers_too_large',
    'The request headers are too large',
  ],
  HPE_CHUNK_EXTENSIONS_OVERFLOW: [
    413,
    'Payload Too Large',
    'payload_too_large',
    'The request body is too large',
  ],
  ERR_HTTP_REQUEST_TIMEOUT: [
    408,
    'Request Timeout',
    'request_timeout',
    'The request was not received in time',
  ],
};
const BAD_REQUEST: [number, string, string, string] = [
  400,
  'Bad Request',
  'bad_request',
  'The request could not be parsed',
];

/**
 * The headers `middleware` sets on every response (helmet's security headers, Cache-Control), read
 * once by running it against a recording response, so that these answers cannot drift from it.
 */
export function headersOf(middleware: RequestHandler[]): Record<string, string> {
  const headers: Record<string, string> = {};
  const res = {
    setHeader(name: string, value: unknown) {
      headers[name.toLowerCase()] = String(value);
      return res;
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()];
    },
    getHeader: (name: string) => headers[name.toLowerCase()],
    set(name: string, value: unknown) {
      return res.setHeader(name, value);
    },
  };
  for (const m of middleware) void m({ headers: {} } as never, res as never, () => undefined);
  return headers;
}

/** The raw response for `code` (a parser error's), with `headers` and the JSON error body. */
export function clientErrorResponse(code: string | undefined, headers: Record<string, string>): string {
  const [status, reason, errorCode, message] =
    (code !== undefined ? ANSWERS[code] : undefined) ?? BAD_REQUEST;
  const body = JSON.stringify(errorBody(errorCode, message));
  const lines = [
    `HTTP/1.1 ${status} ${reason}`,
    'Connection: close',
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
  ];
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

/** server.on('clientError', …) with the API's answers. */
export function answerClientErrors(server: Server, headers: Record<string, string>): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    const inFlight = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
    if (err.code !== 'ECONNRESET' && socket.writable && (!inFlight || !inFlight.headersSent)) {
      socket.write(clientErrorResponse(err.code, headers));
    }
    socket.destroy(err);
  });
}
