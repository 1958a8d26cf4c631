'use strict';

const { url, accountAuth } = require('../lib/api');

// Send a message on the channel (POST /v1/messages): text, or an approved
// template (WhatsApp); to a phone number or a contact.
const send = async (z, bundle) => {
  const d = bundle.inputData;
  const body = {};
  if (d.contact_id) {
    body.contact_id = d.contact_id;
  } else {
    body.to = d.to;
  }
  if (d.kind === 'template') {
    body.type = 'template';
    body.template = { name: d.template_name, language: d.template_language || 'en' };
    if (d.template_params && d.template_params.length) {
      body.template.params = d.template_params;
    }
  } else {
    body.type = 'text';
    body.text = { body: d.text };
  }
  const response = await z.request({ url: url('/v1/messages'), method: 'POST', body });
  return response.data.data;
};

const sendMessage = {
  key: 'send_message',
  noun: 'Message',
  display: {
    label: 'Send Message',
    description:
      'Sends a text or an approved template on the channel (free-form text only within 24 hours of the contact\'s last message on WhatsApp).',
  },
  operation: {
    inputFields: [
      { key: 'to', label: 'To (Phone Number)', required: false, helpText: 'The recipient\'s phone number; or give a Contact ID instead.' },
      { key: 'contact_id', label: 'Contact ID', required: false, helpText: 'A contact of the channel; leave empty when giving a phone number.' },
      { key: 'kind', label: 'Message Kind', required: true, choices: { text: 'Text', template: 'Template' }, default: 'text', altersDynamicFields: true },
      (z, bundle) =>
        bundle.inputData.kind === 'template'
          ? [
              { key: 'template_name', label: 'Template', required: true, dynamic: 'template_list.id.name' },
              { key: 'template_language', label: 'Template Language', required: false, default: 'en' },
              { key: 'template_params', label: 'Template Parameters', list: true, required: false, helpText: 'The body\'s {{1}}, {{2}}, … in order.' },
            ]
          : [{ key: 'text', label: 'Text', type: 'text', required: true }],
    ],
    perform: send,
    outputFields: [
      { key: 'id', label: 'Message ID' },
      { key: 'status', label: 'Status' },
    ],
    sample: { id: 'msg_q2w3e4r5t6y7u2i3', status: 'queued' },
  },
};

// Enroll a contact in an automation (POST /v1/actions {idContact, idAuto}
// with the account secret key: the connection's optional second field).
const enroll = async (z, bundle) => {
  const response = await z.request({
    url: url('/v1/actions'),
    method: 'POST',
    headers: { Authorization: accountAuth(z, bundle) },
    body: [{ idContact: String(bundle.inputData.contact_id), idAuto: bundle.inputData.automation_id }],
  });
  const result = (response.data.data || [])[0] || {};
  if (result.status !== 'success') {
    throw new z.errors.Error(result.message || 'The contact was not enrolled.', 'EnrollRefused', 422);
  }
  return { ...result, idContact: String(result.idContact) };
};

const enrollInAutomation = {
  key: 'enroll_in_automation',
  noun: 'Automation Run',
  display: {
    label: 'Enroll in Automation',
    description:
      'Starts an automation for a contact. Needs the account secret key in the connection (its optional "Account secret key" field).',
  },
  operation: {
    inputFields: [
      {
        key: 'automation_id',
        label: 'Automation',
        required: true,
        dynamic: 'automation_list.id.name',
        helpText: 'The automation to start (it must be on). Listing and enrolling use the connection\'s account secret key.',
      },
      { key: 'contact_id', label: 'Contact ID', required: true, helpText: 'The contact to enroll.' },
    ],
    perform: enroll,
    outputFields: [
      { key: 'idRun', label: 'Run ID' },
      { key: 'idAuto', label: 'Automation ID' },
      { key: 'idContact', label: 'Contact ID' },
      { key: 'status', label: 'Status' },
    ],
    sample: { status: 'success', idContact: '123456789012345', idAuto: 'aut_q3v9k2m8x1c4b7n5', idRun: 'run_k3v9q2m8x1c4b7n5' },
  },
};

module.exports = { sendMessage, enrollInAutomation };
