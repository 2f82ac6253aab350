package backoff_test

import (
	"testing"
	"time"

	"github.com/wsify/wsify/internal/backoff"
)

func TestBackoffDoublesWithinBounds(t *testing.T) {
	lo, hi := 100*time.Millisecond, time.Second
	for n := 1; n <= 10; n++ {
		want := min(lo<<(n-1), hi)
		for range 50 {
			if d := backoff.Delay(lo, hi, n); d < want/2 || d > want {
				t.Fatalf("attempt %d: %v outside [%v, %v]", n, d, want/2, want)
			}
		}
	}
}
