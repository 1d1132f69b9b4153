// api.js talks to the admin API with the session cookie. Every request
// that changes something carries the session's CSRF token in a header.

let csrf = '';

/** setCSRF keeps the session's CSRF token for later requests. */
export function setCSRF(token) { csrf = token; }

/** APIError is a problem document (RFC 9457) the API answered. */
export class APIError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
    this.errors = problem.errors || [];
  }
}

/**
 * request calls the API: it resolves to {data, etag} or rejects with an
 * APIError. A 401 also fires the "ramp:signedout" event.
 */
export async function request(method, path, body, opts = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (!['GET', 'HEAD'].includes(method)) headers['X-CSRF-Token'] = csrf;
  if (opts.ifMatch) headers['If-Match'] = opts.ifMatch;
  let res;
  try {
    res = await fetch(path, {
      method, headers, credentials: 'same-origin', cache: 'no-store',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new APIError(0, { title: 'Network error', detail: 'the server cannot be reached: ' + e.message });
  }
  if (!res.ok) {
    let problem = { title: res.statusText, status: res.status };
    try { problem = await res.json(); } catch { /* not JSON */ }
    if (res.status === 401 && path !== '/session') window.dispatchEvent(new CustomEvent('ramp:signedout', { detail: problem }));
    throw new APIError(res.status, problem);
  }
  const etag = res.headers.get('ETag');
  if (res.status === 204) return { data: null, etag };
  return { data: await res.json(), etag };
}

export const get = (path) => request('GET', path).then((r) => r.data);

/**
 * follow opens the admin event stream (GET /api/v1/events) and calls
 * handlers.change, handlers.rollout with each event's data. It returns a
 * function that closes the stream. The browser reconnects by itself.
 */
export function follow(query, handlers) {
  const es = new EventSource('/api/v1/events' + (query || ''));
  for (const [name, fn] of Object.entries(handlers)) {
    es.addEventListener(name, (ev) => {
      let data;
      try { data = JSON.parse(ev.data); } catch { return; }
      fn(data);
    });
  }
  es.addEventListener('open', () => document.body.classList.remove('offline'));
  es.addEventListener('error', () => document.body.classList.add('offline'));
  return () => es.close();
}

/** percentage is the share of env's fallthrough not served the off variant (as the server computes it). */
export function percentage(flag, env) {
  const fe = flag.environments && flag.environments[env];
  if (!fe || !fe.on) return 0;
  const off = fe.offVariant || flag.defaultVariant;
  const ft = fe.fallthrough || {};
  if (ft.variant) return ft.variant === off ? 0 : 100;
  let buckets = 0;
  for (const a of ft.split || []) if (a.variant !== off) buckets += Math.round(a.percent * 1000);
  return buckets / 1000;
}

/** flagPath is the API path of a flag. */
export const flagPath = (key) => '/api/v1/flags/' + encodeURIComponent(key);
