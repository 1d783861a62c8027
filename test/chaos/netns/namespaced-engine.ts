import { launchEngine, type LaunchedEngine } from './engine-launch.js';
import type { NetworkHost } from './network-host.js';

export interface NamespacedEngine extends LaunchedEngine {
  host: string;
}

/**
 * Runs the real engine inside the test host's namespace. It serves HTTP on the namespace end of
 * the control link, which no fault touches, so its /metrics stay readable from the root namespace.
 */
export async function startNamespacedEngine(host: NetworkHost, env: Record<string, string>): Promise<NamespacedEngine> {
  const e = await launchEngine({
    prefix: ['ip', 'netns', 'exec', host.name],
    httpHost: host.link('control').nsAddr,
    env,
  });
  return { ...e, host: host.name };
}
