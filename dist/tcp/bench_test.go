package tcp

import "testing"

// bench100MB is the buffer size of the benchmarks: 100 MB.
const bench100MB = 100_000_000

// BenchmarkAllReduce100MB all-reduces 100 MB of float32 between 2 ranks in this process over
// loopback; compare its GB/s with BenchmarkMemcpy100MB's on the same machine.
func BenchmarkAllReduce100MB(b *testing.B) {
	rings := newRings(b, 2, Options{})
	bufs := [][]float32{make([]float32, bench100MB/4), make([]float32, bench100MB/4)}
	b.SetBytes(bench100MB)
	for b.Loop() {
		for r, err := range onEach(2, func(r int) error { return rings[r].AllReduceFloat32(bufs[r], false) }) {
			if err != nil {
				b.Fatalf("rank %d: %v", r, err)
			}
		}
	}
	b.ReportMetric(float64(bench100MB)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
}

// BenchmarkMemcpy100MB copies 100 MB: the machine's memory-copy bandwidth, the bound an all-reduce
// over loopback approaches.
func BenchmarkMemcpy100MB(b *testing.B) {
	src, dst := make([]byte, bench100MB), make([]byte, bench100MB)
	for i := range src {
		src[i] = byte(i)
	}
	b.SetBytes(bench100MB)
	for b.Loop() {
		copy(dst, src)
	}
	b.ReportMetric(float64(bench100MB)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
}
