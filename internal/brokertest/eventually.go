package brokertest

import (
	"testing"
	"time"
)

// Eventually polls cond until it holds, failing t after 10 seconds: a
// broker applies subscriptions and reconnects on its own time.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
