'use strict';

// The chat backend's Zapier app: the connector's triggers as REST hooks,
// actions on contacts and messages, a contact search. See README.md
// ("Zapier app") for pushing it and pointing it at a deployed stage.

const { version: platformVersion } = require('zapier-platform-core');
const { version } = require('./package.json');

const authentication = require('./authentication');
const { addAuth, handleErrors } = require('./lib/api');
const { triggers: hookTriggers } = require('./triggers/hooks');
const { automationList, templateList, contactFieldList } = require('./triggers/lists');
const { createContact, updateContact, addTag, removeTag } = require('./creates/contacts');
const { sendMessage, enrollInAutomation } = require('./creates/messages');
const { findContact } = require('./searches/contact');

const byKey = (list) => Object.fromEntries(list.map((x) => [x.key, x]));

module.exports = {
  version,
  platformVersion,
  authentication,
  beforeRequest: [addAuth],
  afterResponse: [handleErrors],
  triggers: byKey([...hookTriggers, automationList, templateList, contactFieldList]),
  creates: byKey([createContact, updateContact, addTag, removeTag, sendMessage, enrollInAutomation]),
  searches: byKey([findContact]),
  searchOrCreates: {
    find_contact: {
      key: 'find_contact',
      display: { label: 'Find or Create Contact', description: 'Finds a contact by field, or creates it.' },
      search: 'find_contact',
      create: 'create_contact',
    },
  },
};
