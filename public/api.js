// Thin client for the mmsim HTTP API (docs/API.md). Every call goes through
// request(), which turns an HTTP error's JSON body into an ApiError whose
// message is the server's `error.message`.

export class ApiError extends Error {
  constructor(status, code, message, requestId, path) {
    super(message);
    this.status = status;
    this.code = code;
    this.requestId = requestId;
    this.path = path;
  }
  describe() {
    const rid = this.requestId ? ` (request ${this.requestId})` : '';
    const code = this.code ? `${this.code}: ` : '';
    return `${this.status || 'network'} ${code}${this.message}${rid}`;
  }
}

async function request(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, 'network', `cannot reach the server (${e.message})`, null, path);
  }
  const text = await resp.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = text; }
  }
  if (!resp.ok) {
    const err = data && typeof data === 'object' && data.error ? data.error : {};
    const message = err.message || (typeof data === 'string' && data.trim()) || resp.statusText || 'request failed';
    throw new ApiError(resp.status, err.code || null, message, err.request_id || null, path);
  }
  return data;
}

const enc = encodeURIComponent;
const S = (sid) => `/v1/sessions/${enc(sid)}`;

export const api = {
  /** {kernels: [...], default, options?, injections?} (an old server's bare list is wrapped). */
  kernels: async () => {
    const d = await request('GET', '/v1/kernels');
    return Array.isArray(d) ? { kernels: d } : { ...d, kernels: d.kernels || [] };
  },
  openapi: () => request('GET', '/openapi.json'),
  /** The sessions among ids that still exist (GET /v1/sessions lists only the ids presented). */
  sessions: async (ids) => (await request('GET', `/v1/sessions?ids=${ids.map(enc).join(',')}`)).sessions || [],
  createSession: (kernel, options, name) =>
    request('POST', '/v1/sessions', { kernel, options, ...(name ? { name } : {}) }),
  session: (sid) => request('GET', S(sid)),
  deleteSession: (sid) => request('DELETE', S(sid)),
  stats: (sid) => request('GET', `${S(sid)}/stats`),
  anonVmas: async (sid) => (await request('GET', `${S(sid)}/anon_vmas`)).anon_vmas || [],
  log: (sid) => request('GET', `${S(sid)}/log`),
  eventsUrl: (sid) => `${S(sid)}/events`,
  ops: (sid, ops, detail = 'full') => request('POST', `${S(sid)}/ops`, { ops, detail }),
  vmas: async (sid, pid) => (await request('GET', `${S(sid)}/processes/${enc(pid)}/vmas`)).vmas || [],
  pages: async (sid, pid, start, end) =>
    (await request('GET', `${S(sid)}/processes/${enc(pid)}/pages?start=${enc(start)}&end=${enc(end)}`)).pages || [],
  fault: (sid, pid, body) => request('POST', `${S(sid)}/processes/${enc(pid)}/faults`, body),
  compare: (body) => request('POST', '/v1/compare', body),
  replay: (sid, body) => request('POST', `${S(sid)}/replay`, body),
  explore: (sid, body) => request('POST', `${S(sid)}/explore`, body),
  interleave: (sid, body) => request('POST', `${S(sid)}/interleave`, body),
};
