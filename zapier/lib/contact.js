'use strict';

const { url } = require('./api');

// A contact as the app answers it: the API's contact with its fields also
// flattened (Zapier maps top-level keys best) and its tags joined.
const flatten = (c) => ({
  ...(c.custom_fields || {}),
  ...c,
  tags_text: (c.tags || []).join(', '),
});

const getContact = async (z, id) => {
  const response = await z.request({ url: url(`/v1/contact/${encodeURIComponent(id)}`) });
  return flatten(response.data.data);
};

// findBy answers the contacts whose field equals value (first page).
const findBy = async (z, name, value) => {
  const response = await z.request({
    url: url('/v1/contact/by_custom_field'),
    params: { name, value },
  });
  return (response.data.data || []).map(flatten);
};

const contactOutputFields = [
  { key: 'id', label: 'Contact ID' },
  { key: 'firstName', label: 'First Name' },
  { key: 'lastName', label: 'Last Name' },
  { key: 'email', label: 'Email' },
  { key: 'phone', label: 'Phone' },
  { key: 'tags_text', label: 'Tags' },
  { key: 'created_at', label: 'Created At (Unix Seconds)', type: 'integer' },
  { key: 'updated_at', label: 'Updated At (Unix Seconds)', type: 'integer' },
];

const contactSample = {
  id: '12765756',
  firstName: 'Test',
  lastName: 'User',
  email: 'testuser@example.com',
  phone: '+370628282846',
  custom_fields: { firstName: 'Test', lastName: 'User', email: 'testuser@example.com', phone: '+370628282846' },
  tags: ['Demo'],
  tags_text: 'Demo',
  opportunity: false,
  created_at: 1714560000,
  updated_at: 1714560100,
};

module.exports = { flatten, getContact, findBy, contactOutputFields, contactSample };
