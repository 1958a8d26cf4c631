// The panel's only way out: the public API, same origin, with the channel
// token from session storage (never in a URL, never logged).
const KEY = 'chatbackend.token';

export const token = {
  get: () => sessionStorage.getItem(KEY) || '',
  set: (t) => sessionStorage.setItem(KEY, t),
  clear: () => sessionStorage.removeItem(KEY),
};

// The signed-in channel (GET /v1/me), for what pages show of it.
export const session = { me: null };

// The API's base: the page is /dashboard/ under the stage (/<stage>/ in AWS).
const base = new URL('../', document.baseURI);

export class APIError extends Error {
  constructor(status, message) {
    super(message || `HTTP ${status}`);
    this.status = status;
    // "url: must be https." names its field.
    const m = /^([a-z_][a-z0-9_.\[\]]*): /i.exec(this.message);
    this.field = m ? m[1] : '';
  }
}

export async function api(method, path, body, tok) {
  const headers = { Authorization: 'Bearer ' + (tok ?? token.get()) };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(new URL(path, base), {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'omit',
    cache: 'no-store',
  });
  let json = null;
  try { json = await res.json(); } catch { /* no JSON body */ }
  if (!res.ok) {
    if (res.status === 401) window.dispatchEvent(new Event('panel:unauthorized'));
    throw new APIError(res.status, json && json.message);
  }
  return json;
}
