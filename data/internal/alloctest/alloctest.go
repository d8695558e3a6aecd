// Package alloctest measures what a call allocates, for the tests that hold the data parsers to a
// bounded amount of memory whatever their input claims.
package alloctest

import "runtime"

// Bytes is the number of bytes the heap allocated while f ran (on every goroutine: run it from a
// test that is not parallel).
func Bytes(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}
