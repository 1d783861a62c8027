import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readdirSync, writeFileSync, closeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { CACHE_DIR, ROOT_DIR, STACK_DIR } from './paths.js';
import { isAlive, portAnswers, readPid, sleep, stopPid, StackError } from './process-utils.js';
import { brokerAnswersMetadata } from '../../src/kafka/admin.js';

/** Apache Kafka release whose broker jars come from Maven Central (see tools/stack/kafka/pom.xml). */
export const KAFKA_VERSION = '4.3.1';

export interface BrokerSettings {
  host: string;
  port: number;
  controllerPort: number;
  dir: string;
  heap: string;
}

export function brokerSettings(env: NodeJS.ProcessEnv = process.env): BrokerSettings {
  const port = Number(env.KAFKA_PORT ?? 9092);
  if (!Number.isInteger(port) || port < 1 || port > 65534)
    throw new StackError(`KAFKA_PORT must be a port number, got "${env.KAFKA_PORT}"`);
  const controllerPort = Number(env.KAFKA_CONTROLLER_PORT ?? port + 1);
  return { host: '127.0.0.1', port, controllerPort, dir: path.join(STACK_DIR, 'kafka'), heap: env.KAFKA_HEAP ?? '1g' };
}

const jarsDir = (): string => path.join(CACHE_DIR, `kafka-${KAFKA_VERSION}`);
const pidFile = (s: BrokerSettings): string => path.join(s.dir, 'broker.pid');
export const brokerLogFile = (s: BrokerSettings): string => path.join(s.dir, 'broker.log');
export const brokerAddress = (s: BrokerSettings): string => `${s.host}:${s.port}`;

function requireCommand(cmd: string, args: string[], pkg: string): void {
  const r = spawnSync(cmd, args, { stdio: 'ignore' });
  if (r.error || r.status !== 0)
    throw new StackError(`"${cmd}" is not available: install it (apt-get install -y ${pkg}) and run again`);
}

/** Fetches the broker's jars once into .cache/; later runs reuse them offline. */
export function ensureKafkaJars(log: (line: string) => void): string {
  const dir = jarsDir();
  const marker = path.join(dir, '.complete');
  if (existsSync(marker)) return dir;
  requireCommand('mvn', ['-v'], 'maven');
  log(`fetching Apache Kafka ${KAFKA_VERSION} jars from Maven Central into ${path.relative(ROOT_DIR, dir)} ...`);
  const r = spawnSync(
    'mvn',
    [
      '-q',
      '-B',
      '-f',
      path.join(ROOT_DIR, 'tools/stack/kafka/pom.xml'),
      `-Dkafka.version=${KAFKA_VERSION}`,
      'dependency:copy-dependencies',
      `-DoutputDirectory=${dir}`,
      '-DincludeScope=runtime',
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) {
    const tail = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').slice(-3).join(' | ');
    throw new StackError(`Maven could not fetch the Kafka jars (check access to Maven Central): ${tail}`);
  }
  writeFileSync(marker, new Date().toISOString());
  return dir;
}

/**
 * KRaft's cluster id: 16 random bytes, URL-safe base64 without padding. Like Kafka's own
 * Uuid.randomUuid, never one starting with '-': the storage tool would read it as an option.
 */
export function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

function writeBrokerConfig(s: BrokerSettings): string {
  const file = path.join(s.dir, 'server.properties');
  writeFileSync(
    file,
    [
      'process.roles=broker,controller',
      'node.id=1',
      `controller.quorum.bootstrap.servers=${s.host}:${s.controllerPort}`,
      `listeners=PLAINTEXT://${s.host}:${s.port},CONTROLLER://${s.host}:${s.controllerPort}`,
      `advertised.listeners=PLAINTEXT://${s.host}:${s.port}`,
      'controller.listener.names=CONTROLLER',
      'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
      `log.dirs=${path.join(s.dir, 'data')}`,
      // Topics are created explicitly with their partition count; a typo must not create a 1-partition topic.
      'auto.create.topics.enable=false',
      'num.partitions=1',
      // One node: replication factors of 1, and a small offsets topic so start-up is quick on 2 cores.
      'offsets.topic.replication.factor=1',
      'offsets.topic.num.partitions=3',
      'transaction.state.log.replication.factor=1',
      'transaction.state.log.min.isr=1',
      'share.coordinator.state.topic.replication.factor=1',
      'group.initial.rebalance.delay.ms=0',
      '',
    ].join('\n'),
  );
  const log4j = path.join(s.dir, 'log4j2.properties');
  writeFileSync(
    log4j,
    [
      'rootLogger.level=INFO',
      'rootLogger.appenderRef.stdout.ref=STDOUT',
      'appender.stdout.type=Console',
      'appender.stdout.name=STDOUT',
      'appender.stdout.layout.type=PatternLayout',
      'appender.stdout.layout.pattern=[%d] %p %m (%c)%n',
      'logger.kafka.name=kafka',
      'logger.kafka.level=WARN',
      'logger.apache.name=org.apache.kafka',
      'logger.apache.level=WARN',
      '',
    ].join('\n'),
  );
  return file;
}

export async function brokerStatus(s: BrokerSettings): Promise<{ pid: number | null; answers: boolean }> {
  const pid = readPid(pidFile(s));
  const alive = pid !== null && isAlive(pid) ? pid : null;
  const answers = await brokerAnswersMetadata(brokerAddress(s), 2000);
  return { pid: alive, answers };
}

/** Starts the local broker unless ours already runs; returns only when it answers a metadata request. */
export async function startBroker(s: BrokerSettings, log: (line: string) => void): Promise<string> {
  const status = await brokerStatus(s);
  if (status.pid !== null && status.answers) {
    log(`kafka: already running (pid ${status.pid}) at ${brokerAddress(s)}`);
    return brokerAddress(s);
  }
  if (status.pid === null && status.answers) {
    // Another checkout's (or a hand-started) broker: use it, as we use a Postgres that answers.
    log(`kafka: a broker not started from this checkout already answers at ${brokerAddress(s)}; using it`);
    return brokerAddress(s);
  }
  if (status.pid !== null) await stopPid(status.pid); // ours, but not answering: restart it
  for (const port of [s.port, s.controllerPort]) {
    if (await portAnswers(s.host, port)) {
      throw new StackError(
        `port ${port} on ${s.host} is taken by another process: stop it, or choose other ports with KAFKA_PORT (and KAFKA_CONTROLLER_PORT)`,
      );
    }
  }
  requireCommand('java', ['-version'], 'openjdk-17-jre-headless');
  const jars = ensureKafkaJars(log);
  mkdirSync(path.join(s.dir, 'data'), { recursive: true });
  const config = writeBrokerConfig(s);
  const classpath = `${jars}/*`;
  if (!existsSync(path.join(s.dir, 'data', 'meta.properties')) || readdirSync(path.join(s.dir, 'data')).length === 0) {
    log('kafka: formatting KRaft storage ...');
    const r = spawnSync(
      'java',
      ['-cp', classpath, 'kafka.tools.StorageTool', 'format', '-t', newClusterId(), '-c', config, '--standalone'],
      { encoding: 'utf8' },
    );
    if (r.status !== 0)
      throw new StackError(
        `kafka storage format failed: ${(r.stderr || r.stdout).trim().split('\n').slice(-1)[0] ?? ''}`,
      );
  }
  const out = openSync(brokerLogFile(s), 'a');
  const child = spawn(
    'java',
    [
      `-Xmx${s.heap}`,
      '-Xms256m',
      '-XX:+UseG1GC',
      '-Djava.awt.headless=true',
      `-Dlog4j2.configurationFile=${path.join(s.dir, 'log4j2.properties')}`,
      '-cp',
      classpath,
      'kafka.Kafka',
      config,
    ],
    { detached: true, stdio: ['ignore', out, out] },
  );
  closeSync(out);
  if (child.pid === undefined) throw new StackError('could not start java for the Kafka broker');
  writeFileSync(pidFile(s), String(child.pid));
  child.unref();
  log(`kafka: started (pid ${child.pid}), waiting for it to answer at ${brokerAddress(s)} ...`);
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    if (!isAlive(child.pid)) {
      throw new StackError(
        `the Kafka broker exited during start-up: see ${path.relative(process.cwd(), brokerLogFile(s))}`,
      );
    }
    if (await brokerAnswersMetadata(brokerAddress(s), 2000)) {
      log(`kafka: ready at ${brokerAddress(s)}`);
      return brokerAddress(s);
    }
    await sleep(500);
  }
  await stopPid(child.pid);
  throw new StackError(
    `the Kafka broker did not answer within 90 s (stopped it): see ${path.relative(process.cwd(), brokerLogFile(s))}`,
  );
}

export async function stopBroker(s: BrokerSettings, log: (line: string) => void): Promise<void> {
  const pid = readPid(pidFile(s));
  if (pid === null || !isAlive(pid)) {
    log('kafka: not running');
    return;
  }
  await stopPid(pid, 30_000);
  log(`kafka: stopped (pid ${pid})`);
}
