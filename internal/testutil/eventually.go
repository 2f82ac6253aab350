package testutil

import (
	"testing"
	"time"
)

// Timeout bounds Eventually. It is far above what any condition needs on
// an idle machine, so that only a real hang fails a test on a loaded one.
const Timeout = 10 * time.Second

// every is the polling interval: short enough to add little latency to a
// test, long enough not to steal a shared core from the code under test.
const every = 5 * time.Millisecond

// Poll calls cond until it holds or d has passed, and reports whether it
// held. Callers that fail with more than a message (a stack dump, a
// process's output) use it; the others use Eventually.
func Poll(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(every)
	}
	return true
}

// Eventually polls cond until it holds, failing t after Timeout.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	EventuallyWithin(t, Timeout, what, cond)
}

// EventuallyWithin is Eventually with a limit of d.
func EventuallyWithin(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Poll(d, cond) {
		t.Fatalf("timed out after %v waiting for %s", d, what)
	}
}
