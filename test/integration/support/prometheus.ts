import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants, rmSync } from 'node:fs';
import path from 'node:path';
import { parse, stringify } from 'yaml';

/** The first executable called `name` on PATH, or undefined. */
export function findExecutable(name: string): string | undefined {
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter((d) => d !== '');
  for (const dir of dirs) {
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

interface ScrapeConfig {
  job_name: string;
  scrape_interval?: string;
  scrape_timeout?: string;
  static_configs?: { targets: string[] }[];
  [key: string]: unknown;
}

interface PrometheusConfig {
  global?: Record<string, unknown>;
  rule_files?: string[];
  scrape_configs?: ScrapeConfig[];
  [key: string]: unknown;
}

/**
 * The repository's prometheus.yml, changed only where a test must: every interval 1 s, rule files
 * resolved to absolute paths next to the source file, the `loyalty-engine` job scraping `engineTarget`
 * and the `prometheus` job scraping the test's own server.
 */
export function deriveTestConfig(
  sourceText: string,
  sourceDir: string,
  engineTarget: string,
  selfTarget: string,
): string {
  const config = parse(sourceText) as PrometheusConfig;
  config.global = { ...config.global, scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' };
  config.rule_files = (config.rule_files ?? []).map((f) => path.resolve(sourceDir, f));
  const jobs = config.scrape_configs ?? [];
  const engineJob = jobs.find((j) => j.job_name === 'loyalty-engine');
  if (engineJob === undefined) throw new Error('prometheus.yml has no scrape job "loyalty-engine"');
  for (const job of jobs) {
    job.scrape_interval = '1s';
    job.scrape_timeout = '1s';
  }
  engineJob.static_configs = [{ targets: [engineTarget] }];
  const selfJob = jobs.find((j) => j.job_name === 'prometheus');
  if (selfJob !== undefined) selfJob.static_configs = [{ targets: [selfTarget] }];
  return stringify(config);
}

export interface PrometheusServer {
  url: string;
  logs: string[];
  stop: () => Promise<void>;
}

/** Starts `bin` on 127.0.0.1:`port` with its TSDB in `dataDir`; resolves once /-/ready answers 200. */
export async function startPrometheus(
  bin: string,
  configFile: string,
  dataDir: string,
  port: number,
  readyTimeoutMs = 20_000,
): Promise<PrometheusServer> {
  const proc: ChildProcess = spawn(
    bin,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${dataDir}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--storage.tsdb.retention.time=1h',
      '--log.level=info',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const logs: string[] = [];
  for (const stream of [proc.stdout, proc.stderr]) {
    stream?.on('data', (chunk: Buffer) => {
      logs.push(
        ...chunk
          .toString('utf8')
          .split('\n')
          .filter((l) => l.trim() !== ''),
      );
      if (logs.length > 500) logs.splice(0, logs.length - 500);
    });
  }
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + readyTimeoutMs;
  while (true) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      await stop();
      throw new Error(`prometheus exited during start (code ${proc.exitCode}):\n${logs.slice(-20).join('\n')}`);
    }
    try {
      if ((await fetch(`${url}/-/ready`)).status === 200) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus not ready in ${readyTimeoutMs} ms:\n${logs.slice(-20).join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, logs, stop };
}

export interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

export type QueryAnswer =
  | { status: 'success'; data: { resultType: string; result: unknown } }
  | { status: 'error'; errorType: string; error: string };

/** An instant query through the HTTP API (form POST, so long expressions are fine). HTTP errors come back as status "error". */
export async function promQuery(url: string, expr: string): Promise<QueryAnswer> {
  const res = await fetch(`${url}/api/v1/query`, { method: 'POST', body: new URLSearchParams({ query: expr }) });
  const text = await res.text();
  try {
    return JSON.parse(text) as QueryAnswer;
  } catch {
    return { status: 'error', errorType: `http ${res.status}`, error: text.slice(0, 500) };
  }
}

/** An instant query that must succeed and return a vector; its samples. */
export async function promVector(url: string, expr: string): Promise<Sample[]> {
  const answer = await promQuery(url, expr);
  if (answer.status !== 'success') throw new Error(`query ${expr} failed: ${answer.errorType}: ${answer.error}`);
  if (answer.data.resultType !== 'vector')
    throw new Error(`query ${expr} returned ${answer.data.resultType}, not a vector`);
  return answer.data.result as Sample[];
}

export function promtool(bin: string, args: string[]): { code: number | null; output: string } {
  const r = spawnSync(bin, args, { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, output: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

export interface NamedExpr {
  where: string;
  expr: string;
}

/** Every `targets[].expr` of a Grafana dashboard, at any depth (rows, collapsed rows' panels, libraries). */
export function dashboardExprs(dashboard: unknown): NamedExpr[] {
  const out: NamedExpr[] = [];
  const walk = (node: unknown, where: string): void => {
    if (Array.isArray(node)) {
      node.forEach((x, i) => walk(x, `${where}[${i}]`));
      return;
    }
    if (node === null || typeof node !== 'object') return;
    const o = node as Record<string, unknown>;
    const here = typeof o.title === 'string' ? `${where} "${o.title}"` : where;
    if (Array.isArray(o.targets)) {
      for (const t of o.targets as unknown[]) {
        if (t !== null && typeof t === 'object' && typeof (t as { expr?: unknown }).expr === 'string') {
          const refId = (t as { refId?: unknown }).refId;
          out.push({ where: `${here} target ${String(refId ?? '?')}`, expr: (t as { expr: string }).expr });
        }
      }
    }
    for (const [k, v] of Object.entries(o)) if (k !== 'targets') walk(v, `${here}.${k}`);
  };
  walk(dashboard, 'dashboard');
  return out;
}

/** Every rule `expr` (alerting and recording) of a Prometheus rules file. */
export function ruleExprs(rulesText: string): NamedExpr[] {
  const doc = parse(rulesText) as {
    groups?: { name: string; rules?: { alert?: string; record?: string; expr?: unknown }[] }[];
  };
  const out: NamedExpr[] = [];
  for (const g of doc.groups ?? []) {
    for (const r of g.rules ?? []) {
      out.push({ where: `group ${g.name} rule ${r.alert ?? r.record ?? '?'}`, expr: String(r.expr) });
    }
  }
  return out;
}

/** Grafana's built-in interval variables, replaced as Grafana would with a fixed window. */
export function withoutGrafanaVariables(expr: string): string {
  return expr
    .replace(/\$\{?__(interval|range)_ms\}?/g, '60000')
    .replace(/\$\{?(__rate_interval|__interval|__range)(?::[a-z]+)?\}?/g, '1m');
}

/** Metric names used in selectors (`name{...}`). */
export function selectorNames(expr: string): string[] {
  return [...expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{/g)].map((m) => m[1]!);
}

/** Series names a /metrics exposition can produce: every TYPE'd family, with histogram/summary suffixes. */
export function exposedNames(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const m of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, type] = m as unknown as [string, string, string];
    names.add(name);
    if (type === 'histogram') ['_bucket', '_sum', '_count'].forEach((s) => names.add(name + s));
    if (type === 'summary') ['_sum', '_count'].forEach((s) => names.add(name + s));
  }
  return names;
}

export interface RuleGroup {
  name: string;
  file: string;
  rules: { name: string; type: string; query: string; health: string; lastError?: string; state?: string }[];
}

/** The rule groups Prometheus loaded (`/api/v1/rules`), with each rule's health and alert state. */
export async function promRules(url: string): Promise<RuleGroup[]> {
  const answer = (await (await fetch(`${url}/api/v1/rules`)).json()) as {
    status: string;
    data?: { groups: RuleGroup[] };
    error?: string;
  };
  if (answer.status !== 'success' || answer.data === undefined)
    throw new Error(`rules API: ${answer.error ?? answer.status}`);
  return answer.data.groups;
}
