'use strict';

const http = require('node:http');
const zapier = require('zapier-platform-core');

const App = require('../index');
const { env, api, unique } = require('./env');
const { customInputFields } = require('../lib/fields');

const appTester = zapier.createAppTester(App);
const authData = { api_key: env.TOKEN, account_secret: env.ACCOUNT_SECRET };
const tag = unique();

describe('authentication', () => {
  it('passes with the channel token and labels the connection from /v1/me', async () => {
    const me = await appTester(App.authentication.test, { authData });
    expect(me.tenant.id).toMatch(/^ten_/);
    expect(me.channel.id).toMatch(/^ch_/);
    const label = await appTester(App.authentication.connectionLabel, { authData, inputData: me });
    expect(label).toContain(me.tenant.name);
    expect(label).toContain(me.channel.name);
  });

  it('fails a bad key with our API\'s message', async () => {
    await expect(appTester(App.authentication.test, { authData: { api_key: 'ct_not_a_token' } })).rejects.toThrow(
      'API Token is invalid.',
    );
  });
});

describe('contacts', () => {
  let field;
  let contactID;
  const email = `zap-${tag}@example.com`;

  beforeAll(async () => {
    const r = await api('POST', '/v1/contact_fields', { body: { name: `Plan${tag}`, type: 'list', options: ['gold', 'silver'] } });
    expect(r.status).toBe(201);
    field = r.json.data;
  });
  afterAll(async () => {
    if (field) {
      await api('DELETE', `/v1/contact_fields/${field.id}`);
    }
  });

  it('loads the tenant\'s custom fields as input fields', async () => {
    const fields = await appTester(customInputFields, { authData });
    const f = fields.find((x) => x.key === `custom__${field.id}`);
    expect(f).toMatchObject({ label: field.name, choices: ['gold', 'silver'] });
  });

  it('creates a contact with a custom field and tags', async () => {
    const c = await appTester(App.creates.create_contact.operation.perform, {
      authData,
      inputData: { firstName: 'Ana', email, [`custom__${field.id}`]: 'gold', tags: [`t${tag}`] },
    });
    contactID = c.id;
    expect(c.email).toBe(email);
    expect(c[field.name]).toBe('gold');
    expect(c.tags).toEqual([`t${tag}`]);
  });

  it('refuses a bad value with our API\'s message', async () => {
    await expect(
      appTester(App.creates.create_contact.operation.perform, {
        authData,
        inputData: { [`custom__${field.id}`]: 'bronze' },
      }),
    ).rejects.toThrow(/bronze|option|one of/i);
  });

  it('updates the contact it finds by email, creates one it does not find', async () => {
    const u = await appTester(App.creates.update_contact.operation.perform, {
      authData,
      inputData: { lookup_field: 'email', lookup_value: email, lastName: 'Updated' },
    });
    expect(u).toMatchObject({ id: contactID, created: false, lastName: 'Updated', firstName: 'Ana' });
    const other = `zap-new-${tag}@example.com`;
    const n = await appTester(App.creates.update_contact.operation.perform, {
      authData,
      inputData: { lookup_field: 'email', lookup_value: other, firstName: 'Ben' },
    });
    expect(n.created).toBe(true);
    expect(n.id).not.toBe(contactID);
    expect(n.email).toBe(other);
  });

  it('finds by phone as the channel reads it (a local number in its default country)', async () => {
    const digits = String(Math.floor(1e6 + Math.random() * 9e6));
    const local = `0324${digits}`;
    const n = await appTester(App.creates.update_contact.operation.perform, {
      authData,
      inputData: { lookup_field: 'phone', lookup_value: local, firstName: 'Cy' },
    });
    expect(n).toMatchObject({ created: true, phone: `+92324${digits}`, firstName: 'Cy' });
    const u = await appTester(App.creates.update_contact.operation.perform, {
      authData,
      inputData: { lookup_field: 'phone', lookup_value: `+92324${digits}`, lastName: 'Dee' },
    });
    expect(u).toMatchObject({ id: n.id, created: false, firstName: 'Cy', lastName: 'Dee' });
  });

  it('adds and removes tags', async () => {
    let c = await appTester(App.creates.add_tag.operation.perform, {
      authData,
      inputData: { contact_id: contactID, tags: ['vip'] },
    });
    expect(c.tags).toEqual(expect.arrayContaining([`t${tag}`, 'vip']));
    c = await appTester(App.creates.remove_tag.operation.perform, {
      authData,
      inputData: { contact_id: contactID, tags: ['vip'] },
    });
    expect(c.tags).toEqual([`t${tag}`]);
  });

  it('finds the contact by a custom field', async () => {
    const fields = await appTester(App.triggers.contact_field_list.operation.perform, { authData });
    expect(fields.map((f) => f.id)).toEqual(expect.arrayContaining(['email', 'phone', field.name]));
    const found = await appTester(App.searches.find_contact.operation.perform, {
      authData,
      inputData: { field: field.name, value: 'gold' },
    });
    expect(found.map((c) => c.id)).toContain(contactID);
    const none = await appTester(App.searches.find_contact.operation.perform, {
      authData,
      inputData: { field: field.name, value: 'silver' },
    });
    expect(none).toEqual([]);
  });

  it('enrolls the contact in an automation with the account secret, and says why without it', async () => {
    const autos = await appTester(App.triggers.automation_list.operation.perform, { authData });
    expect(autos.map((a) => a.id)).toContain(env.AUTOMATION_ID);
    const run = await appTester(App.creates.enroll_in_automation.operation.perform, {
      authData,
      inputData: { contact_id: contactID, automation_id: env.AUTOMATION_ID },
    });
    expect(run).toMatchObject({ status: 'success', idAuto: env.AUTOMATION_ID, idContact: contactID });
    expect(run.idRun).toBeTruthy();
    // Enrolled already: the API's own refusal.
    await expect(
      appTester(App.creates.enroll_in_automation.operation.perform, {
        authData,
        inputData: { contact_id: contactID, automation_id: env.AUTOMATION_ID },
      }),
    ).rejects.toThrow(/run|already|active/i);
    await expect(
      appTester(App.creates.enroll_in_automation.operation.perform, {
        authData: { api_key: env.TOKEN },
        inputData: { contact_id: contactID, automation_id: env.AUTOMATION_ID },
      }),
    ).rejects.toThrow('account secret key');
  });
});

describe('messages', () => {
  it('sends a text', async () => {
    const m = await appTester(App.creates.send_message.operation.perform, {
      authData: { api_key: env.TOKEN_SMS },
      inputData: { to: env.DEMO_NUMBER, kind: 'text', text: `Hello ${tag}` },
    });
    expect(m.id).toMatch(/^msg_/);
    expect(m.status).toBe('queued');
    const r = await api('GET', `/v1/messages/${m.id}`, { token: env.TOKEN_SMS });
    expect(r.json.data.text.body).toBe(`Hello ${tag}`);
  });

  it('asks for a template by name and language, and passes the API\'s refusal on', async () => {
    await expect(
      appTester(App.creates.send_message.operation.perform, {
        authData: { api_key: env.TOKEN_SMS },
        inputData: { to: env.DEMO_NUMBER, kind: 'template', template_name: 'no_such_template', template_language: 'en' },
      }),
    ).rejects.toThrow(/template/i);
  });
});

// A local hook receiver: what Zapier's hook URL would get.
const receiver = () =>
  new Promise((resolve) => {
    const got = [];
    const waiters = [];
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        got.push({ path: req.url, body: JSON.parse(body) });
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end('{"status":"success"}');
        waiters.splice(0).forEach((w) => w());
      });
    });
    server.listen(0, '127.0.0.1', () => {
      const wait = async (pred, ms) => {
        const deadline = Date.now() + ms;
        for (;;) {
          const hit = got.find(pred);
          if (hit) {
            return hit;
          }
          const left = deadline - Date.now();
          if (left <= 0) {
            throw new Error(`no matching delivery in ${ms} ms; got ${JSON.stringify(got)}`);
          }
          await new Promise((r) => {
            waiters.push(r);
            setTimeout(r, Math.min(left, 500));
          });
        }
      };
      resolve({ url: `http://127.0.0.1:${server.address().port}`, got, wait, close: () => server.close() });
    });
  });

describe('REST hook triggers', () => {
  let rcv;
  beforeAll(async () => {
    rcv = await receiver();
  });
  afterAll(() => rcv.close());

  it('subscribes, gets a contact update, lists real items, unsubscribes', async () => {
    const op = App.triggers.new_email.operation;
    const sub = await appTester(op.performSubscribe, { authData, targetUrl: `${rcv.url}/email` });
    expect(sub.id).toMatch(/^conn_/);
    expect(sub.data.triggers).toEqual(['email']);

    const email = `hook-${tag}@example.com`;
    const created = await api('POST', '/v1/contact', {
      body: { custom_fields: [{ name: 'firstName', value: 'Hooked' }, { name: 'email', value: email }] },
    });
    expect(created.status).toBe(200);
    const id = created.json.data.id;
    const hit = await rcv.wait((d) => d.path === '/email' && d.body.psid === id, 30000);
    expect(hit.body).toMatchObject({ email, first_name: 'Hooked', psid: id });

    const items = await appTester(op.perform, { authData, cleanedRequest: hit.body });
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ id: `${id}:${email}`, psid: id, email });

    // The editor's list: real recent items of the channel, no sample.
    const list = await appTester(op.performList, { authData });
    expect(list.length).toBeGreaterThan(0);
    for (const item of list) {
      expect(item.psid).not.toBe('12765756');
      expect(item.email).toMatch(/@example\.com$/);
      expect(item.id).toBeTruthy();
    }

    await appTester(op.performUnsubscribe, { authData, subscribeData: sub });
    const again = await api('DELETE', `/v1/hooks/${sub.id}`);
    expect(again.status).toBe(404);
    expect(again.json.message).toMatch(/not found/i);
  });

  it('subscribes to inbound messages and status changes, and lists them', async () => {
    for (const key of ['new_inbound_message', 'message_status_changed']) {
      const op = App.triggers[key].operation;
      const sub = await appTester(op.performSubscribe, { authData, targetUrl: `${rcv.url}/${key}` });
      expect(sub.id).toMatch(/^conn_/);
      const list = await appTester(op.performList, { authData });
      expect(list.length).toBeGreaterThan(0);
      expect(list[0].event).toBe(key === 'new_inbound_message' ? 'message_received' : 'message_status');
      expect(list[0].id).toBeTruthy();
      await appTester(op.performUnsubscribe, { authData, subscribeData: sub });
    }
  });

  it('an inbound message reaches its hook and the editor\'s list', async () => {
    const op = App.triggers.new_inbound_message.operation;
    const wa = { api_key: env.TOKEN_WHATSAPP };
    const sub = await appTester(op.performSubscribe, { authData: wa, targetUrl: `${rcv.url}/inbound` });
    const from = `92324${String(Math.floor(1e6 + Math.random() * 9e6))}`;
    const res = await fetch(`${env.WHATSAPP_SANDBOX_URL}/_sandbox/inbound`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ from, text: `Hi ${tag}`, phone_number_id: env.WHATSAPP_PHONE_NUMBER_ID }),
    });
    expect(res.status).toBeLessThan(300);
    const hit = await rcv.wait((d) => d.path === '/inbound' && d.body.text === `Hi ${tag}`, 60000);
    expect(hit.body).toMatchObject({ event: 'message_received', direction: 'inbound', from: `+${from}` });
    const items = await appTester(op.perform, { authData: wa, cleanedRequest: hit.body });
    expect(items[0].id).toBe(hit.body.id);
    const list = await appTester(op.performList, { authData: wa });
    expect(list.some((x) => x.id === hit.body.id)).toBe(true);
    await appTester(op.performUnsubscribe, { authData: wa, subscribeData: sub });
  });

  it('a status change of a message the channel sent reaches its hook', async () => {
    const op = App.triggers.message_status_changed.operation;
    const sub = await appTester(op.performSubscribe, {
      authData: { api_key: env.TOKEN_SMS },
      targetUrl: `${rcv.url}/status`,
    });
    const m = await api('POST', '/v1/messages', {
      token: env.TOKEN_SMS,
      body: { to: env.DEMO_NUMBER, type: 'text', text: { body: `Status ${tag}` } },
    });
    expect(m.status).toBe(202);
    const hit = await rcv.wait((d) => d.path === '/status' && d.body.id.startsWith(`${m.json.data.id}:`), 60000);
    expect(hit.body).toMatchObject({ event: 'message_status', direction: 'outbound', text: `Status ${tag}` });
    const list = await appTester(op.performList, { authData: { api_key: env.TOKEN_SMS } });
    expect(list.some((x) => x.id.startsWith('msg_') && x.direction === 'outbound')).toBe(true);
    await appTester(op.performUnsubscribe, { authData: { api_key: env.TOKEN_SMS }, subscribeData: sub });
  });
});
