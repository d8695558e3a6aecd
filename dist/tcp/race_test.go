//go:build race

package tcp

// raceEnabled shrinks the large buffers of the tests under the race detector, which slows the
// element loops about tenfold.
const raceEnabled = true
