import { watch, readFileSync, type FSWatcher } from 'node:fs';
import path from 'node:path';
import { parseRules, type RuleSet } from './index.js';

/** Validated rules as text: what the main thread hands to actor threads, so each compiles the very same version. */
export interface RulesText {
  version: string;
  text: string;
}

export interface RulesReloader {
  /** Re-reads the file now (SIGHUP does this too). */
  reload: () => void;
  stop: () => void;
}

/**
 * Hot reload: on a change of the file (or SIGHUP) the main thread parses it; a valid file is
 * passed on (the consumer attaches it to the next task of every partition, so every batch
 * dispatched after the reload uses it), a bad one is reported and the rules in force stay.
 */
export function watchRules(
  file: string,
  current: RuleSet,
  on: { applied: (rules: RuleSet, text: RulesText) => void; rejected: (error: Error) => void },
): RulesReloader {
  let version = current.version;
  let timer: NodeJS.Timeout | null = null;
  const reload = (): void => {
    let text: string;
    let next: RuleSet;
    try {
      text = readFileSync(file, 'utf8');
      next = parseRules(text, file);
    } catch (e) {
      on.rejected(e instanceof Error ? e : new Error(String(e)));
      return;
    }
    if (next.version === version) return;
    version = next.version;
    on.applied(next, { version: next.version, text });
  };
  // Watch the folder, not the file: editors and config managers replace files by rename.
  let watcher: FSWatcher | null = null;
  try {
    watcher = watch(path.dirname(file), (_event, name) => {
      if (name !== null && name !== path.basename(file)) return;
      if (timer) clearTimeout(timer);
      timer = setTimeout(reload, 100); // one reload per burst of writes
    });
  } catch {
    watcher = null; // no folder to watch: SIGHUP still works
  }
  const onHup = (): void => reload();
  process.on('SIGHUP', onHup);
  return {
    reload,
    stop: () => {
      if (timer) clearTimeout(timer);
      watcher?.close();
      process.off('SIGHUP', onHup);
    },
  };
}
