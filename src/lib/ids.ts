import { randomUUID } from 'node:crypto';

/** A new random id (UUID v4), as used for allocations, evaluations and nodes. */
export function newId(): string {
  return randomUUID();
}

/** The first 8 characters of an id, as tables show it. */
export function shortId(id: string): string {
  return id.slice(0, 8);
}
