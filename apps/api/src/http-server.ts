import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Config } from '@assistant/config';

/**
 * Node server options of the API. Node checks the request and headers timeouts every
 * `connectionsCheckingInterval` (30 s by default), so it is 1 s here for the timeouts to hold.
 * Since Node 18 the headers timeout runs from a request's first byte, not from the idle
 * keep-alive, so it can stay short while `keepAliveTimeout` is long.
 */
export function serverOptionsOf(api: Config['api']) {
  return {
    requestTimeout: api.requestTimeoutMs,
    headersTimeout: api.headersTimeoutMs,
    keepAliveTimeout: api.keepAliveTimeoutMs,
    connectionsCheckingInterval: 1_000,
  };
}

function statusOf(error: NodeJS.ErrnoException): {
  status: number;
  reason: string;
  code: string;
  message: string;
} {
  if (error.code === 'HPE_HEADER_OVERFLOW')
    return {
      status: 431,
      reason: 'Request Header Fields Too Large',
      code: 'headers_too_large',
      message: 'request headers are too large',
    };
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT')
    return {
      status: 408,
      reason: 'Request Timeout',
      code: 'request_timeout',
      message: 'the request did not arrive in time',
    };
  return { status: 400, reason: 'Bad Request', code: 'bad_request', message: 'malformed HTTP request' };
}

/**
 * Answers what Node's HTTP parser rejects (malformed request, oversized headers, a request that
 * did not arrive in time) with the API's JSON error shape instead of Node's bare status line.
 */
export function answerClientErrors(server: Server): void {
  server.on('clientError', function onClientError(error: NodeJS.ErrnoException, socket: Duplex) {
    // A reset by the peer needs no answer; nor does a socket Node already answered on.
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const { status, reason, code, message } = statusOf(error);
    const body = JSON.stringify({ error: { code, message, request_id: randomUUID() } });
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
}
