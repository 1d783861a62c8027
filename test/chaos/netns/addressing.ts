/**
 * Names and addresses of the suite's network namespaces, all inside one private /24 so test
 * traffic never leaves it. Each namespace has three veth links, one per service, so one can be
 * cut while the others stay up: Kafka, Postgres, and a control link (never cut) that serves the
 * engine's /metrics to the runner.
 */
export const SUBNET = '10.231.77';
export const PREFIX = 'lnx';
export const SERVICES = ['kafka', 'postgres', 'control'] as const;
export type Service = (typeof SERVICES)[number];

export interface Link {
  service: Service;
  /** Interface name in the root namespace. */
  hostIf: string;
  /** Interface name inside the test namespace. */
  nsIf: string;
  hostAddr: string;
  nsAddr: string;
}

/** 64 /30 links fit in the /24: three per namespace. */
export const MAX_HOSTS = 21;

export function namespaceName(host: number): string {
  return `${PREFIX}-${host}`;
}

export function linkOf(host: number, service: Service): Link {
  if (!Number.isInteger(host) || host < 0 || host >= MAX_HOSTS)
    throw new Error(`host index ${host} outside 0..${MAX_HOSTS - 1}`);
  const k = SERVICES.indexOf(service);
  const base = (host * SERVICES.length + k) * 4;
  return {
    service,
    hostIf: `${PREFIX}${host}${service[0]}h`,
    nsIf: `${PREFIX}${host}${service[0]}n`,
    hostAddr: `${SUBNET}.${base + 1}`,
    nsAddr: `${SUBNET}.${base + 2}`,
  };
}

/** True for names this suite creates (namespaces and root-side interfaces), for cleaning leftovers. */
export function isOurs(name: string): boolean {
  return new RegExp(`^${PREFIX}(-\\d+|\\d+[kpc][hn])$`).test(name);
}
