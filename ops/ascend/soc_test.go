//go:build cgo

package ascend

import (
	"math"
	"os"
	"strings"
	"testing"

	"github.com/resnext/resnext/internal/testutil"
	"github.com/resnext/resnext/ops"
)

func TestSocOf(t *testing.T) {
	for name, want := range map[string]socGen{
		"Ascend910A": soc910, "Ascend910B": soc910, "Ascend910ProB": soc910, "Ascend910PremiumA": soc910,
		"Ascend910B1": soc910B, "Ascend910B4-1": soc910B, "Ascend910B2C": soc910B,
		"Ascend910_9391": soc910_93, "Ascend950PR_9599": soc950, "Ascend310P3": socUnknown, "": socUnknown,
	} {
		if got := socOf(name).gen; got != want {
			t.Errorf("socOf(%q) = %d, want %d", name, got, want)
		}
	}
}

// TestChipRules: the backend reads the chip from aclrtGetSocName, refuses the cube math types the
// chip does not take with float32, and keeps saveInvStd meaning 1/sqrt(var + eps) although
// aclnnBatchNorm writes the variance there.
func TestChipRules(t *testing.T) {
	chip := os.Getenv(envSoC)
	if chip == "" {
		chip = "Ascend910A"
	}
	b := open(t, Options{Device: 0})
	if !strings.Contains(b.Device(), chip) {
		t.Errorf("Device() = %q, want the chip %s in it", b.Device(), chip)
	}
	l := testLib(t)
	bad := []int8{0, 7}
	if socOf(chip).gen == soc910 {
		bad = append(bad, 3)
	}
	for _, c := range bad {
		if _, err := Open(Options{Device: 0, Lib: l, CubeMathType: c, CubeMathTypeSet: true}); err == nil ||
			!strings.Contains(err.Error(), "cube math type") {
			t.Errorf("cube math type %d on %s: %v", c, chip, err)
		}
	}
	for _, c := range []int8{1, 2} {
		o, err := Open(Options{Device: 0, Lib: l, CubeMathType: c, CubeMathTypeSet: true})
		if err != nil {
			t.Errorf("cube math type %d on %s: %v", c, chip, err)
			continue
		}
		o.Close()
	}

	// One batch-norm step: the saved statistic reads as 1/sqrt(var + eps) with the forward's eps.
	x := testutil.Upload(b, ops.Shape{4, 2}, []float32{1, 2, 3, 6, 5, 10, 7, 14})
	g, be := testutil.Upload(b, ops.Shape{2}, []float32{1, 1}), testutil.Upload(b, ops.Shape{2}, []float32{0, 0})
	rm, rv := testutil.Upload(b, ops.Shape{2}, []float32{0, 0}), testutil.Upload(b, ops.Shape{2}, []float32{1, 1})
	y, sm, si := b.Alloc(ops.Float32, ops.Shape{4, 2}), b.Alloc(ops.Float32, ops.Shape{2}), b.Alloc(ops.Float32, ops.Shape{2})
	const eps = 0.5
	b.BatchNormTrain(x, g, be, rm, rv, y, sm, si, 0.1, eps)
	got := testutil.Download(t, b, si)
	for c, v := range []float64{5, 20} { // the biased variances of 1,3,5,7 and 2,6,10,14
		want := 1 / math.Sqrt(v+eps)
		if d := float64(got[c]) - want; d > 1e-6 || d < -1e-6 {
			t.Errorf("saveInvStd[%d] = %v, want %v", c, got[c], want)
		}
	}
	for _, x := range []ops.Tensor{x, g, be, rm, rv, y, sm, si} {
		b.Free(x)
	}
}

// TestExecutorCache: a repeated kernel relaunches its kept executor, rebinding addresses that
// changed, with the same results as the first launch; turned off, every call runs both phases.
func TestExecutorCache(t *testing.T) {
	for _, off := range []bool{false, true} {
		b := open(t, Options{Device: 0, NoExecutorCache: off})
		launches0, hits0, _ := b.ExecutorStats()
		for i := range 3 {
			x := testutil.Upload(b, ops.Shape{2, 3}, []float32{-1, 2, -3, 4, -5, float32(i)})
			y := b.Alloc(ops.Float32, ops.Shape{2, 3})
			pad := b.Alloc(ops.Float32, ops.Shape{64}) // moves the next iteration's tensors
			b.ReLU(x, y)
			if got := testutil.Download(t, b, y); got[1] != 2 || got[0] != 0 || got[5] != float32(i) {
				t.Errorf("off=%v step %d: %v", off, i, got)
			}
			defer b.Free(pad)
			b.Free(x)
			b.Free(y)
		}
		launches, hits, _ := b.ExecutorStats()
		wantHits := 2 // two of the three ReLUs reuse the first one's executor
		if off {
			wantHits = 0
		}
		if hits-hits0 < wantHits || off && hits != hits0 {
			t.Errorf("off=%v: %d launches, %d reused, want %d reused", off, launches-launches0, hits-hits0, wantHits)
		}
	}
}
