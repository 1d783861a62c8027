// The only module that touches uWebSockets.js: the rest of the code sees plain requests and responses.
import uWS from 'uWebSockets.js';

export interface Request {
  method: string;
  url: string;
  query: string;
  params: string[];
  header: (name: string) => string;
}

export interface Response {
  status: number;
  contentType?: string;
  body: string;
}

export interface Route {
  method: 'get' | 'post';
  /** uWS pattern, e.g. /points/:user_id */
  pattern: string;
  /** Low-cardinality name for metrics. */
  name: string;
  handler: (req: Request) => Response | Promise<Response>;
}

export interface HttpServer {
  port: number;
  close: () => void;
}

const STATUS_TEXT: Record<number, string> = {
  200: '200 OK', 202: '202 Accepted', 400: '400 Bad Request', 404: '404 Not Found', 405: '405 Method Not Allowed',
  413: '413 Payload Too Large', 415: '415 Unsupported Media Type', 500: '500 Internal Server Error', 503: '503 Service Unavailable',
};

export const json = (status: number, value: unknown): Response => ({ status, contentType: 'application/json', body: JSON.stringify(value) });
export const errorJson = (status: number, error: string, detail: string): Response => json(status, { error, detail });

export function startHttpServer(
  host: string,
  port: number,
  routes: Route[],
  observe: (route: string, status: number, seconds: number) => void,
): Promise<HttpServer> {
  const app = uWS.App();
  const paramCounts = new Map<string, number>();
  for (const r of routes) paramCounts.set(r.pattern, (r.pattern.match(/\/:/g) ?? []).length);

  for (const route of routes) {
    app[route.method](route.pattern, (res, req) => {
      const started = performance.now();
      let aborted = false;
      res.onAborted(() => {
        aborted = true;
      });
      // uWS request objects die with this callback: copy what handlers need first.
      const headers = new Map<string, string>();
      req.forEach((k, v) => headers.set(k, v));
      const n = paramCounts.get(route.pattern) ?? 0;
      const params: string[] = [];
      for (let i = 0; i < n; i++) params.push(req.getParameter(i) ?? '');
      const request: Request = { method: req.getMethod(), url: req.getUrl(), query: req.getQuery() ?? '', params, header: (k) => headers.get(k) ?? '' };
      const send = (out: Response): void => {
        observe(route.name, out.status, (performance.now() - started) / 1000);
        if (aborted) return;
        res.cork(() => {
          res.writeStatus(STATUS_TEXT[out.status] ?? String(out.status)).writeHeader('content-type', out.contentType ?? 'application/json').end(out.body);
        });
      };
      try {
        const out = route.handler(request);
        if (out instanceof Promise) out.then(send, (e: unknown) => send(errorJson(500, 'internal', e instanceof Error ? e.message : 'error')));
        else send(out);
      } catch (e) {
        send(errorJson(500, 'internal', e instanceof Error ? e.message : 'error'));
      }
    });
    // The path exists but not for this method.
    app.any(route.pattern, (res) => {
      res.writeStatus(STATUS_TEXT[405]!).writeHeader('content-type', 'application/json').end(JSON.stringify({ error: 'method_not_allowed', detail: `use ${route.method.toUpperCase()}` }));
    });
  }
  app.any('/*', (res) => {
    res.writeStatus(STATUS_TEXT[404]!).writeHeader('content-type', 'application/json').end(JSON.stringify({ error: 'not_found', detail: 'no such route' }));
  });

  return new Promise((resolve, reject) => {
    app.listen(host, port, (socket) => {
      if (!socket) return reject(new Error(`cannot listen on ${host}:${port} (in use, or not an address of this machine): set HTTP_PORT / HTTP_HOST`));
      resolve({ port: uWS.us_socket_local_port(socket), close: () => uWS.us_listen_socket_close(socket) });
    });
  });
}
