'use strict';

const { url, accountAuth } = require('../lib/api');

// Hidden triggers that fill dropdowns.

// The account's automations (the account secret key: GET /v1/automations).
const automationList = {
  key: 'automation_list',
  noun: 'Automation',
  display: { label: 'Automations', description: 'The account\'s automations (for dropdowns).', hidden: true },
  operation: {
    perform: async (z, bundle) => {
      const response = await z.request({
        url: url('/v1/automations'),
        headers: { Authorization: accountAuth(z, bundle) },
      });
      return (response.data.data || []).map((a) => ({ id: a.id, name: `${a.name}${a.on ? '' : ' (off)'}`, on: a.on }));
    },
    sample: { id: 'aut_q3v9k2m8x1c4b7n5', name: 'Welcome', on: true },
    outputFields: [
      { key: 'id', label: 'Automation ID' },
      { key: 'name', label: 'Name' },
      { key: 'on', label: 'On', type: 'boolean' },
    ],
  },
};

// The channel's approved message templates (GET /v1/templates).
const templateList = {
  key: 'template_list',
  noun: 'Template',
  display: { label: 'Approved Templates', description: 'The channel\'s approved templates (for dropdowns).', hidden: true },
  operation: {
    perform: async (z) => {
      const response = await z.request({ url: url('/v1/templates'), params: { status: 'APPROVED' } });
      return (response.data.data || []).map((t) => ({
        id: t.name,
        name: `${t.name} (${t.language})`,
        language: t.language,
      }));
    },
    sample: { id: 'order_update', name: 'order_update (en)', language: 'en' },
    outputFields: [
      { key: 'id', label: 'Template Name' },
      { key: 'name', label: 'Label' },
      { key: 'language', label: 'Language' },
    ],
  },
};

// The fields a contact search may name: the standard ones and the
// tenant's custom fields (GET /v1/contact_fields).
const standardFields = ['firstName', 'lastName', 'email', 'phone', 'language', 'locale', 'timezone', 'gender', 'birthday', 'location'];
const contactFieldList = {
  key: 'contact_field_list',
  noun: 'Contact Field',
  display: { label: 'Contact Fields', description: 'Standard and custom contact fields (for dropdowns).', hidden: true },
  operation: {
    perform: async (z) => {
      const response = await z.request({ url: url('/v1/contact_fields') });
      const custom = (response.data.data || []).map((f) => ({ id: f.name, name: `${f.name} (custom, ${f.type})` }));
      return [...standardFields.map((f) => ({ id: f, name: f })), ...custom];
    },
    sample: { id: 'email', name: 'email' },
    outputFields: [
      { key: 'id', label: 'Field' },
      { key: 'name', label: 'Label' },
    ],
  },
};

module.exports = { automationList, templateList, contactFieldList };
