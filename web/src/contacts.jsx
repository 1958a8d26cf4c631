import { useEffect, useState } from 'preact/hooks';
import { api } from './api.js';
import { fmtTime } from './util.js';

// Search by a field's value (GET /v1/contact/by_custom_field), open one
// contact: its fields, tags, message history; send it a message.
export function Contacts({ id, channel }) {
  return id ? <Contact id={id} channel={channel} /> : <Search />;
}

function Search() {
  const [fields, setFields] = useState([]);
  const [name, setName] = useState('email');
  const [value, setValue] = useState('');
  const [res, setRes] = useState(null);
  const [error, setError] = useState('');
  useEffect(() => { api('GET', 'v1/contact_fields').then((r) => setFields(r.data || [])).catch(() => {}); }, []);
  const search = async (e, page = 1) => {
    if (e) e.preventDefault();
    setError('');
    try {
      const q = new URLSearchParams({ name, value, page: String(page) });
      setRes(await api('GET', 'v1/contact/by_custom_field?' + q));
    } catch (ex) { setError(ex.message); setRes(null); }
  };
  const names = ['firstName', 'lastName', 'email', 'phone', ...fields.map((f) => f.name)];
  return (
    <section aria-labelledby="contacts-title">
      <h1 id="contacts-title">Contacts</h1>
      <form onSubmit={search} role="search">
        <div class="grid">
          <label for="s-name">Field
            <select id="s-name" value={name} onChange={(e) => setName(e.currentTarget.value)}>
              {names.map((n) => <option value={n}>{n}</option>)}
            </select>
          </label>
          <label for="s-value">Value<input id="s-value" required value={value} onInput={(e) => setValue(e.currentTarget.value)} /></label>
        </div>
        <button type="submit">Search</button>
      </form>
      {error && <p class="field-error" role="alert">{error}</p>}
      {res && (res.data.length === 0 ? <p>No contact has {name} = {value}.</p> : (
        <>
          <p role="status">{res.meta.total} found, page {res.meta.current_page} of {res.meta.last_page}.</p>
          <div class="scroll">
            <table class="cards">
              <thead><tr><th scope="col">ID</th><th scope="col">Name</th><th scope="col">Tags</th><th scope="col">Updated</th></tr></thead>
              <tbody>
                {res.data.map((c) => (
                  <tr>
                    <td data-label="ID"><a href={`#/contacts/${encodeURIComponent(c.id)}`}>{c.id}</a></td>
                    <td data-label="Name">{[c.custom_fields.firstName, c.custom_fields.lastName].filter(Boolean).join(' ')}</td>
                    <td data-label="Tags">{(c.tags || []).join(', ')}</td>
                    <td data-label="Updated">{fmtTime(c.updated_at * 1000)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <div class="row-actions">
            {res.meta.current_page > 1 && <button type="button" class="secondary" onClick={() => search(null, res.meta.current_page - 1)}>Previous page</button>}
            {res.meta.current_page < res.meta.last_page && <button type="button" class="secondary" onClick={() => search(null, res.meta.current_page + 1)}>Next page</button>}
          </div>
        </>
      ))}
    </section>
  );
}

function Contact({ id, channel }) {
  const [c, setC] = useState(null);
  const [msgs, setMsgs] = useState(null);
  const [error, setError] = useState('');
  const [tag, setTag] = useState('');
  const [text, setText] = useState('');
  const [status, setStatus] = useState('');
  const path = `v1/contact/${encodeURIComponent(id)}`;
  const load = async () => {
    try { setC((await api('GET', path)).data); } catch (e) { setError(e.message); }
    try { setMsgs((await api('GET', path + '/messages?limit=20')).data); } catch { setMsgs([]); }
  };
  useEffect(() => { load(); }, [id]);
  const act = async (fn) => { setError(''); setStatus(''); try { await fn(); } catch (e) { setError(e.message); } };
  const addTag = (e) => { e.preventDefault(); act(async () => { await api('POST', path + '/tags', { tags: [tag] }); setTag(''); await load(); }); };
  const removeTag = (t) => act(async () => { await api('DELETE', path + '/tags', { tags: [t] }); await load(); });
  const send = (e) => {
    e.preventDefault();
    act(async () => {
      const r = await api('POST', 'v1/messages', { type: 'text', contact_id: id, text: { body: text } });
      setStatus(`Message ${r.data.id} ${r.data.status}.`);
      setText('');
      await load();
    });
  };
  if (!c) return error ? <p class="field-error" role="alert">{error}</p> : <p aria-busy="true">Loading…</p>;
  return (
    <section aria-labelledby="contact-title">
      <p><a href="#/contacts">← Contacts</a></p>
      <h1 id="contact-title">Contact {c.id}</h1>
      {error && <p class="field-error" role="alert">{error}</p>}
      <h2>Fields</h2>
      <div class="scroll">
        <table>
          <tbody>
            {Object.entries(c.custom_fields || {}).map(([k, v]) => <tr><th scope="row">{k}</th><td>{String(v)}</td></tr>)}
            <tr><th scope="row">created</th><td>{fmtTime(c.created_at * 1000)}</td></tr>
          </tbody>
        </table>
      </div>
      <h2>Tags</h2>
      <ul>{(c.tags || []).map((t) => <li>{t} <button type="button" class="secondary" onClick={() => removeTag(t)} aria-label={`Remove tag ${t}`}>×</button></li>)}</ul>
      <form onSubmit={addTag}>
        <label for="tag">New tag<input id="tag" required value={tag} onInput={(e) => setTag(e.currentTarget.value)} /></label>
        <button type="submit" class="secondary">Add tag</button>
      </form>
      <h2>Messages</h2>
      {msgs === null ? <p aria-busy="true">Loading…</p> : msgs.length === 0 ? <p>No messages with this contact on this channel.</p> : (
        <div class="scroll">
          <table class="cards">
            <thead><tr><th scope="col">Time</th><th scope="col">Direction</th><th scope="col">Type</th><th scope="col">Status</th><th scope="col">Content</th></tr></thead>
            <tbody>
              {msgs.map((m) => (
                <tr>
                  <td data-label="Time">{fmtTime(m.created_at)}</td>
                  <td data-label="Direction">{m.direction}</td>
                  <td data-label="Type">{m.type}</td>
                  <td data-label="Status">{m.status}{m.error ? ` (${m.error.message || m.error.code || ''})` : ''}</td>
                  <td data-label="Content">{m.text ? m.text.body : m.template ? `${m.template.name} (${m.template.language})` : m.media ? m.media.type : ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {channel.kind === 'whatsapp' ? (
        <form onSubmit={send}>
          <label for="msg">Send a text (within 24 h of the contact's last message; otherwise send a template)
            <textarea id="msg" required value={text} onInput={(e) => setText(e.currentTarget.value)} />
          </label>
          <button type="submit">Send</button>
          <p role="status">{status}</p>
        </form>
      ) : <p><small>Messages are sent on WhatsApp channels; this is a {channel.kind} channel.</small></p>}
    </section>
  );
}
