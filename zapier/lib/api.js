'use strict';

// The chat backend's API as the app calls it: the base URL is the
// deployment's (the app's environment variable API_URL, set with
// `zapier-platform env:set <version> API_URL=https://…`), every call
// carries the connection's channel token unless it names another
// credential, and an error answer becomes an error with our API's own
// message ({"status":"error","message":…}).

const baseUrl = () => {
  const u = process.env.API_URL;
  if (!u) {
    throw new Error(
      'API_URL is not set: the app needs the API base URL of the deployed stage (zapier-platform env:set <version> API_URL=https://…).',
    );
  }
  return u.replace(/\/+$/, '');
};

const url = (path) => baseUrl() + path;

// beforeRequest: the channel token, unless the call set its own
// Authorization (the account secret, for enrolment).
const addAuth = (request, z, bundle) => {
  request.headers = request.headers || {};
  if (!request.headers.Authorization && bundle.authData && bundle.authData.api_key) {
    request.headers.Authorization = `Bearer ${bundle.authData.api_key}`;
  }
  request.headers.Accept = 'application/json';
  return request;
};

// messageOf is the message of our API's error envelope, or the body's
// start when it is not one.
const messageOf = (response) => {
  try {
    const body = JSON.parse(response.content);
    if (body && typeof body.message === 'string' && body.message) {
      return body.message;
    }
  } catch (e) {
    // not JSON
  }
  return `HTTP ${response.status}: ${String(response.content || '').slice(0, 200)}`;
};

// afterResponse: an error answer throws with our message (a 401 asks the
// user to reconnect: the token was revoked or mistyped).
const handleErrors = (response, z) => {
  if (response.status >= 400 && !response.skipThrowForStatus) {
    const message = messageOf(response);
    if (response.status === 401) {
      throw new z.errors.Error(message, 'AuthenticationError', response.status);
    }
    throw new z.errors.Error(message, 'ApiError', response.status);
  }
  return response;
};

// accountAuth is the Authorization of a call that takes the account
// secret: the connection's optional second field.
const accountAuth = (z, bundle) => {
  const secret = bundle.authData && bundle.authData.account_secret;
  if (!secret) {
    throw new z.errors.Error(
      'This action needs the account secret key: reconnect the account and fill in "Account secret key" (the tenant\'s sk_… key).',
      'MissingAccountSecret',
      400,
    );
  }
  return `Bearer ${secret}`;
};

module.exports = { baseUrl, url, addAuth, handleErrors, accountAuth, messageOf };
