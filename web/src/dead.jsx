import { useEffect, useState } from 'preact/hooks';
import { api } from './api.js';
import { fmtTime, codeClass } from './util.js';

export function Dead() {
  const [items, setItems] = useState(null);
  const [next, setNext] = useState(null);
  const [msg, setMsg] = useState('');
  const [error, setError] = useState('');
  const load = async (cursor) => {
    try {
      const r = await api('GET', 'v1/deliveries/dead?limit=20' + (cursor ? '&cursor=' + encodeURIComponent(cursor) : ''));
      setItems((old) => (cursor && old ? [...old, ...r.data] : r.data));
      setNext(r.links && r.links.next ? new URL(r.links.next, location.href).searchParams.get('cursor') : null);
    } catch (e) { setError(e.message); }
  };
  useEffect(() => { load(); }, []);
  const redrive = async (d) => {
    setError(''); setMsg('');
    try {
      await api('POST', `v1/deliveries/dead/${d.id}/redrive`);
      setMsg(`Delivery ${d.id} queued again.`);
      setItems((old) => old.filter((x) => x.id !== d.id));
    } catch (e) { setError(e.message); }
  };
  return (
    <section aria-labelledby="dead-title">
      <h1 id="dead-title">Dead deliveries</h1>
      <p>Deliveries that ran out of attempts or were refused for good. Redrive queues one again (same webhook-id).</p>
      <p role="status">{msg}</p>
      {error && <p class="field-error" role="alert">{error}</p>}
      {items === null ? <p aria-busy="true">Loading…</p> : items.length === 0 ? <p>No dead deliveries.</p> : (
        <div class="scroll">
          <table class="cards">
            <thead><tr><th scope="col">Died</th><th scope="col">Connection</th><th scope="col">Trigger</th><th scope="col">Last code</th><th scope="col">Payload</th><th scope="col">Action</th></tr></thead>
            <tbody>
              {items.map((d) => (
                <tr>
                  <td data-label="Died">{fmtTime(d.died_at * 1000)}</td>
                  <td data-label="Connection"><a href={`#/connections/${d.connection_id}`}>{d.connection_id}</a></td>
                  <td data-label="Trigger">{d.trigger}</td>
                  <td data-label="Last code">{d.last_attempt ? <span class={codeClass(d.last_attempt.http_code)}>{d.last_attempt.http_code || d.last_attempt.outcome}</span> : ''}</td>
                  <td data-label="Payload"><details><summary>Show</summary><pre>{d.payload}</pre></details></td>
                  <td data-label="Action"><button type="button" onClick={() => redrive(d)}>Redrive</button></td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {next && <button type="button" class="secondary" onClick={() => load(next)}>More</button>}
    </section>
  );
}
