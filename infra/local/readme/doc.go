// Package readme holds the test that runs every example of the project's
// README.md against a local stack (see readme_test.go for how the README
// marks its code blocks).
package readme
