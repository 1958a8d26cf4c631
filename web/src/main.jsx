import '@picocss/pico/css/pico.classless.min.css';
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { render } from 'preact';
import { useEffect, useState, useCallback } from 'preact/hooks';
import { api, token, session } from './api.js';
import { Connections } from './connections.jsx';
import { Activity } from './activity.jsx';
import { Dead } from './dead.jsx';
import { Contacts } from './contacts.jsx';
import { Messages } from './messages.jsx';

// Routes live in the hash (#/connections/conn_…): the page is one file.
function useHash() {
  const [hash, setHash] = useState(location.hash || '#/connections');
  useEffect(() => {
    const on = () => setHash(location.hash || '#/connections');
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash;
}

function SignIn({ onSignedIn }) {
  const [value, setValue] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      const me = await api('GET', 'v1/me', undefined, value.trim());
      token.set(value.trim());
      onSignedIn(me.data);
    } catch (err) {
      setError(err.status === 401 ? 'That token is not valid.' : err.message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main>
      <h1>Chat backend panel</h1>
      <form onSubmit={submit} aria-describedby="signin-help">
        <label for="token">Channel API token
          <input id="token" name="token" type="password" autocomplete="off" required value={value}
            onInput={(e) => setValue(e.currentTarget.value)} aria-invalid={error ? 'true' : undefined}
            aria-describedby="token-error" />
        </label>
        <small id="token-error" role="alert">{error}</small>
        <p id="signin-help"><small>The token stays in this tab's session storage and is sent only to this API; signing out removes it.</small></p>
        <button type="submit" aria-busy={busy ? 'true' : undefined} disabled={busy}>Sign in</button>
      </form>
    </main>
  );
}

const NAV = [
  ['#/connections', 'Connections'],
  ['#/dead', 'Dead deliveries'],
  ['#/contacts', 'Contacts'],
  ['#/messages', 'Messages'],
];

function App() {
  const [me, setMe] = useState(null);
  const [checking, setChecking] = useState(!!token.get());
  const hash = useHash();
  const signOut = useCallback(() => { token.clear(); session.me = null; setMe(null); }, []);
  const signedIn = useCallback((m) => { session.me = m; setMe(m); }, []);
  // A new page moves the keyboard focus to its heading (as a page load
  // would put a screen reader at the top).
  useEffect(() => {
    const h = document.querySelector('main h1');
    if (h && me) { h.setAttribute('tabindex', '-1'); h.focus({ preventScroll: true }); }
  }, [hash, me]);
  useEffect(() => {
    if (!token.get()) return;
    api('GET', 'v1/me').then((r) => signedIn(r.data)).catch(() => token.clear()).finally(() => setChecking(false));
  }, []);
  useEffect(() => {
    addEventListener('panel:unauthorized', signOut);
    return () => removeEventListener('panel:unauthorized', signOut);
  }, [signOut]);
  if (checking) return <main aria-busy="true">Loading…</main>;
  if (!me) return <SignIn onSignedIn={signedIn} />;
  const parts = hash.slice(2).split('/');
  let page;
  if (parts[0] === 'connections' && parts[1]) page = <Activity id={decodeURIComponent(parts[1])} />;
  else if (parts[0] === 'dead') page = <Dead />;
  else if (parts[0] === 'contacts') page = <Contacts id={parts[1] ? decodeURIComponent(parts[1]) : ''} channel={me.channel} />;
  else if (parts[0] === 'messages') page = <Messages channel={me.channel} />;
  else page = <Connections />;
  return (
    <>
      <header>
        <nav aria-label="Main">
          <ul><li><strong>{me.tenant.name}</strong> · {me.channel.name || me.channel.id} <small>({me.channel.kind})</small></li></ul>
          <ul>
            {NAV.map(([href, label]) => (
              <li><a href={href} aria-current={hash.startsWith(href) ? 'page' : undefined}>{label}</a></li>
            ))}
            <li><button type="button" class="secondary" onClick={signOut}>Sign out</button></li>
          </ul>
        </nav>
      </header>
      <main>{page}</main>
    </>
  );
}

// Into body itself: Pico's classless layout styles body > header and body > main.
render(<App />, document.body);
