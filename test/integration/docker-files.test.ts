import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { composeCommand } from '../../tools/stack/docker-stack.js';
import { stackUp } from '../../tools/stack/stack.js';
import { ROOT_DIR } from '../../tools/stack/paths.js';
import { StackError } from '../../tools/stack/process-utils.js';

const compose = composeCommand();
const engine = spawnSync('docker', ['info'], { stdio: 'ignore' }).status === 0;

describe('Docker files', () => {
  it.runIf(compose !== null)('docker-compose.yml parses with the compose client', () => {
    const [cmd, ...args] = compose!;
    const r = spawnSync(cmd!, [...args, 'config', '-q'], { cwd: ROOT_DIR, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const services = spawnSync(cmd!, [...args, 'config', '--services'], { cwd: ROOT_DIR, encoding: 'utf8' })
      .stdout.split('\n')
      .filter(Boolean)
      .sort();
    expect(services).toEqual(expect.arrayContaining(['engine', 'grafana', 'kafka', 'postgres', 'prometheus']));
  });

  it.runIf(!engine)(
    'STACK=docker without a Docker engine stops with a one-line error that says what to do',
    async () => {
      const err = await stackUp(() => undefined, { ...process.env, STACK: 'docker' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StackError);
      expect((err as Error).message).toMatch(/docker/i);
      expect((err as Error).message).not.toContain('\n');
    },
  );
});
