//go:build !amd64 || purego

package cpu

// vecLoopsFor returns the portable loops: outside amd64 (or with the purego tag) there are no
// others.
func vecLoopsFor(string) *vecLoops { return &goLoops }
