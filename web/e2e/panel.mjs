// The panel's browser test, run by shared/dashboard/browsertest against a
// local stack it started: playwright-core drives Debian's chromium.
// Flow: sign in → create a connection (to the test's receiver) → update a
// contact's email through the API → the delivery appears with code 200 in
// the activity report → open it and see the body → replay it → it appears
// again; a message sent is listed with its status on the messages page;
// no console errors, no request to another origin, no horizontal
// scroll at 360 px, visible keyboard focus, sign out clears the token.
// Settings come from the environment (never the token in a URL):
// PANEL_URL, PANEL_TOKEN, PANEL_RECEIVER, PANEL_CONTACT, PANEL_SHOTS.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';

const env = (k) => { const v = process.env[k]; if (!v) throw new Error(`${k} is not set`); return v; };
const PANEL = env('PANEL_URL'), TOKEN = env('PANEL_TOKEN'), RECEIVER = env('PANEL_RECEIVER');
const CONTACT = env('PANEL_CONTACT'), SHOTS = env('PANEL_SHOTS'), TOKEN_WA = env('PANEL_TOKEN_WA');
const CONTACT_WA = env('PANEL_CONTACT_WA');
const origin = new URL(PANEL).origin;
const EMAIL = 'panel-test@example.com';
// The receiver refuses (400) a delivery with this email: a dead delivery.
const REFUSE = 'refuse@example.com';

async function putEmail(email) {
  const put = await fetch(new URL(`v1/contact/${CONTACT}`, new URL('../', PANEL)), {
    method: 'PUT',
    headers: { Authorization: 'Bearer ' + TOKEN, 'Content-Type': 'application/json' },
    body: JSON.stringify({ custom_fields: [{ name: 'email', value: email }] }),
  });
  check(put.ok, 'contact update: ' + put.status + ' ' + await put.text());
}

const problems = [];
const step = (s) => console.log('step:', s);
function check(ok, what) { if (!ok) throw new Error(what); }

// expecting runs fn, in which the API answers status on purpose: Chromium
// logs such an answer as a console error, which is then not a problem.
async function expecting(status, fn) {
  const before = problems.length;
  await fn();
  const kept = problems.slice(before).filter((p) => !p.includes(`status of ${status} `));
  problems.splice(before, problems.length - before, ...kept);
}

async function until(what, fn, ms = 60000) {
  const end = Date.now() + ms;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > end) throw new Error('timed out: ' + what);
    await new Promise((r) => setTimeout(r, 500));
  }
}

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox'] });
let failed = null;
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error') problems.push('console error: ' + m.text()); });
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.protocol !== 'data:' && u.origin !== origin) problems.push('request to another origin: ' + r.url());
    if (r.url().includes(TOKEN) || r.url().includes(TOKEN_WA)) problems.push('the token in a URL: ' + r.url());
  });
  // The panel's script and styles travel compressed, as API Gateway sends
  // them (minimumCompressionSize).
  const assets = [];
  page.on('response', (r) => {
    if (/\/dashboard\/.+\.(js|css)$/.test(new URL(r.url()).pathname)) assets.push([r.url(), r.headers()['content-encoding']]);
  });
  page.setDefaultTimeout(20000);

  step('sign in');
  await page.goto(PANEL);
  // A wrong token first: refused at the form.
  await expecting(401, async () => {
    await page.getByLabel('Channel API token').fill('ct_not_a_token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('That token is not valid.').waitFor();
  });
  await page.getByLabel('Channel API token').fill(TOKEN);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Connections' }).waitFor();
  check(assets.length >= 2 && assets.every(([, enc]) => enc === 'gzip'), 'the script and styles did not come gzip-encoded: ' + JSON.stringify(assets));
  check(!page.url().includes(TOKEN), 'the token is in the URL');
  check(await page.evaluate(() => sessionStorage.getItem('chatbackend.token')) === TOKEN, 'the token is not in session storage');
  check(await page.evaluate(() => localStorage.length) === 0, 'something was written to local storage');

  step('create a connection');
  await page.getByRole('button', { name: 'New connection' }).click();
  await page.getByLabel('Name', { exact: true }).fill('CRM');
  await page.getByLabel('URL', { exact: true }).fill('ftp://crm.example.com/hook');
  const urlError = page.locator('#err-url');
  await expecting(422, async () => {
    await page.getByRole('button', { name: 'Create' }).click();
    await urlError.waitFor();
  });
  check((await urlError.textContent()).startsWith('url:'), 'the API\'s url error is not shown at the field');
  check(await page.getByLabel('URL', { exact: true }).getAttribute('aria-invalid') === 'true', 'the URL field is not marked invalid');
  await page.getByLabel('URL', { exact: true }).fill(RECEIVER);
  await page.getByRole('checkbox', { name: 'psid', exact: true }).check();
  await page.getByRole('checkbox', { name: 'email', exact: true }).last().check();
  const preview = JSON.parse(await page.getByTestId('preview').textContent());
  check(Object.keys(preview).join(',') === 'psid,email', 'preview: ' + JSON.stringify(preview));
  await page.getByRole('button', { name: 'Create' }).click();
  const secret = await page.getByTestId('secret').textContent();
  check(secret.startsWith('whsec_'), 'no secret shown after create: ' + secret);
  await page.getByRole('button', { name: 'I have copied it' }).click();
  check(await page.getByTestId('secret').count() === 0, 'the secret is still shown');
  const row = page.locator('tr', { hasText: 'CRM' });
  await row.waitFor();
  check((await row.textContent()).includes(RECEIVER), 'the row does not show the URL');

  step('update a contact\'s email through the API');
  await putEmail(EMAIL);

  step('the delivery appears with code 200');
  await row.getByRole('button', { name: 'Activity' }).click();
  await page.getByRole('heading', { name: 'CRM' }).waitFor();
  const attempts = page.locator('tr[data-webhook]');
  await until('a delivery with code 200', async () => {
    await page.getByRole('button', { name: 'Refresh' }).click();
    await page.waitForTimeout(300);
    return (await attempts.count()) > 0 && (await attempts.first().locator('td').nth(1).textContent()) === '200';
  });
  const connID = new URL(page.url()).hash.split('/')[2];
  const first = attempts.first();
  const webhookID = await first.getAttribute('data-webhook');
  check(await first.locator('.code-2xx').count() === 1, 'the code is not coloured as a 2xx');
  // The 24 h chart is drawn from the hourly counters: it counts the delivery.
  const total = Number(await page.locator('#chart').getAttribute('data-total'));
  check(total >= 1, 'the 24 h chart counts no attempt: ' + total);

  step('open it and see the body');
  await first.getByRole('button', { name: /^Open attempt/ }).click();
  const body = await page.getByTestId('request-body').textContent();
  check(JSON.parse(body).email === EMAIL, 'request body: ' + body);
  // The receiver answers the webhook-id and signature it got: the headers
  // shown are the ones recorded as sent, not a reconstruction.
  const echoed = JSON.parse(await page.getByTestId('response-body').textContent());
  const shown = await page.getByTestId('request-headers').textContent();
  check(echoed.id === webhookID && shown.includes('Webhook-Id: ' + webhookID), 'headers do not show the webhook-id the receiver got: ' + shown);
  check(echoed.signature.startsWith('v1,') && shown.includes('Webhook-Signature: ' + echoed.signature), 'headers do not show the signature the receiver got: ' + shown);
  await page.screenshot({ path: `${SHOTS}/panel-desktop.png`, fullPage: true });

  step('replay it: it appears again');
  await page.getByRole('button', { name: 'Replay' }).click();
  await page.getByText(`Delivery ${webhookID} queued again`).waitFor();
  await until('the replayed delivery', async () => {
    await page.getByRole('button', { name: 'Refresh' }).click();
    await page.waitForTimeout(300);
    return (await page.locator(`tr[data-webhook="${webhookID}"]`).count()) >= 2;
  });

  step('send a test; rotate the secret (shown once); edit');
  await page.getByRole('button', { name: 'Send test' }).click();
  await page.getByText(/^Test sent: 200 in \d+ ms\.$/).waitFor();
  await page.getByRole('button', { name: 'Rotate secret' }).click();
  const rotated = await page.getByTestId('secret').textContent();
  check(rotated.startsWith('whsec_') && rotated !== secret, 'no new secret shown after rotation');
  await page.getByRole('button', { name: 'I have copied it' }).click();
  await page.getByRole('button', { name: 'Edit' }).click();
  await page.getByLabel('Name', { exact: true }).fill('CRM main');
  await page.getByRole('checkbox', { name: 'phone', exact: true }).first().check();
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByRole('heading', { name: 'CRM main' }).waitFor();
  await page.getByText('Triggers: email, phone').waitFor();

  step('a refused delivery is dead: redrive it');
  await putEmail(REFUSE);
  await page.getByRole('link', { name: 'Dead deliveries' }).click();
  await page.getByRole('heading', { name: 'Dead deliveries' }).waitFor();
  const dead = page.locator('tr', { hasText: 'email' });
  await until('the dead delivery', async () => {
    await page.reload();
    await page.getByRole('heading', { name: 'Dead deliveries' }).waitFor();
    await page.waitForLoadState('networkidle');
    return (await dead.count()) > 0;
  });
  check((await dead.first().locator('.code-4xx').textContent()) === '400', 'the dead delivery\'s last code is not 400');
  await dead.first().getByRole('button', { name: 'Redrive' }).click();
  await page.getByText(/queued again/).waitFor();

  step('contacts: search by field, a contact, its tags');
  await page.getByRole('link', { name: 'Contacts' }).click();
  await page.getByLabel('Field').selectOption('email');
  await page.getByLabel('Value').fill(REFUSE);
  await page.getByRole('button', { name: 'Search' }).click();
  await page.getByRole('link', { name: CONTACT }).click();
  await page.getByRole('heading', { name: `Contact ${CONTACT}` }).waitFor();
  check((await page.locator('tr', { hasText: 'email' }).first().textContent()).includes(REFUSE), 'the contact\'s email is not shown');
  await page.getByLabel('New tag').fill('vip');
  await page.getByRole('button', { name: 'Add tag' }).click();
  await page.getByRole('button', { name: 'Remove tag vip' }).waitFor();
  await page.getByText('No messages with this contact on this channel.').waitFor();

  step('messages');
  await page.getByRole('link', { name: 'Messages' }).click();
  await page.getByRole('heading', { name: 'Messages', exact: true }).waitFor();
  await page.getByText('Message templates belong to WhatsApp channels').waitFor();

  step('keyboard focus is visible');
  await page.locator('body').click({ position: { x: 1, y: 1 } });
  let focused = false;
  for (let i = 0; i < 6 && !focused; i++) {
    await page.keyboard.press('Tab');
    focused = await page.evaluate(() => {
      const el = document.activeElement;
      if (!el || el === document.body) return false;
      const s = getComputedStyle(el);
      return s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2;
    });
  }
  check(focused, 'no visible focus outline after Tab');

  step('360 px wide: no horizontal scroll');
  await page.setViewportSize({ width: 360, height: 800 });
  for (const hash of ['#/connections', `#/connections/${connID}`, '#/dead', '#/contacts', `#/contacts/${CONTACT}`, '#/messages']) {
    await page.goto(PANEL + hash);
    await page.waitForLoadState('networkidle');
    await page.waitForTimeout(300);
    const [sw, cw, wide] = await page.evaluate(() => {
      const cw = document.documentElement.clientWidth;
      const wide = [...document.querySelectorAll('body *')].filter((e) => !e.closest('.scroll') && e.getBoundingClientRect().right > cw + 0.5)
        .slice(0, 3).map((e) => { const r = e.getBoundingClientRect(), st = getComputedStyle(e); return `${e.tagName.toLowerCase()} "${(e.textContent || '').slice(0, 30)}" [${Math.round(r.left)}..${Math.round(r.right)}, margin ${st.marginLeft} ${st.marginRight}]`; });
      return [document.documentElement.scrollWidth, cw, wide];
    });
    check(sw <= cw, `${hash}: the page scrolls sideways at 360 px (${sw} > ${cw}): ${wide.join(' | ')}`);
  }
  await page.goto(PANEL + '#/connections');
  await page.locator('tr', { hasText: 'CRM' }).waitFor();
  await page.screenshot({ path: `${SHOTS}/panel-360.png`, fullPage: true });

  step('delete a connection after a confirmation');
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.locator('tr', { hasText: 'CRM main' }).getByRole('button', { name: 'Delete' }).click();
  await page.getByRole('group', { name: 'Delete CRM main?' }).getByRole('button', { name: 'Keep' }).click();
  await page.locator('tr', { hasText: 'CRM main' }).getByRole('button', { name: 'Delete' }).click();
  await page.getByRole('button', { name: 'Yes, delete' }).click();
  await page.getByText('No connections yet.').waitFor();

  step('sign out clears the token');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByLabel('Channel API token').waitFor();
  check(await page.evaluate(() => sessionStorage.getItem('chatbackend.token')) === null, 'the token is still in session storage');

  step('a WhatsApp channel: its template registry with review states');
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.getByLabel('Channel API token').fill(TOKEN_WA);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('link', { name: 'Messages' }).click();
  const tpl = (name) => page.locator('tr', { hasText: name });
  await tpl('order_update').waitFor();
  check((await tpl('order_update').locator('mark').textContent()) === 'APPROVED', 'order_update is not shown APPROVED');
  check((await tpl('promo_blast').textContent()).includes('REJECTED — INVALID_FORMAT'), 'promo_blast is not shown REJECTED with its reason');
  await page.getByLabel('Review state').selectOption('APPROVED');
  await until('the approved templates only', async () => (await tpl('promo_blast').count()) === 0, 10000);
  check(await tpl('order_update').count() === 1, 'the approved template is not listed under APPROVED');

  step('send a message from a contact: the API refuses free text outside the 24-hour window, shown as it says');
  await page.goto(PANEL + `#/contacts/${CONTACT_WA}`);
  await page.getByRole('heading', { name: `Contact ${CONTACT_WA}` }).waitFor();
  await page.getByLabel(/Send a text/).fill('Hello from the panel');
  await expecting(422, async () => {
    await page.getByRole('button', { name: 'Send', exact: true }).click();
    await page.locator('[role=alert]', { hasText: '24' }).waitFor();
  });

  step('a message sent through the API is among the channel\'s recent messages, with its status');
  const apiWA = (method, path, body) => fetch(new URL(path, new URL('../', PANEL)), {
    method, headers: { Authorization: 'Bearer ' + TOKEN_WA, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const sent = await apiWA('POST', 'v1/messages', { contact_id: CONTACT_WA, type: 'template', template: { name: 'order_update', language: 'en' } });
  check(sent.status === 202, 'template send: ' + sent.status);
  const msgID = (await sent.json()).data.id;
  await page.getByRole('link', { name: 'Messages' }).click();
  const msgRow = page.locator(`tr[data-id="${msgID}"]`).first();
  let msgShown = '', msgActual = '';
  await until('the sent message listed with the status the API gives', async () => {
    await page.reload();
    await page.getByRole('heading', { name: 'Recent messages' }).waitFor();
    await page.waitForLoadState('networkidle');
    if ((await msgRow.count()) === 0) return false;
    msgShown = (await msgRow.locator('.msg-status').textContent()).split(' ')[0];
    msgActual = (await (await apiWA('GET', `v1/messages/${msgID}`)).json()).data.status;
    return msgShown === msgActual;
  }, 30000);
  check(['queued', 'held', 'sent', 'delivered', 'read', 'completed', 'failed'].includes(msgShown), `the sent message's status shown is ${msgShown}`);
  check((await msgRow.textContent()).includes('outbound') && (await msgRow.textContent()).includes('template'), 'the sent message\'s direction and type are not shown');
  await page.getByLabel("A message's status by its ID").fill(msgID);
  await page.getByRole('button', { name: 'Look up' }).click();
  await until('the looked-up message', async () => (await page.locator(`tr[data-id="${msgID}"]`).count()) === 2, 10000);

  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByLabel('Channel API token').waitFor();

  check(problems.length === 0, problems.join('\n'));
} catch (e) {
  failed = e;
} finally {
  await browser.close();
}
if (failed) {
  console.error('FAIL:', failed.message);
  if (problems.length) console.error(problems.join('\n'));
  process.exit(1);
}
console.log('ok');
