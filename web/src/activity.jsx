import { useEffect, useState } from 'preact/hooks';
import { api } from './api.js';
import { fmtTime, codeClass, stateOf } from './util.js';
import { ConnectionForm, Secret } from './connections.jsx';
import { Chart } from './chart.jsx';

// headerText is the recorded headers, one "Name: value" a line, sorted;
// attempts logged before headers were recorded (and those that sent
// nothing) have none.
function headerText(h) {
  const names = Object.keys(h || {}).sort();
  if (names.length === 0) return '(not recorded: nothing was sent, or the attempt predates header recording)';
  return names.map((n) => `${n}: ${h[n]}`).join('\n');
}

function pretty(body) {
  try { return JSON.stringify(JSON.parse(body), null, 2); } catch { return body; }
}

function Detail({ a, onClose, onReplay }) {
  return (
    <article aria-labelledby="detail-title" data-testid="detail">
      <header><h3 id="detail-title">Delivery {a.webhook_id}, attempt {a.attempt}</h3></header>
      <p><span class={codeClass(a.http_code)}>{a.http_code}</span> {a.outcome} · {a.duration_ms} ms · {fmtTime(a.time)} · trigger {a.trigger || 'test'}{a.final ? ' · final' : ''}</p>
      {a.error && <p class="field-error">{a.error}</p>}
      <h4>Request headers (exactly as sent)</h4>
      <pre data-testid="request-headers">{headerText(a.request_headers)}</pre>
      <h4>Request body (exactly as sent)</h4>
      <pre data-testid="request-body">{a.request_body}</pre>
      <details><summary>Request body, formatted</summary><pre>{pretty(a.request_body)}</pre></details>
      <h4>Response body</h4>
      <pre data-testid="response-body">{a.response_body || '(empty)'}</pre>
      <footer class="row-actions">
        {a.trigger && <button type="button" onClick={() => onReplay(a)}>Replay</button>}
        <button type="button" class="secondary" onClick={onClose}>Close</button>
      </footer>
    </article>
  );
}

export function Activity({ id }) {
  const [conn, setConn] = useState(null);
  const [attempts, setAttempts] = useState([]);
  const [stats, setStats] = useState([]);
  const [open, setOpen] = useState(null);
  const [msg, setMsg] = useState('');
  const [error, setError] = useState('');
  const [editing, setEditing] = useState(false);
  const [secret, setSecret] = useState('');
  const [busy, setBusy] = useState('');
  const load = async () => {
    try {
      const r = await api('GET', `v1/connections/${id}/activity`);
      setConn(r.connection);
      setAttempts(r.data);
      setStats(r.stats || []);
    } catch (e) { setError(e.message); }
  };
  useEffect(() => { load(); }, [id]);
  const run = async (label, fn) => {
    setBusy(label); setError(''); setMsg('');
    try { await fn(); } catch (e) { setError(e.message); } finally { setBusy(''); }
  };
  const test = () => run('test', async () => {
    const r = await api('POST', `v1/connections/${id}/test`);
    setMsg(`Test sent: ${r.data.http_code || r.data.outcome} in ${r.data.duration_ms} ms.`);
    await load();
  });
  const replay = (a) => run('replay', async () => {
    await api('POST', `v1/connections/${id}/activity/${a.webhook_id}/replay`);
    setMsg(`Delivery ${a.webhook_id} queued again; refresh to see its attempt.`);
    setOpen(null);
  });
  const rotate = () => run('rotate', async () => {
    const r = await api('POST', `v1/connections/${id}/secret`);
    setSecret(r.data.secret);
  });
  if (error && !conn) return <p class="field-error" role="alert">{error}</p>;
  if (!conn) return <p aria-busy="true">Loading…</p>;
  if (editing) return <ConnectionForm conn={conn} onCancel={() => setEditing(false)} onSaved={() => { setEditing(false); load(); }} />;
  const s = stateOf(conn);
  return (
    <section aria-labelledby="act-title">
      <p><a href="#/connections">← Connections</a></p>
      <h1 id="act-title">{conn.name}</h1>
      <p class="url"><code>{conn.url}</code></p>
      <p>Triggers: {conn.triggers.join(', ')} · <span class={s.cls}>{s.text}</span></p>
      <div class="row-actions">
        <button type="button" onClick={test} aria-busy={busy === 'test' ? 'true' : undefined}>Send test</button>
        <button type="button" class="secondary" onClick={load}>Refresh</button>
        <button type="button" class="secondary" onClick={() => setEditing(true)}>Edit</button>
        <button type="button" class="secondary" onClick={rotate}>Rotate secret</button>
      </div>
      <Secret secret={secret} onDone={() => setSecret('')} />
      <p role="status">{msg}</p>
      {error && <p class="field-error" role="alert">{error}</p>}
      <Chart stats={stats} />
      {open && <Detail a={open} onClose={() => setOpen(null)} onReplay={replay} />}
      <h2>Last 10 attempts</h2>
      {attempts.length === 0 ? <p>No attempts yet.</p> : (
        <div class="scroll">
          <table class="cards">
            <thead><tr><th scope="col">Time</th><th scope="col">Code</th><th scope="col">Outcome</th><th scope="col">Duration</th><th scope="col">Attempt</th><th scope="col" class="hide-narrow">Trigger</th><th scope="col">Details</th></tr></thead>
            <tbody>
              {attempts.map((a) => (
                <tr data-webhook={a.webhook_id}>
                  <td data-label="Time">{fmtTime(a.time)}</td>
                  <td data-label="Code"><span class={codeClass(a.http_code)}>{a.http_code}</span></td>
                  <td data-label="Outcome">{a.outcome}</td>
                  <td data-label="Duration">{a.duration_ms} ms</td>
                  <td data-label="Attempt">{a.attempt}</td>
                  <td data-label="Trigger" class="hide-narrow">{a.trigger || 'test'}</td>
                  <td data-label="Details"><button type="button" class="secondary" onClick={() => setOpen(a)} aria-label={`Open attempt ${a.attempt} of ${a.webhook_id}`}>Open</button></td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
