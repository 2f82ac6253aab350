// Package backoff is the wait before a retry that every reconnecting or
// resending part of wsify shares (the broker drivers, the events webhook).
package backoff

import (
	"math/rand/v2"
	"time"
)

// Delay is the wait before attempt n (from 1): minD doubled n-1 times,
// capped at maxD, with the upper half jittered so that parties that failed
// together do not come back in lockstep.
func Delay(minD, maxD time.Duration, n int) time.Duration {
	d := minD
	for i := 1; i < n && d < maxD; i++ {
		d *= 2
	}
	d = min(d, maxD)
	return d/2 + rand.N(d/2+1)
}
