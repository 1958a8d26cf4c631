import { useEffect, useState } from 'preact/hooks';
import { api } from './api.js';
import { fmtTime } from './util.js';

// Messages this tab sent (the API has no channel-wide list: a contact's
// messages are on its page), their status read again from the API, and the
// channel's template registry with each template's review state.
const SENT = 'chatbackend.sent';
export function rememberSent(id) {
  const ids = JSON.parse(sessionStorage.getItem(SENT) || '[]');
  sessionStorage.setItem(SENT, JSON.stringify([id, ...ids.filter((x) => x !== id)].slice(0, 20)));
}

export function Messages({ channel }) {
  const wa = channel.kind === 'whatsapp';
  const [lookup, setLookup] = useState('');
  const [msgs, setMsgs] = useState([]);
  const [templates, setTemplates] = useState(null);
  const [status, setStatus] = useState('');
  const [error, setError] = useState('');
  const loadSent = async () => {
    const ids = JSON.parse(sessionStorage.getItem(SENT) || '[]');
    const out = await Promise.all(ids.map((id) => api('GET', `v1/messages/${id}`).then((r) => r.data).catch(() => null)));
    setMsgs(out.filter(Boolean));
  };
  useEffect(() => {
    loadSent();
    if (!wa) { setTemplates([]); return; }
    api('GET', 'v1/templates' + (status ? '?status=' + status : '')).then((r) => setTemplates(r.data)).catch((e) => { setTemplates([]); setError(e.message); });
  }, [status]);
  const find = (e) => {
    e.preventDefault();
    setError('');
    api('GET', `v1/messages/${encodeURIComponent(lookup.trim())}`).then((r) => { rememberSent(r.data.id); loadSent(); }).catch((ex) => setError(ex.message));
  };
  return (
    <section aria-labelledby="msgs-title">
      <h1 id="msgs-title">Messages</h1>
      {error && <p class="field-error" role="alert">{error}</p>}
      <form onSubmit={find} role="search">
        <label for="m-id">A message's status by its ID<input id="m-id" required placeholder="msg_…" value={lookup} onInput={(e) => setLookup(e.currentTarget.value)} /></label>
        <button type="submit" class="secondary">Look up</button>
      </form>
      <h2>Recent messages (sent or looked up in this tab)</h2>
      {msgs.length === 0 ? <p>None yet: send one from a contact's page.</p> : (
        <div class="scroll">
          <table class="cards">
            <thead><tr><th scope="col">Queued</th><th scope="col">ID</th><th scope="col">To</th><th scope="col">Type</th><th scope="col">Status</th></tr></thead>
            <tbody>
              {msgs.map((m) => (
                <tr>
                  <td data-label="Queued">{fmtTime(m.created_at)}</td>
                  <td data-label="ID"><code>{m.id}</code></td>
                  <td data-label="To">{m.contact_id ? <a href={`#/contacts/${encodeURIComponent(m.contact_id)}`}>{m.to || m.contact_id}</a> : m.to}</td>
                  <td data-label="Type">{m.type}</td>
                  <td data-label="Status">{m.status}{m.error ? ` (${m.error.message || m.error.code || ''})` : ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <h2>Templates</h2>
      {!wa ? <p>Message templates belong to WhatsApp channels; this is a {channel.kind} channel.</p> : <>
      <label for="t-status">Review state
        <select id="t-status" value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
          {['', 'APPROVED', 'PENDING', 'REJECTED', 'PAUSED', 'DISABLED'].map((s) => <option value={s}>{s || 'any'}</option>)}
        </select>
      </label>
      {templates === null ? <p aria-busy="true">Loading…</p> : templates.length === 0 ? <p>No templates{status ? ' in that state' : ''}.</p> : (
        <div class="scroll">
          <table class="cards">
            <thead><tr><th scope="col">Name</th><th scope="col">Language</th><th scope="col">Category</th><th scope="col">State</th><th scope="col">Body</th></tr></thead>
            <tbody>
              {templates.map((t) => (
                <tr>
                  <td data-label="Name">{t.name}</td>
                  <td data-label="Language">{t.language}</td>
                  <td data-label="Category">{t.category}</td>
                  <td data-label="State"><mark class={`tpl-${t.status.toLowerCase()}`}>{t.status}</mark>{t.reason ? ` — ${t.reason}` : ''}</td>
                  <td data-label="Body">{(t.components.find((c) => c.type === 'BODY') || {}).text || ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      </>}
    </section>
  );
}
