import { useEffect, useRef, useState } from 'preact/hooks';
import { api, session } from './api.js';
import { TRIGGERS, STANDARD_FIELDS, preview, fmtTime, codeClass, stateOf } from './util.js';

export function Secret({ secret, onDone }) {
  if (!secret) return null;
  return (
    <article role="alert" aria-labelledby="secret-title">
      <h3 id="secret-title">Signing secret (shown once)</h3>
      <p>Copy it now: the API never shows it again. Receivers verify each delivery's <code>webhook-signature</code> with it.</p>
      <p class="secret" data-testid="secret">{secret}</p>
      <button type="button" onClick={onDone}>I have copied it</button>
    </article>
  );
}

export function ConnectionForm({ conn, onSaved, onCancel }) {
  const [name, setName] = useState(conn ? conn.name : '');
  const [url, setUrl] = useState(conn ? conn.url : 'https://');
  const [triggers, setTriggers] = useState(conn ? conn.triggers : ['email']);
  const [fields, setFields] = useState(conn ? conn.fields : []);
  const [enabled, setEnabled] = useState(conn ? conn.enabled : true);
  const [custom, setCustom] = useState([]);
  const [err, setErr] = useState({ field: '', message: '' });
  const [busy, setBusy] = useState(false);
  useEffect(() => { api('GET', 'v1/contact_fields').then((r) => setCustom(r.data || [])).catch(() => {}); }, []);
  const toggle = (list, set, v) => set(list.includes(v) ? list.filter((x) => x !== v) : [...list, v]);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setErr({ field: '', message: '' });
    const body = { name, url, triggers, fields };
    if (conn) body.enabled = enabled;
    try {
      const r = conn ? await api('PUT', `v1/connections/${conn.id}`, body) : await api('POST', 'v1/connections', body);
      onSaved(r.data);
    } catch (ex) {
      setErr({ field: ex.field.split(/[.[]/)[0], message: ex.message });
    } finally {
      setBusy(false);
    }
  };
  const fieldErr = (f) => (err.field === f ? <small id={`err-${f}`} class="field-error" role="alert">{err.message}</small> : null);
  const inv = (f) => (err.field === f ? { 'aria-invalid': 'true', 'aria-describedby': `err-${f}` } : {});
  const allFields = [...STANDARD_FIELDS, ...custom.map((c) => c.name)];
  return (
    <form onSubmit={submit} aria-labelledby="form-title">
      <h2 id="form-title">{conn ? `Edit ${conn.name}` : 'New connection'}</h2>
      <label for="c-name">Name<input id="c-name" value={name} required onInput={(e) => setName(e.currentTarget.value)} {...inv('name')} /></label>
      {fieldErr('name')}
      <label for="c-url">URL<input id="c-url" type="url" value={url} required onInput={(e) => setUrl(e.currentTarget.value)} {...inv('url')} /></label>
      {fieldErr('url')}
      <fieldset class="choices" {...inv('triggers')}>
        <legend>Triggers (one or more)</legend>
        {TRIGGERS.map((t) => (
          <label><input type="checkbox" name="triggers" value={t} checked={triggers.includes(t)} onChange={() => toggle(triggers, setTriggers, t)} /> {t}</label>
        ))}
      </fieldset>
      {fieldErr('triggers')}
      <fieldset class="choices" {...inv('fields')}>
        <legend>Data fields (none ticked: all of them)</legend>
        {allFields.map((f) => (
          <label><input type="checkbox" name="fields" value={f} checked={fields.includes(f)} onChange={() => toggle(fields, setFields, f)} /> {f}</label>
        ))}
      </fieldset>
      {fieldErr('fields')}
      {conn && (
        <label><input type="checkbox" role="switch" checked={enabled} onChange={(e) => setEnabled(e.currentTarget.checked)} /> On</label>
      )}
      {err.message && !err.field && <p class="field-error" role="alert">{err.message}</p>}
      <details open>
        <summary>Payload preview</summary>
        <pre data-testid="preview" aria-live="polite">{preview(fields, custom, session.me && session.me.channel)}</pre>
      </details>
      <div class="row-actions">
        <button type="submit" aria-busy={busy ? 'true' : undefined} disabled={busy}>{conn ? 'Save' : 'Create'}</button>
        <button type="button" class="secondary" onClick={onCancel}>Cancel</button>
      </div>
    </form>
  );
}

// KeepButton takes the focus when a delete asks for confirmation: the
// Delete button it replaces is gone.
function KeepButton({ onClick }) {
  const ref = useRef(null);
  useEffect(() => { if (ref.current) ref.current.focus(); }, []);
  return <button type="button" class="secondary" ref={ref} onClick={onClick}>Keep</button>;
}

export function Connections() {
  const [list, setList] = useState(null);
  const [last, setLast] = useState({});
  const [error, setError] = useState('');
  const [editing, setEditing] = useState(null); // null, 'new' or a connection
  const [confirm, setConfirm] = useState('');
  const [secret, setSecret] = useState('');
  const load = async () => {
    try {
      const r = await api('GET', 'v1/connections');
      setList(r.data);
      const out = {};
      await Promise.all(r.data.slice(0, 20).map(async (c) => {
        try {
          const a = await api('GET', `v1/connections/${c.id}/activity`);
          out[c.id] = a.data[0] || null;
        } catch { out[c.id] = null; }
      }));
      setLast(out);
    } catch (e) { setError(e.message); }
  };
  useEffect(() => { load(); }, []);
  const remove = async (c) => {
    try { await api('DELETE', `v1/connections/${c.id}`); setConfirm(''); load(); } catch (e) { setError(e.message); }
  };
  if (editing) {
    return (
      <ConnectionForm conn={editing === 'new' ? null : editing} onCancel={() => setEditing(null)}
        onSaved={(c) => { setEditing(null); if (c.secret) setSecret(c.secret); load(); }} />
    );
  }
  return (
    <section aria-labelledby="conns-title">
      <h1 id="conns-title">Connections</h1>
      <Secret secret={secret} onDone={() => setSecret('')} />
      {error && <p class="field-error" role="alert">{error}</p>}
      <button type="button" onClick={() => setEditing('new')}>New connection</button>
      {list === null ? <p aria-busy="true">Loading…</p> : list.length === 0 ? <p>No connections yet.</p> : (
        <div class="scroll">
          <table class="cards">
            <thead><tr><th scope="col">Name</th><th scope="col">URL</th><th scope="col">Triggers</th><th scope="col">State</th><th scope="col">Last result</th><th scope="col">Actions</th></tr></thead>
            <tbody>
              {list.map((c) => {
                const s = stateOf(c);
                const a = last[c.id];
                return (
                  <tr data-connection={c.id}>
                    <td data-label="Name"><a href={`#/connections/${c.id}`}>{c.name}</a></td>
                    <td data-label="URL" class="url">{c.url}</td>
                    <td data-label="Triggers">{c.triggers.join(', ')}</td>
                    <td data-label="State" class={s.cls}>{s.text}</td>
                    <td data-label="Last result">{a ? <><span class={codeClass(a.http_code)}>{a.http_code || a.outcome}</span> <small>{fmtTime(a.time)}</small></> : <small>none</small>}</td>
                    <td data-label="Actions">
                      {confirm === c.id ? (
                        <div class="row-actions" role="group" aria-label={`Delete ${c.name}?`}>
                          <span>Delete {c.name}?</span>
                          <button type="button" class="contrast" onClick={() => remove(c)}>Yes, delete</button>
                          <KeepButton onClick={() => setConfirm('')} />
                        </div>
                      ) : (
                        <div class="row-actions">
                          <a role="button" href={`#/connections/${c.id}`}>Activity</a>
                          <button type="button" class="secondary" onClick={() => setEditing(c)}>Edit</button>
                          <button type="button" class="secondary" onClick={() => setConfirm(c.id)}>Delete</button>
                        </div>
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
