//go:build race

package testutil

// Race reports whether the tests were built with the race detector, so that tests whose value is
// numerical rather than about concurrency can skip a run that would take many times as long.
const Race = true
