import { freePort } from '../support/free-port.js';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT_DIR } from '../../tools/stack/paths.js';
import { engineEnv, startEngineProcess, type EngineProcess } from './support/engine-process.js';
import {
  dashboardExprs,
  deriveTestConfig,
  exposedNames,
  findExecutable,
  promQuery,
  promRules,
  promtool,
  promVector,
  ruleExprs,
  selectorNames,
  startPrometheus,
  withoutGrafanaVariables,
  type PrometheusServer,
} from './support/prometheus.js';
import { produceScenario, waitForDrain } from './support/scenario.js';
import { freshDatabase, freshTopic, waitFor } from './support/stack.js';

const PROMETHEUS = findExecutable('prometheus');
const PROMTOOL = findExecutable('promtool');
const SKIP_REASON = 'no `prometheus` binary on PATH: install it with "apt-get install -y prometheus" (CI does)';
if (PROMETHEUS === undefined) console.warn(`[prometheus.test] SKIPPED: ${SKIP_REASON}`);

const PROMETHEUS_YML = path.join(ROOT_DIR, 'monitoring/prometheus/prometheus.yml');
const ALERTS_YML = path.join(ROOT_DIR, 'monitoring/prometheus/alerts.yml');
const DASHBOARD_JSON = path.join(ROOT_DIR, 'monitoring/grafana/dashboards/loyalty-engine.json');

const PARTITIONS = 3;
// Consumed before Prometheus starts, then while it scrapes (so counters move under its eyes).
const BEFORE = 2_000;
const DURING = 1_000;
const gen = { users: 500, skew: 1.1, redeemRatio: 0.2, refundRatio: 0.05, badRatio: 0.03 };
// Names Prometheus itself attaches to every scrape.
const SCRAPE_SERIES = [
  'up',
  'scrape_duration_seconds',
  'scrape_samples_scraped',
  'scrape_samples_post_metric_relabeling',
  'scrape_series_added',
];

const title =
  PROMETHEUS === undefined
    ? `a real Prometheus scrapes the engine (skipped: ${SKIP_REASON})`
    : 'a real Prometheus scrapes the engine; every dashboard and alert query evaluates';

describe.skipIf(PROMETHEUS === undefined)(title, () => {
  let db: Awaited<ReturnType<typeof freshDatabase>> | undefined;
  let engine: EngineProcess | undefined;
  let prom: PrometheusServer | undefined;
  let workDir = '';
  let configFile = '';
  let topic = '';
  let engineTarget = '';
  let badEvents = 0;
  const url = (): string => prom!.url;
  const value = (expr: string) => async (): Promise<number | undefined> => {
    const v = await promVector(url(), expr);
    return v.length === 1 ? Number(v[0]!.value[1]) : undefined;
  };

  beforeAll(async () => {
    workDir = mkdtempSync(path.join(os.tmpdir(), 'loyalty-prometheus-'));
    db = await freshDatabase();
    ({ topic } = await freshTopic(PARTITIONS));
    badEvents += (await produceScenario(topic, BEFORE, { ...gen, seed: 41 })).bad;
    engine = await startEngineProcess(
      // Small flushes, so the flush histograms get many samples from a few thousand events.
      engineEnv(topic, db.url, { FLUSH_MAX_EVENTS: '200', FLUSH_MAX_AGE_MS: '100', MAX_BATCH_EVENTS: '200' }),
    );
    await waitForDrain(db.pool, topic, BEFORE, 30_000);
    engineTarget = `127.0.0.1:${engine.port()}`;

    const port = await freePort();
    configFile = path.join(workDir, 'prometheus.yml');
    writeFileSync(
      configFile,
      deriveTestConfig(
        readFileSync(PROMETHEUS_YML, 'utf8'),
        path.dirname(PROMETHEUS_YML),
        engineTarget,
        `127.0.0.1:${port}`,
      ),
    );
    prom = await startPrometheus(PROMETHEUS!, configFile, path.join(workDir, 'data'), port);
    await waitFor(
      'two scrapes of the engine',
      async () => ((await value('count_over_time(up{job="loyalty-engine"}[1m])')()) ?? 0) >= 2 || undefined,
      15_000,
    );

    badEvents += (await produceScenario(topic, DURING, { ...gen, seed: 42 })).bad;
    await waitForDrain(db.pool, topic, BEFORE + DURING, 30_000);
    // The last scrape has everything: every dead letter counted, every partition's lag back to 0.
    await waitFor(
      'all dead letters scraped',
      async () => (await value('sum(loyalty_dead_letters_total{job="loyalty-engine"})')()) === badEvents || undefined,
      15_000,
    );
  }, 75_000);

  afterAll(async () => {
    await prom?.stop();
    await engine?.stop('SIGKILL');
    await db?.drop();
    if (workDir !== '') rmSync(workDir, { recursive: true, force: true });
  });

  it('scrapes the engine: up == 1, lag per partition, flush histogram, dead letters by reason', async () => {
    const up = await promVector(url(), 'up{job="loyalty-engine"} == 1');
    expect(up.map((s) => s.metric.instance)).toEqual([engineTarget]);

    const lagOf = `loyalty_consumer_lag{job="loyalty-engine", instance="${engineTarget}", topic="${topic}"}`;
    const lag = await promVector(url(), lagOf);
    expect(lag.map((s) => s.metric.partition).sort()).toEqual(Array.from({ length: PARTITIONS }, (_, i) => String(i)));
    // Drained: the engine reports (and Prometheus shows) no lag on any partition.
    await waitFor(
      'lag 0 on every partition',
      async () => (await promVector(url(), `${lagOf} == 0`)).length === PARTITIONS || undefined,
      10_000,
    );

    const buckets = await promVector(
      url(),
      `loyalty_flush_duration_seconds_bucket{job="loyalty-engine", instance="${engineTarget}"}`,
    );
    expect(buckets.length).toBeGreaterThan(1);
    const inf = buckets.find((s) => s.metric.le === '+Inf');
    const flushes = await value('loyalty_flush_duration_seconds_count{job="loyalty-engine"}')();
    // Every partition flushed at least once before Prometheus started and once while it scraped.
    expect(flushes).toBeGreaterThanOrEqual(2 * PARTITIONS);
    expect(Number(inf?.value[1])).toBe(flushes);

    const deadLetters = await promVector(url(), 'loyalty_dead_letters_total{job="loyalty-engine"} > 0');
    expect(badEvents).toBeGreaterThan(0);
    expect(deadLetters.map((s) => s.metric.reason)).toContain('malformed_json');
    expect(deadLetters.reduce((n, s) => n + Number(s.value[1]), 0)).toBe(badEvents);
  });

  it('every dashboard and alert expression evaluates without error, on metrics the engine exposes', async () => {
    const dashboard = dashboardExprs(JSON.parse(readFileSync(DASHBOARD_JSON, 'utf8')) as unknown);
    const alerts = ruleExprs(readFileSync(ALERTS_YML, 'utf8'));
    expect(dashboard.length).toBeGreaterThanOrEqual(20);
    expect(alerts.length).toBeGreaterThanOrEqual(4);

    const errors: string[] = [];
    for (const { where, expr } of [...dashboard, ...alerts]) {
      const answer = await promQuery(url(), withoutGrafanaVariables(expr));
      if (answer.status !== 'success') errors.push(`${where}: ${answer.errorType}: ${answer.error}\n  ${expr}`);
    }
    expect(errors).toEqual([]);

    // A renamed metric would leave a panel silently empty: every selected name must be one the engine exposes.
    const exposed = exposedNames(await (await fetch(`http://${engineTarget}/metrics`)).text());
    SCRAPE_SERIES.forEach((n) => exposed.add(n));
    const unknown = [...dashboard, ...alerts].flatMap(({ where, expr }) =>
      selectorNames(expr)
        .filter((n) => !exposed.has(n))
        .map((n) => `${where}: ${n}`),
    );
    expect(unknown).toEqual([]);

    // And a wrong label matcher would too: a panel whose metrics all have series in Prometheus must show data.
    const empty: string[] = [];
    for (const { where, expr } of dashboard) {
      const names = [...new Set(selectorNames(expr))];
      const present = await Promise.all(
        names.map(async (n) => (await promVector(url(), `count({__name__="${n}"})`)).length > 0),
      );
      if (names.length === 0 || !present.every(Boolean)) continue;
      const answer = await promQuery(url(), withoutGrafanaVariables(expr));
      if (answer.status === 'success' && Array.isArray(answer.data.result) && answer.data.result.length === 0)
        empty.push(`${where}: ${expr}`);
    }
    expect(empty).toEqual([]);
  });

  it('loads alerts.yml from the repository and evaluates every rule without error', async () => {
    const expected = ruleExprs(readFileSync(ALERTS_YML, 'utf8')).length;
    const groups = await waitFor(
      'every rule evaluated once',
      async () => {
        const g = await promRules(url());
        return g.length > 0 && g.every((x) => x.rules.every((r) => r.health !== 'unknown')) ? g : undefined;
      },
      15_000,
    );
    expect(groups.map((g) => g.file)).toEqual(groups.map(() => ALERTS_YML));
    const rules = groups.flatMap((g) => g.rules);
    expect(rules.length).toBe(expected);
    expect(rules.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.health} ${r.lastError ?? ''}`)).toEqual(
      [],
    );

    // Dead letters arrived while Prometheus watched: that alert is pending (for: 1m); the engine is up.
    const state = async (name: string): Promise<string | undefined> =>
      (await promRules(url())).flatMap((g) => g.rules).find((r) => r.name === name)?.state;
    await waitFor(
      'LoyaltyDeadLettersRising active',
      async () => ['pending', 'firing'].includes((await state('LoyaltyDeadLettersRising')) ?? '') || undefined,
      10_000,
    );
    expect(await state('LoyaltyEngineDown')).toBe('inactive');
  });

  it('promtool accepts the generated config and the repository alerts.yml', () => {
    expect(PROMTOOL, 'promtool is installed with prometheus').toBeDefined();
    const config = promtool(PROMTOOL!, ['check', 'config', configFile]);
    expect(config.code, config.output).toBe(0);
    expect(config.output).toContain(ALERTS_YML);
    const rules = promtool(PROMTOOL!, ['check', 'rules', ALERTS_YML]);
    expect(rules.code, rules.output).toBe(0);
    expect(rules.output).toMatch(/SUCCESS: \d+ rules found/);
  });
});
