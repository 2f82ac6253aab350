package netpoll

import "testing"

// TestFileLimit: the limit is read and fits an int, whatever the width and
// sign of the system's rlim_t ("unlimited" is the largest value of either).
func TestFileLimit(t *testing.T) {
	if n := FileLimit(); n <= 0 || n > 1<<31 {
		t.Fatalf("FileLimit() = %d, want in (0, 1<<31]", n)
	}
}
