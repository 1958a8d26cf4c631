// Package bench measures what a Lambda cold start costs each function: the
// time from exec of its bootstrap to its first request for an invocation
// (the init phase), and the size of its linux/arm64 bootstrap.
//
// It runs each bootstrap as Lambda does, under AWS's Runtime Interface
// Emulator (package infra/local/rie), one fresh emulator per cold start, and
// takes the init duration the emulator logs. The functions get a Lambda-like
// environment whose AWS endpoints point at a closed loopback port, so
// nothing leaves the machine. The `make bench`
// command is infra/bench/cmd/coldstart; infra/bench/baseline is the
// yardstick it compares every function against.
package bench
