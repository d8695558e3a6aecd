//go:build !amd64 || purego

package cpu

// archKernels is empty: outside amd64 (or with the purego tag) only the portable kernel runs.
func archKernels() []microKernel { return nil }
