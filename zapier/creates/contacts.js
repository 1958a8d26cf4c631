'use strict';

const { url } = require('../lib/api');
const { customInputFields, standardInputFields, fieldValues } = require('../lib/fields');
const { getContact, findBy, contactOutputFields, contactSample } = require('../lib/contact');

const tagsField = {
  key: 'tags',
  label: 'Tags',
  list: true,
  required: false,
  helpText: 'Tags to add to the contact (at most 10).',
};

const addTags = async (z, id, tags) => {
  if (tags && tags.length) {
    await z.request({ url: url(`/v1/contact/${encodeURIComponent(id)}/tags`), method: 'POST', body: { tags } });
  }
};

// POST /v1/contact, then its tags; answers the stored contact.
const create = async (z, bundle) => {
  const fields = fieldValues(bundle.inputData);
  if (!fields.length) {
    throw new z.errors.Error('Give at least one field of the contact.', 'InvalidInput', 400);
  }
  const response = await z.request({ url: url('/v1/contact'), method: 'POST', body: { custom_fields: fields } });
  const id = response.data.data.id;
  await addTags(z, id, bundle.inputData.tags);
  return getContact(z, id);
};

// Find the contact by phone or email and update it, or create it.
const upsert = async (z, bundle) => {
  const { lookup_field: by, lookup_value: value } = bundle.inputData;
  const fields = fieldValues(bundle.inputData);
  if (!fields.some((f) => f.name === by)) {
    // The looked-up value is also written (a new contact gets it).
    fields.push({ name: by, value: String(value) });
  }
  const found = await findBy(z, by, value);
  let id;
  let created = false;
  if (found.length) {
    id = found[0].id;
    await z.request({ url: url(`/v1/contact/${encodeURIComponent(id)}`), method: 'PUT', body: { custom_fields: fields } });
  } else {
    const response = await z.request({ url: url('/v1/contact'), method: 'POST', body: { custom_fields: fields } });
    id = response.data.data.id;
    created = true;
  }
  await addTags(z, id, bundle.inputData.tags);
  return { ...(await getContact(z, id)), created };
};

const tagAction = (add) => async (z, bundle) => {
  const id = bundle.inputData.contact_id;
  await z.request({
    url: url(`/v1/contact/${encodeURIComponent(id)}/tags`),
    method: add ? 'POST' : 'DELETE',
    body: { tags: bundle.inputData.tags },
  });
  return getContact(z, id);
};

const contactIdField = {
  key: 'contact_id',
  label: 'Contact ID',
  required: true,
  helpText: 'The contact\'s ID on this channel (a trigger\'s "Contact ID", or a search\'s "ID").',
};

module.exports = {
  createContact: {
    key: 'create_contact',
    noun: 'Contact',
    display: { label: 'Create Contact', description: 'Creates a contact on the channel.' },
    operation: {
      inputFields: [...standardInputFields, customInputFields, tagsField],
      perform: create,
      outputFields: contactOutputFields,
      sample: contactSample,
    },
  },
  updateContact: {
    key: 'update_contact',
    noun: 'Contact',
    display: {
      label: 'Update or Create Contact',
      description: 'Finds a contact by phone or email and updates it, or creates it when there is none.',
    },
    operation: {
      inputFields: [
        { key: 'lookup_field', label: 'Find By', required: true, choices: { phone: 'Phone', email: 'Email' }, default: 'email' },
        { key: 'lookup_value', label: 'Phone or Email to Find', required: true },
        ...standardInputFields,
        customInputFields,
        tagsField,
      ],
      perform: upsert,
      outputFields: [...contactOutputFields, { key: 'created', label: 'Created (Not Found Before)', type: 'boolean' }],
      sample: { ...contactSample, created: false },
    },
  },
  addTag: {
    key: 'add_tag',
    noun: 'Tag',
    display: { label: 'Add Tag to Contact', description: 'Adds tags to a contact.' },
    operation: {
      inputFields: [contactIdField, { ...tagsField, required: true, helpText: 'Tags to add (at most 10).' }],
      perform: tagAction(true),
      outputFields: contactOutputFields,
      sample: contactSample,
    },
  },
  removeTag: {
    key: 'remove_tag',
    noun: 'Tag',
    display: { label: 'Remove Tag from Contact', description: 'Removes tags from a contact.' },
    operation: {
      inputFields: [contactIdField, { ...tagsField, required: true, helpText: 'Tags to remove (at most 10).' }],
      perform: tagAction(false),
      outputFields: contactOutputFields,
      sample: contactSample,
    },
  },
};
