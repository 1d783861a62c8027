// The only module that touches uWebSockets.js: the rest of the code sees plain requests and responses.
import uWS from 'uWebSockets.js';
import { errorText } from '../errors.js';

export interface Request {
  method: string;
  url: string;
  query: string;
  params: string[];
  /** A request header by name (any case); '' when absent. */
  header: (name: string) => string;
  /** The request body for routes with `maxBodyBytes` (read in full before the handler runs); empty otherwise. */
  body: Buffer;
}

export interface Response {
  status: number;
  contentType?: string;
  /** Extra response headers (lower-case names). */
  headers?: Record<string, string>;
  body: string;
}

export interface Route {
  method: 'get' | 'post';
  /** uWS pattern, e.g. /points/:user_id */
  pattern: string;
  /** Low-cardinality name for metrics. */
  name: string;
  handler: (req: Request) => Response | Promise<Response>;
  /**
   * Read the body before calling the handler, at most this many bytes: a larger body (announced by
   * content-length or found while reading) is answered 413 and the connection closed, so it is never
   * buffered past the limit.
   */
  maxBodyBytes?: number;
  /** Checked before the body is read (auth, content type): an answer here means the body is never read. */
  beforeBody?: (req: Request) => Response | undefined;
}

/** uWS's LIBUS_LISTEN_EXCLUSIVE_PORT (declared as an ambient enum in its typings, so not importable as a value). */
const LISTEN_EXCLUSIVE_PORT = 1;
type ListenWithOptions = (
  host: string,
  port: number,
  options: number,
  cb: (socket: uWS.us_listen_socket | false) => void,
) => void;

/** The port is taken (by anything, including another engine) or the host is not an address of this machine. */
export class ListenError extends Error {
  constructor(
    readonly host: string,
    readonly port: number,
  ) {
    super(
      `cannot listen on ${host}:${port}: the port is in use or the address is not this machine's; set HTTP_PORT (or HTTP_HOST)`,
    );
  }
}

export interface HttpServer {
  port: number;
  close: () => void;
}

const STATUS_TEXT: Record<number, string> = {
  200: '200 OK',
  202: '202 Accepted',
  400: '400 Bad Request',
  401: '401 Unauthorized',
  404: '404 Not Found',
  405: '405 Method Not Allowed',
  413: '413 Payload Too Large',
  415: '415 Unsupported Media Type',
  500: '500 Internal Server Error',
  503: '503 Service Unavailable',
};

/** Recorded for requests whose client went away before the answer (nginx's "client closed request"). */
export const ABORTED_STATUS = 499;

export const json = (status: number, value: unknown): Response => ({
  status,
  contentType: 'application/json',
  body: JSON.stringify(value),
});
export const errorJson = (
  status: number,
  error: string,
  detail: string,
  extra?: { headers?: Record<string, string>; fields?: Record<string, unknown> },
): Response => {
  const out = json(status, { error, detail, ...extra?.fields });
  if (extra?.headers) out.headers = extra.headers;
  return out;
};

const EMPTY = Buffer.alloc(0);

/** Writes a whole answer. `res` must not have been answered or aborted. */
function write(res: uWS.HttpResponse, out: Response, closeConnection: boolean): void {
  res.cork(() => {
    res
      .writeStatus(STATUS_TEXT[out.status] ?? String(out.status))
      .writeHeader('content-type', out.contentType ?? 'application/json');
    if (out.headers) for (const [k, v] of Object.entries(out.headers)) res.writeHeader(k, v);
    res.end(out.body, closeConnection);
  });
}

export function startHttpServer(
  host: string,
  port: number,
  routes: Route[],
  observe: (route: string, status: number, seconds: number) => void,
): Promise<HttpServer> {
  const app = uWS.App();
  const paramCounts = new Map<string, number>();
  const methodsByPattern = new Map<string, { name: string; methods: string[] }>();
  for (const r of routes) {
    paramCounts.set(r.pattern, (r.pattern.match(/\/:/g) ?? []).length);
    const m = methodsByPattern.get(r.pattern) ?? { name: r.name, methods: [] };
    m.methods.push(r.method.toUpperCase());
    methodsByPattern.set(r.pattern, m);
  }

  for (const route of routes) {
    app[route.method](route.pattern, (res, req) => {
      const started = performance.now();
      // `res` is valid until it is answered or aborted: `done` says it must not be touched again.
      let done = false;
      res.onAborted(() => {
        if (done) return;
        done = true;
        observe(route.name, ABORTED_STATUS, (performance.now() - started) / 1000);
      });
      // uWS request objects die with this callback: copy what handlers need first.
      const headers = new Map<string, string>();
      req.forEach((k, v) => headers.set(k, v));
      const n = paramCounts.get(route.pattern) ?? 0;
      const params: string[] = [];
      for (let i = 0; i < n; i++) params.push(req.getParameter(i) ?? '');
      const request: Request = {
        method: req.getMethod(),
        url: req.getUrl(),
        query: req.getQuery() ?? '',
        params,
        header: (k) => headers.get(k.toLowerCase()) ?? '',
        body: EMPTY,
      };
      const send = (out: Response, closeConnection = false): void => {
        if (done) return; // aborted (already counted): nothing may be written
        done = true;
        observe(route.name, out.status, (performance.now() - started) / 1000);
        write(res, out, closeConnection);
      };
      const fail = (e: unknown): void => send(errorJson(500, 'internal', errorText(e)));
      const run = (): void => {
        try {
          const out = route.handler(request);
          if (out instanceof Promise) out.then((r) => send(r), fail);
          else send(out);
        } catch (e) {
          fail(e);
        }
      };

      const limit = route.maxBodyBytes;
      if (limit === undefined) return run();
      const declared = headers.get('content-length');
      // When a body follows that we will not read, answer and close rather than parse what is left of it.
      const bodyFollows = Number(declared) > 0 || headers.has('transfer-encoding');
      const early = route.beforeBody?.(request);
      if (early) return send(early, bodyFollows);
      if (declared !== undefined && Number(declared) > limit) {
        return send(
          errorJson(413, 'payload_too_large', `body is ${declared} bytes; at most ${limit} are accepted`),
          true,
        );
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.onData((chunk, isLast) => {
        if (done) return;
        size += chunk.byteLength;
        if (size > limit) return send(errorJson(413, 'payload_too_large', `body is over ${limit} bytes`), true);
        // The chunk's memory belongs to uWS and is reused after this callback: copy it.
        if (chunk.byteLength > 0) chunks.push(Buffer.from(new Uint8Array(chunk)));
        if (isLast) {
          request.body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
          run();
        }
      });
    });
  }
  // The path exists but not for this method.
  for (const [pattern, { name, methods }] of methodsByPattern) {
    app.any(pattern, (res) => {
      observe(name, 405, 0);
      write(
        res,
        errorJson(405, 'method_not_allowed', `use ${methods.join(' or ')}`, { headers: { allow: methods.join(', ') } }),
        false,
      );
    });
  }
  app.any('/*', (res) => {
    observe('unmatched', 404, 0);
    write(res, errorJson(404, 'not_found', 'no such route'), false);
  });

  return new Promise((resolve, reject) => {
    // Exclusive: by default uWS sets SO_REUSEPORT, and a second engine on the same port would silently share
    // its requests (balances answered by whichever process the kernel picked). The typings lack this overload.
    (app.listen as unknown as ListenWithOptions)(host, port, LISTEN_EXCLUSIVE_PORT, (socket) => {
      if (!socket) return reject(new ListenError(host, port));
      resolve({ port: uWS.us_socket_local_port(socket), close: () => uWS.us_listen_socket_close(socket) });
    });
  });
}
