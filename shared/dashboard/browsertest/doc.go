// Package browsertest runs the panel's browser test (web/e2e/panel.mjs,
// playwright-core driving Debian's chromium) against a local stack it
// starts; it has no code of its own outside its test.
package browsertest
