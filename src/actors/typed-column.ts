/** A per-slot column of the actor's tables (user-table.ts, recent-ids.ts). */
export type TypedColumn = Float64Array | Int32Array | Uint32Array | Uint16Array | Uint8Array;

/** `old`'s values in a new column of `length` slots (the rest zero): columns grow by copying. */
export function widened<T extends TypedColumn>(old: T, length: number, make: (n: number) => T): T {
  const next = make(length);
  next.set(old);
  return next;
}
