/** The message of anything thrown, cut to `max` characters: for logs and API answers (never a stack). */
export function errorText(e: unknown, max = Infinity): string {
  const text = e instanceof Error ? e.message : String(e);
  return text.length > max ? text.slice(0, max) : text;
}
