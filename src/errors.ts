/** The message of anything thrown, cut to `max` characters: for logs and API answers (never a stack). */
export function errorText(e: unknown, max = Infinity): string {
  const text = e instanceof Error ? e.message : String(e);
  return text.length > max ? text.slice(0, max) : text;
}

/**
 * What Postgres adds to an error beyond its message, for logs: the SQLSTATE and the detail (for a row no
 * partition takes, the detail names the row's key, which the message does not). Empty for anything else.
 */
export function postgresErrorFields(e: unknown): { code?: string; detail?: string } {
  if (typeof e !== 'object' || e === null) return {};
  const { code, detail } = e as { code?: unknown; detail?: unknown };
  return {
    ...(typeof code === 'string' && { code }),
    ...(typeof detail === 'string' && { detail }),
  };
}
