'use strict';

// What the tests run against: a running stack, as `make run`'s
// .local/demo.env names it (`set -a; source ../.local/demo.env; set +a;
// npm test`), or the stack `make test` starts for them
// (zapier/stack_test.go). TOKEN is the channel token the app connects
// with (TOKEN_MESSENGER when TOKEN is not set); ACCOUNT_SECRET enrolls;
// TOKEN_SMS and DEMO_NUMBER send a text on a channel with a provider;
// AUTOMATION_ID is an automation that is on; TOKEN_WHATSAPP is a WhatsApp
// channel on the provider sandbox (WHATSAPP_SANDBOX_URL, its phone number
// id WHATSAPP_PHONE_NUMBER_ID), whose POST /_sandbox/inbound makes a
// contact write in.
const env = {
  API_URL: process.env.API_URL,
  TOKEN: process.env.TOKEN || process.env.TOKEN_MESSENGER,
  ACCOUNT_SECRET: process.env.ACCOUNT_SECRET,
  TOKEN_SMS: process.env.TOKEN_SMS,
  DEMO_NUMBER: process.env.DEMO_NUMBER,
  AUTOMATION_ID: process.env.AUTOMATION_ID,
  TOKEN_WHATSAPP: process.env.TOKEN_WHATSAPP,
  WHATSAPP_SANDBOX_URL: process.env.WHATSAPP_SANDBOX_URL,
  WHATSAPP_PHONE_NUMBER_ID: process.env.WHATSAPP_PHONE_NUMBER_ID,
};
const missing = Object.entries(env)
  .filter(([, v]) => !v)
  .map(([k]) => k);
if (missing.length) {
  throw new Error(
    `missing ${missing.join(', ')}: run against a stack (set -a; source ../.local/demo.env; set +a; npm test), or make test`,
  );
}

// api calls our API directly (what a test arranges or checks).
const api = async (method, path, { token = env.TOKEN, body } = {}) => {
  const res = await fetch(env.API_URL.replace(/\/+$/, '') + path, {
    method,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch (e) {
    json = undefined;
  }
  return { status: res.status, json, text };
};

const unique = () => `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;

module.exports = { env, api, unique };
