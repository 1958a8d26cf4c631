export const TRIGGERS = ['email', 'phone', 'location', 'postback', 'birthday', 'webview_form'];
export const STANDARD_FIELDS = ['psid', 'first_name', 'last_name', 'subscribed_at', 'email', 'labels', 'page_id',
  'page_name', 'phone_number', 'user_location', 'postbackid', 'subscriber_id', 'webview_form_id'];

// Sample values in the seed's shape: every value a string.
const SAMPLE = {
  psid: '12765756', first_name: 'Muhammad', last_name: 'Mahin', subscribed_at: '2024-05-01 10:00:00',
  email: 'testuser@example.com', labels: 'VIP,lead', page_id: 'ch_7bq2x9m4k1v8c3n6', page_name: 'Acme',
  phone_number: '+923244077087', user_location: '24.8607,67.0011', postbackid: '', subscriber_id: '12765756',
  webview_form_id: '',
};

// preview is the payload a connection with these fields sends (an empty
// list sends every field), in the order the dispatcher writes them.
export function preview(fields, custom, channel) {
  const order = fields.length ? fields : [...STANDARD_FIELDS, ...custom.map((c) => c.name)];
  const out = {};
  for (const f of order) {
    const c = custom.find((x) => x.name === f);
    out[f] = f in SAMPLE ? SAMPLE[f] : c ? sampleOf(c) : '';
    if (channel && f === 'page_id') out[f] = channel.id;
    if (channel && f === 'page_name') out[f] = channel.name || '';
  }
  return JSON.stringify(out, null, 2);
}

function sampleOf(c) {
  switch (c.type) {
    case 'number': return '42';
    case 'boolean': return 'true';
    case 'date': return '2024-05-01';
    case 'datetime': return '2024-05-01 10:00:00';
    case 'email': return 'someone@example.com';
    case 'phone': return '+923001234567';
    case 'list': return (c.options && c.options[0]) || '';
    default: return 'text';
  }
}

export const fmtTime = (ms) => (ms ? new Date(ms).toLocaleString() : '');
export const codeClass = (code) => 'code-' + Math.floor((code || 0) / 100) + 'xx';

export function stateOf(c) {
  if (c.state === 'paused') return { text: 'paused — ' + (c.paused_reason || 'endpoint failing'), cls: 'state-paused' };
  if (!c.enabled || c.state === 'disabled') {
    return { text: 'off' + (c.disabled_reason ? ' — ' + c.disabled_reason : ''), cls: 'state-off' };
  }
  return { text: 'on', cls: '' };
}
