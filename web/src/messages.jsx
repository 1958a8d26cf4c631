import { useEffect, useState } from 'preact/hooks';
import { api } from './api.js';
import { fmtTime } from './util.js';

// The channel's recent messages (GET /v1/messages: both directions,
// newest first, with their status), a message's status by its ID, and the
// channel's template registry with each template's review state.

function MessageRows({ msgs }) {
  return (
    <div class="scroll">
      <table class="cards">
        <thead><tr><th scope="col">Created</th><th scope="col">ID</th><th scope="col">Direction</th><th scope="col">Contact</th><th scope="col">Type</th><th scope="col">Status</th></tr></thead>
        <tbody>
          {msgs.map((m) => (
            <tr data-id={m.id}>
              <td data-label="Created">{fmtTime(m.created_at)}</td>
              <td data-label="ID"><code>{m.id}</code></td>
              <td data-label="Direction">{m.direction}</td>
              <td data-label="Contact">{m.contact_id ? <a href={`#/contacts/${encodeURIComponent(m.contact_id)}`}>{m.to || m.from || m.contact_id}</a> : (m.to || m.from || '')}</td>
              <td data-label="Type">{m.type}</td>
              <td data-label="Status" class="msg-status">{m.status}{m.error ? ` (${m.error.message || m.error.code || ''})` : ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function Messages({ channel }) {
  const wa = channel.kind === 'whatsapp';
  const [lookup, setLookup] = useState('');
  const [found, setFound] = useState(null);
  const [msgs, setMsgs] = useState(null);
  const [next, setNext] = useState(null);
  const [templates, setTemplates] = useState(null);
  const [status, setStatus] = useState('');
  const [error, setError] = useState('');
  const loadPage = async (cursor) => {
    try {
      const r = await api('GET', 'v1/messages?limit=20' + (cursor ? '&cursor=' + encodeURIComponent(cursor) : ''));
      setMsgs((prev) => (cursor ? [...(prev || []), ...r.data] : r.data));
      const n = r.links && r.links.next ? new URL(r.links.next).searchParams.get('cursor') : null;
      setNext(n);
    } catch (ex) {
      setMsgs((prev) => prev || []);
      setError(ex.message);
    }
  };
  useEffect(() => { loadPage(null); }, []);
  useEffect(() => {
    if (!wa) { setTemplates([]); return; }
    api('GET', 'v1/templates' + (status ? '?status=' + status : '')).then((r) => setTemplates(r.data)).catch((e) => { setTemplates([]); setError(e.message); });
  }, [status]);
  const find = (e) => {
    e.preventDefault();
    setError('');
    api('GET', `v1/messages/${encodeURIComponent(lookup.trim())}`).then((r) => setFound(r.data)).catch((ex) => { setFound(null); setError(ex.message); });
  };
  return (
    <section aria-labelledby="msgs-title">
      <h1 id="msgs-title">Messages</h1>
      {error && <p class="field-error" role="alert">{error}</p>}
      <form onSubmit={find} role="search">
        <label for="m-id">A message's status by its ID<input id="m-id" required placeholder="msg_…" value={lookup} onInput={(e) => setLookup(e.currentTarget.value)} /></label>
        <button type="submit" class="secondary">Look up</button>
      </form>
      {found && <MessageRows msgs={[found]} />}
      <h2>Recent messages</h2>
      <button type="button" class="secondary" onClick={() => { setError(''); loadPage(null); }}>Refresh</button>
      {msgs === null ? <p aria-busy="true">Loading…</p> : msgs.length === 0 ? <p>No messages on this channel yet.</p> : <MessageRows msgs={msgs} />}
      {next && <button type="button" class="secondary" onClick={() => loadPage(next)}>More messages</button>}
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
