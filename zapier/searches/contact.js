'use strict';

const { findBy, contactOutputFields, contactSample } = require('../lib/contact');

// Find contacts whose field equals a value
// (GET /v1/contact/by_custom_field): a standard field or a custom one.
module.exports = {
  findContact: {
    key: 'find_contact',
    noun: 'Contact',
    display: { label: 'Find Contact by Field', description: 'Finds contacts whose field (standard or custom) equals a value.' },
    operation: {
      inputFields: [
        {
          key: 'field',
          label: 'Field',
          required: true,
          dynamic: 'contact_field_list.id.name',
          helpText: 'A standard field (firstName, lastName, email, phone, language, …) or a custom field\'s name.',
        },
        { key: 'value', label: 'Value', required: true },
      ],
      perform: (z, bundle) => findBy(z, bundle.inputData.field, bundle.inputData.value),
      outputFields: contactOutputFields,
      sample: contactSample,
    },
  },
};
