// Package brokertest runs real brokers for tests: a redis-server process on
// a free loopback port, and a NATS server in-process. Each can be stopped
// and started again on the same port, for fault tests. Nothing is skipped:
// without redis-server on PATH the test fails and says how to install it.
package brokertest
