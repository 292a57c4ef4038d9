// The sessions this browser holds. A session id is the capability to use
// that session: GET /v1/sessions lists only the ids the caller presents
// (?ids=a,b; docs/API.md), so the page remembers, in localStorage, the ids
// of the sessions it created or opened, newest first, and asks the server
// which of them still exist; ids it no longer knows (deleted, expired, or
// from a restarted server without journals) are forgotten.
import { api } from './api.js';

const KEY = 'mmsim.sessions';
/** Ids kept at most (the oldest go first); 64 ids of ~40 bytes fit any request line. */
export const MAX_REMEMBERED = 64;

function load() {
  try {
    const v = JSON.parse(localStorage.getItem(KEY) || '[]');
    return Array.isArray(v) ? v.filter((x) => typeof x === 'string' && x) : [];
  } catch {
    return []; // storage disabled or a bad value: start empty
  }
}

function save(ids) {
  try { localStorage.setItem(KEY, JSON.stringify(ids.slice(0, MAX_REMEMBERED))); } catch { /* storage full or disabled */ }
}

/** The remembered ids, newest first. */
export const rememberedIds = () => load();

/** Puts id first in the remembered list. */
export function rememberSession(id) {
  save([id, ...load().filter((x) => x !== id)]);
}

/** Drops ids from the remembered list. */
export function forgetSessions(ids) {
  const gone = new Set(ids);
  save(load().filter((x) => !gone.has(x)));
}

/**
 * The remembered sessions the server still has, as summaries, newest first;
 * the others are forgotten. A failed request forgets nothing (and throws).
 */
export async function knownSessions() {
  const ids = load();
  if (!ids.length) return [];
  const listed = await api.sessions(ids);
  const byId = new Map(listed.map((s) => [s.id, s]));
  const gone = ids.filter((id) => !byId.has(id));
  if (gone.length) forgetSessions(gone);
  return ids.filter((id) => byId.has(id)).map((id) => byId.get(id));
}
