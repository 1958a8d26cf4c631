'use strict';

const { url } = require('../lib/api');
const { customOutputFields } = require('../lib/fields');

// The connector's triggers as Zapier REST hooks: subscribing makes a hook
// (POST /v1/hooks, a connection of the channel with that one trigger and
// every field), unsubscribing deletes it (DELETE /v1/hooks/{id}), perform
// hands on the payload our dispatcher delivered, and performList reads the
// trigger's recent real items on the channel (GET /v1/hooks/sample: a
// made-up one only while the channel has none yet).

const contactOutputFields = [
  { key: 'psid', label: 'Contact ID (PSID)' },
  { key: 'subscriber_id', label: 'Subscriber ID' },
  { key: 'first_name', label: 'First Name' },
  { key: 'last_name', label: 'Last Name' },
  { key: 'email', label: 'Email' },
  { key: 'phone_number', label: 'Phone Number' },
  { key: 'user_location', label: 'Location' },
  { key: 'labels', label: 'Tags (Comma-Separated)' },
  { key: 'subscribed_at', label: 'Subscribed At (UTC)' },
  { key: 'page_id', label: 'Channel ID' },
  { key: 'page_name', label: 'Channel Name' },
  { key: 'postbackid', label: 'Postback ID' },
  { key: 'webview_form_id', label: 'Webview Form ID' },
];

const messageOutputFields = [
  { key: 'id', label: 'Event ID' },
  { key: 'event', label: 'Event' },
  { key: 'channel_id', label: 'Channel ID' },
  { key: 'channel_name', label: 'Channel Name' },
  { key: 'contact_id', label: 'Contact ID' },
  { key: 'direction', label: 'Direction (Inbound or Outbound)' },
  { key: 'type', label: 'Message Type' },
  { key: 'from', label: 'From' },
  { key: 'to', label: 'To' },
  { key: 'text', label: 'Text' },
  { key: 'template_name', label: 'Template Name' },
  { key: 'media_url', label: 'Media URL' },
  { key: 'status', label: 'Status' },
  { key: 'error_code', label: 'Error Code' },
  { key: 'error_message', label: 'Error Message' },
  { key: 'created_at', label: 'Created At', type: 'datetime' },
  { key: 'status_at', label: 'Status At', type: 'datetime' },
];

const contactSample = {
  id: '12765756',
  psid: '12765756',
  subscriber_id: '12765756',
  first_name: 'Test',
  last_name: 'User',
  email: 'testuser@example.com',
  phone_number: '+370628282846',
  user_location: '',
  labels: 'Demo,Demo Label 1',
  subscribed_at: '2024-05-01 10:40:00',
  page_id: 'ch_7bq2x9m4k1v8c3n6',
  page_name: 'Acme Messenger',
  postbackid: 'GET_STARTED',
  webview_form_id: '',
};

const messageSample = (event) => ({
  id: event === 'message_status' ? 'msg_q2w3e4r5t6y7u2i3:delivered' : 'msg_q2w3e4r5t6y7u2i3',
  event,
  channel_id: 'ch_7bq2x9m4k1v8c3n6',
  channel_name: 'Acme WhatsApp',
  contact_id: '923001234567',
  direction: event === 'message_status' ? 'outbound' : 'inbound',
  type: 'text',
  from: event === 'message_status' ? '' : '+923001234567',
  to: event === 'message_status' ? '+923001234567' : '',
  text: event === 'message_status' ? 'Your order shipped.' : 'Hello!',
  template_name: '',
  media_url: '',
  status: event === 'message_status' ? 'delivered' : 'received',
  error_code: '',
  error_message: '',
  created_at: '2024-05-01T10:40:00Z',
  status_at: '2024-05-01T10:40:05Z',
});

// withID gives a contact payload the id Zapier keys items by (the
// contact's, plus what changed, so two events of one contact differ).
const withID = (event) => (item) => {
  if (item.id) {
    return item;
  }
  const what = { postback: item.postbackid, webview_form: item.webview_form_id }[event] || item[
    { email: 'email', phone: 'phone_number', location: 'user_location' }[event] || ''
  ];
  return { id: what ? `${item.psid}:${what}` : item.psid, ...item };
};

const hookTrigger = ({ key, event, noun, label, description, isMessage }) => ({
  key,
  noun,
  display: { label, description },
  operation: {
    type: 'hook',
    performSubscribe: async (z, bundle) => {
      const response = await z.request({
        url: url('/v1/hooks'),
        method: 'POST',
        body: { target_url: bundle.targetUrl, event },
      });
      // 201 {"id": "conn_…", "data": {…}}: kept as bundle.subscribeData.
      return response.data;
    },
    performUnsubscribe: async (z, bundle) => {
      const id = bundle.subscribeData && bundle.subscribeData.id;
      const response = await z.request({
        url: url(`/v1/hooks/${encodeURIComponent(id)}`),
        method: 'DELETE',
      });
      return response.data;
    },
    perform: (z, bundle) => [withID(event)(bundle.cleanedRequest)],
    performList: async (z, bundle) => {
      const response = await z.request({ url: url('/v1/hooks/sample'), params: { event } });
      return (response.data || []).map(withID(event));
    },
    outputFields: isMessage ? messageOutputFields : [...contactOutputFields, customOutputFields],
    sample: isMessage ? messageSample(event) : contactSample,
  },
});

const contactEvent = (key, event, what, description) =>
  hookTrigger({
    key,
    event,
    noun: 'Contact',
    label: `New ${what}`,
    description,
  });

const triggers = [
  contactEvent('new_email', 'email', 'Email Collected', 'Triggers when a contact\'s email is collected or changes.'),
  contactEvent('new_phone', 'phone', 'Phone Number Collected', 'Triggers when a contact\'s phone number is collected or changes.'),
  contactEvent('new_location', 'location', 'Location Collected', 'Triggers when a contact shares a location.'),
  contactEvent('new_postback', 'postback', 'Postback', 'Triggers when a contact presses a button (a postback).'),
  contactEvent('new_birthday', 'birthday', 'Birthday Collected', 'Triggers when a contact\'s birthday is collected or changes.'),
  contactEvent('new_webview_form', 'webview_form', 'Webview Form Submitted', 'Triggers when a contact submits a webview form.'),
  hookTrigger({
    key: 'new_inbound_message',
    event: 'message_received',
    noun: 'Message',
    label: 'New Inbound Message',
    description: 'Triggers when a contact sends a message to the channel.',
    isMessage: true,
  }),
  hookTrigger({
    key: 'message_status_changed',
    event: 'message_status',
    noun: 'Message',
    label: 'Message Status Changed',
    description: 'Triggers when a message the channel sent is sent, delivered, read or fails.',
    isMessage: true,
  }),
];

module.exports = { triggers, contactOutputFields, messageOutputFields };
