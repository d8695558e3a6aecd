//go:build race

package train

// raceEnabled shortens the data-parallel tests under the race detector, which slows training about
// tenfold: the ranks' goroutines are checked on a short run, the accuracy on a longer one without it.
const raceEnabled = true
