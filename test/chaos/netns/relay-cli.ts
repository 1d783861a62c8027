import { parseArgs } from 'node:util';
import type net from 'node:net';
import { emptyStats, startRelay, type Delay, type Endpoint } from './relay.js';

/**
 * One process of relays: `--route LISTEN_HOST:PORT=TARGET_HOST:PORT` (repeatable). It runs
 * inside a test namespace (`ip netns exec`) or in the root namespace. Routes named by
 * `--delayable PORT` hold client->target bytes `--delay-ms` +/- `--jitter-ms` while delay is on:
 * SIGUSR2 turns it on, SIGHUP off (this kernel has no netem; SIGUSR1 is node's inspector). The delayable routes'
 * round trips are counted (relay.ts, turnCounter): a line `stats` on stdin answers one JSON line on stdout. It
 * exits when its parent's stdin pipe closes, so a crashed suite leaves no relay behind.
 */
function endpoint(text: string): Endpoint {
  const i = text.lastIndexOf(':');
  const port = Number(text.slice(i + 1));
  if (i < 1 || !Number.isInteger(port) || port <= 0) throw new Error(`bad endpoint ${text}`);
  return { host: text.slice(0, i), port };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      route: { type: 'string', multiple: true },
      delayable: { type: 'string', multiple: true },
      'delay-ms': { type: 'string', default: '200' },
      'jitter-ms': { type: 'string', default: '50' },
    },
  });
  const delay: Delay = { delayMs: Number(values['delay-ms']), jitterMs: Number(values['jitter-ms']) };
  let delayOn = false;
  process.on('SIGUSR2', () => (delayOn = true));
  process.on('SIGHUP', () => (delayOn = false));
  const delayable = new Set((values.delayable ?? []).map(Number));
  const servers: net.Server[] = [];
  const stats = emptyStats();
  for (const r of values.route ?? []) {
    const [listen, target] = r.split('=');
    if (listen === undefined || target === undefined) throw new Error(`bad route ${r}`);
    const route = { listen: endpoint(listen), target: endpoint(target) };
    const ofRoute = delayable.has(route.listen.port) ? (): Delay | null => (delayOn ? delay : null) : (): null => null;
    servers.push(await startRelay(route, ofRoute, delayable.has(route.listen.port) ? stats : undefined));
  }
  let input = '';
  process.stdin.on('data', (c: Buffer) => {
    input += c.toString();
    for (let i = input.indexOf('\n'); i >= 0; i = input.indexOf('\n')) {
      if (input.slice(0, i).trim() === 'stats') process.stdout.write(`${JSON.stringify(stats)}\n`);
      input = input.slice(i + 1);
    }
  });
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('close', () => process.exit(0));
  process.stdout.write(`relay ready ${servers.length}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`relay: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
