'use strict';

const { url } = require('./lib/api');

// API key authentication: the channel's API token (Bearer), tested with
// GET /v1/me, whose answer names the connection. The account secret key
// is optional: only the "Enroll in an automation" action uses it.
const test = async (z) => {
  const response = await z.request({ url: url('/v1/me') });
  return response.data.data;
};

module.exports = {
  type: 'custom',
  fields: [
    {
      key: 'api_key',
      label: 'Channel API token',
      type: 'password',
      required: true,
      helpText:
        'The API token of the channel to connect (ct_…), from your operator (admin API: POST /admin/tenants/{tenantId}/channels/{channelId}/tokens).',
    },
    {
      key: 'account_secret',
      label: 'Account secret key',
      type: 'password',
      required: false,
      helpText:
        'Optional: the account\'s secret key (sk_…). Only the "Enroll in an Automation" action uses it; every other trigger and action uses the channel token alone.',
    },
  ],
  test,
  connectionLabel: (z, bundle) => {
    const me = bundle.inputData || {};
    const tenant = (me.tenant && me.tenant.name) || '';
    const channel = (me.channel && `${me.channel.name} (${me.channel.kind})`) || '';
    return [tenant, channel].filter(Boolean).join(' · ');
  },
};
