// Package testutil holds what the tests of every package share: one way to
// wait for a condition that another goroutine or process brings about.
// Tests poll for what they can observe rather than sleep for a time they
// guess, so a slow runner makes them slower, never flaky.
package testutil
