// Package lockorder holds only a test: that every sync.Mutex and
// sync.RWMutex in the project's non-test code is named in the lock order
// file at the repository root, locksordering.txt.
package lockorder
