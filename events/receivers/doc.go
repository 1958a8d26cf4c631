// Package receivers holds webhook receivers that verify the connections'
// deliveries with the Standard Webhooks libraries: node/server.js (npm
// standardwebhooks, pinned by node/package-lock.json), go/main.go
// (github.com/standard-webhooks/standard-webhooks/libraries/go) and
// php/test.php (the PHP library; not run by the tests). README.md quotes
// them; its tests check the quotes equal these files and run the Node and
// Go receivers against real deliveries.
package receivers
