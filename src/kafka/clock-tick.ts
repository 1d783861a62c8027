import type { Logger } from 'pino';
import type { Message } from './library.js';
import { errorText } from '../errors.js';

/*
 * Clock ticks (config/rules.schema.md, "Clock ticks and replays"): a control message with the
 * engine's wall-clock time, written into each partition it owns, so that a partition without
 * events still moves its clock and its lots expire. A tick is in the log like an event, so a
 * replay moves the clock exactly as the first run did. Only the header marks a tick: a message
 * without it is an event (or a dead letter), whatever its bytes.
 */

export const TICK_HEADER = 'loyalty-control';
export const TICK_HEADER_VALUE = 'tick';

/** True for a message carrying the tick header. */
export function isTickMessage(m: Pick<Message, 'headers'>): boolean {
  const hs = m.headers;
  if (hs === undefined) return false;
  for (const h of hs) {
    const v = h[TICK_HEADER];
    if (v !== undefined && v.toString() === TICK_HEADER_VALUE) return true;
  }
  return false;
}

/** A tick's value: its wall-clock time as decimal milliseconds since the epoch. */
export const tickValue = (ms: number): Buffer => Buffer.from(String(Math.floor(ms)));

/** The time a tick carries, or null when its value is not one. */
export function tickTime(value: Uint8Array | null): number | null {
  if (value === null || value.length === 0 || value.length > 16) return null;
  let ms = 0;
  for (const c of value) {
    if (c < 48 || c > 57) return null;
    ms = ms * 10 + (c - 48);
  }
  return ms;
}

export interface ClockTicksOptions {
  intervalMs: number;
  /** The partitions this engine owns now. */
  partitions: () => number[];
  /** Ticks are written only while this holds (a `lifecycle:` block is in force): without lots nothing needs the clock. */
  enabled: () => boolean;
  publish: (partition: number, value: Buffer) => Promise<void>;
  log: Logger;
}

/** Writes a tick into each owned partition every `intervalMs` of wall time; returns the stop function. */
export function startClockTicks(o: ClockTicksOptions): () => void {
  let failing = false;
  const timer = setInterval(() => {
    if (!o.enabled()) return;
    const value = tickValue(Date.now());
    for (const p of o.partitions())
      o.publish(p, value).then(
        () => {
          if (failing) o.log.info('clock ticks written again');
          failing = false;
        },
        (e: unknown) => {
          // The next tick carries a later time anyway: a lost one only delays expiry by an interval.
          if (!failing) o.log.warn({ err: errorText(e), partition: p }, 'clock tick not written; the next one follows');
          failing = true;
        },
      );
  }, o.intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
