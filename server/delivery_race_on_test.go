//go:build race

package server

// raceEnabled is true under -race, where sync.Pool drops a share of what it
// is given on purpose, so pooled paths allocate.
const raceEnabled = true
