interface StateLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

/**
 * Logs start-up's waits for a dependency, one line per change of state. Kafka's start-up is several steps
 * (topics, topic id, producers, consumer): a broker that has just come up can answer the first and still
 * refuse a later one for a moment. That is logged as "not yet for <step>", not as a second "not answering".
 */
export function dependencyStateLog(log: StateLogger): (name: string, step: string, waiting: string | null) => void {
  const answered = new Set<string>();
  return (name, step, waiting) => {
    const fields = { dependency: name, step, reason: waiting ?? undefined };
    if (waiting === null) {
      log.info(
        fields,
        answered.has(name) ? `${name} ready for ${step}; start-up continues` : `${name} answers; start-up continues`,
      );
      answered.add(name);
    } else if (!answered.has(name)) log.warn(fields, `${name} not answering yet; start-up waits for it`);
    else log.warn(fields, `${name} answers but not yet for ${step}; start-up waits for it`);
  };
}
