//go:build race

package hub_test

// raceEnabled is true under -race, where sync.Pool drops a share of what it
// is given on purpose, so pooled paths allocate.
const raceEnabled = true
