package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestTapKernels checks each kernel's tap-path micro-kernels against a float64 sum of their
// definition, at every depth up to 40 (80 for the dot products), unaligned offsets, a row stride
// wider than the tile and outputs pre-filled with NaN that must be overwritten.
func TestTapKernels(t *testing.T) {
	for _, name := range Kernels() {
		k, err := kernelNamed(name)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(21, 22))
			base := gemmTestRandom(rng, 4096)
			for depth := range 41 {
				a := gemmTestRandom(rng, depth*tapRows)
				offs, reach := make([]int, depth), 0
				for p := range offs {
					offs[p] = rng.IntN(len(base) - tapCols)
					reach = max(reach, offs[p])
				}
				const ldc = tapCols + 5
				c := make([]float32, (tapRows-1)*ldc+tapCols)
				for i := range c {
					c[i] = float32(math.NaN())
				}
				k.vec.taps(depth, a, base, offs, reach, c, ldc)
				for i := range tapRows {
					for j := range tapCols {
						var want float64
						for p, off := range offs {
							want += float64(a[p*tapRows+i]) * float64(base[off+j])
						}
						tapTestNear(t, fmt.Sprintf("taps k=%d c[%d][%d]", depth, i, j), c[i*ldc+j], want, depth)
					}
				}
			}
			for depth := 0; depth <= 80; depth += tapLanes {
				const lda = 83
				a := gemmTestRandom(rng, (tapRows-1)*lda+depth)
				offs := []int{rng.IntN(1000), rng.IntN(1000) + 1, rng.IntN(1000) + 3}
				reach := max(offs[0], offs[1], offs[2])
				out := make([]float32, tapRows*tapDots)
				for i := range out {
					out[i] = float32(math.NaN())
				}
				k.vec.tapDot(depth, a, lda, base, offs, reach, out)
				for i := range tapRows {
					for s, off := range offs {
						var want float64
						for j := range depth {
							want += float64(a[i*lda+j]) * float64(base[off+j])
						}
						tapTestNear(t, fmt.Sprintf("tapDot k=%d out[%d][%d]", depth, i, s), out[i*tapDots+s], want, depth)
					}
				}
			}
		})
	}
}

func tapTestNear(t *testing.T, what string, got float32, want float64, depth int) {
	t.Helper()
	if math.Abs(float64(got)-want) > 1e-5*float64(depth+1) || math.IsNaN(float64(got)) {
		t.Fatalf("%s = %v, want %v", what, got, want)
	}
}
