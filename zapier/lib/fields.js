'use strict';

const { url } = require('./api');

// The tenant's custom fields (GET /v1/contact_fields), for dynamic input
// and output fields.
const customFields = async (z) => {
  const response = await z.request({ url: url('/v1/contact_fields') });
  return response.data.data || [];
};

const typeOf = (t) =>
  ({ number: 'number', boolean: 'boolean', date: 'datetime', datetime: 'datetime' })[t] || 'string';

// customInputFields: one input per custom field, keyed by its ID
// (custom__<id>), labelled with its name; a list field offers its options.
const customInputFields = async (z) =>
  (await customFields(z)).map((f) => {
    const field = {
      key: `custom__${f.id}`,
      label: f.name,
      required: false,
      type: f.type === 'boolean' ? 'boolean' : 'string',
      helpText: `Custom field "${f.name}" (${f.type}).`,
    };
    if (f.type === 'list' && Array.isArray(f.options) && f.options.length) {
      field.choices = f.options;
    }
    return field;
  });

// customOutputFields: the custom fields as a payload carries them (by name).
const customOutputFields = async (z) =>
  (await customFields(z)).map((f) => ({ key: f.name, label: f.name, type: typeOf(f.type) }));

// The standard contact fields a write may set, with the API's names.
const standardInputFields = [
  { key: 'firstName', label: 'First Name', required: false },
  { key: 'lastName', label: 'Last Name', required: false },
  { key: 'email', label: 'Email', required: false },
  {
    key: 'phone',
    label: 'Phone',
    required: false,
    helpText: "A phone number; without a country code it is read in the channel's default country.",
  },
  { key: 'language', label: 'Language', required: false },
];

// fieldValues turns the inputs into the API's custom_fields list (empty
// inputs are left out).
const fieldValues = (inputData) => {
  const out = [];
  for (const f of standardInputFields) {
    const v = inputData[f.key];
    if (v !== undefined && v !== null && v !== '') {
      out.push({ name: f.key, value: String(v) });
    }
  }
  for (const [k, v] of Object.entries(inputData)) {
    if (k.startsWith('custom__') && v !== undefined && v !== null && v !== '') {
      out.push({ name: k.slice('custom__'.length), value: String(v) });
    }
  }
  return out;
};

module.exports = { customFields, customInputFields, customOutputFields, standardInputFields, fieldValues };
