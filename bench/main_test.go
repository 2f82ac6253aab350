package bench

import (
	"os"
	"testing"
)

// TestMain lets the test binary serve as the tool's worker and authorizer
// processes, which the coordinator starts by re-executing itself.
func TestMain(m *testing.M) {
	Child()
	os.Exit(m.Run())
}
