package transform

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// erasingMarked is a 3 x h x w image whose every value is distinct and away from 0 and from the
// normal draws' typical range, so erased elements are easy to find.
func erasingMarked(h, w int) []float32 {
	img := make([]float32, 3*h*w)
	for i := range img {
		img[i] = 1000 + float32(i)
	}
	return img
}

// erasingFind returns the bounding box of the changed elements of channel 0 and whether every
// element inside it (all channels) changed and none outside did.
func erasingFind(before, after []float32, h, w int) (top, left, bh, bw int, changed, exact bool) {
	y0, x0, y1, x1 := h, w, -1, -1
	for y := range h {
		for x := range w {
			if before[y*w+x] != after[y*w+x] {
				y0, x0, y1, x1 = min(y0, y), min(x0, x), max(y1, y), max(x1, x)
			}
		}
	}
	if y1 < 0 {
		return 0, 0, 0, 0, false, string(f32bytes(before)) == string(f32bytes(after))
	}
	exact = true
	for c := range 3 {
		for y := range h {
			for x := range w {
				i := (c*h+y)*w + x
				in := y >= y0 && y <= y1 && x >= x0 && x <= x1
				if in == (before[i] == after[i]) {
					exact = false
				}
			}
		}
	}
	return y0, x0, y1 - y0 + 1, x1 - x0 + 1, true, exact
}

// f32bytes views the values as their bit patterns, for exact comparison.
func f32bytes(v []float32) []byte {
	b := make([]byte, 0, 4*len(v))
	for _, f := range v {
		u := math.Float32bits(f)
		b = append(b, byte(u), byte(u>>8), byte(u>>16), byte(u>>24))
	}
	return b
}

// Over many draws with MindCV's defaults (re_prob 0.25 here): the frequency matches re_prob, every
// erased box comes from an area in re_scale and a ratio in re_ratio (allowing for the rounding of
// the sides), values inside the box all change and nothing outside does.
func TestRandomErasingBoxes(t *testing.T) {
	e := DefaultRandomErasing()
	e.Prob = 0.25
	const h, w, n = 56, 64, 4000
	rng := rand.New(rand.NewPCG(1, 2))
	erased := 0
	var fracSum float64
	for range n {
		img := erasingMarked(h, w)
		before := append([]float32(nil), img...)
		e.Apply(img, 3, h, w, rng)
		top, left, bh, bw, changed, exact := erasingFind(before, img, h, w)
		if !exact {
			t.Fatalf("box at (%d, %d) %dx%d: elements outside changed or inside kept", top, left, bh, bw)
		}
		if !changed {
			continue
		}
		erased++
		if bh >= h || bw >= w || top+bh > h || left+bw > w {
			t.Fatalf("box at (%d, %d) %dx%d does not fit strictly in %dx%d", top, left, bh, bw, h, w)
		}
		fracSum += float64(bh*bw) / (h * w)
		// Undo the rounding: bh = round(bw/r) bounds r, bw = round(sqrt(A r)) then bounds A;
		// some r in re_ratio and some A in re_scale must give this box.
		rLo, rHi := max(float64(bw)/(float64(bh)+0.5), e.Ratio[0]), e.Ratio[1]
		if bh > 0 {
			rHi = min(float64(bw)/(float64(bh)-0.5), e.Ratio[1])
		}
		if rLo > rHi {
			t.Errorf("box %dx%d: no ratio in re_ratio %v rounds to it", bh, bw, e.Ratio)
			continue
		}
		aLo := (float64(bw) - 0.5) * (float64(bw) - 0.5) / rHi / (h * w)
		aHi := (float64(bw) + 0.5) * (float64(bw) + 0.5) / rLo / (h * w)
		if aLo > e.Scale[1] || aHi < e.Scale[0] {
			t.Errorf("box %dx%d: area fraction in [%.4f, %.4f], outside re_scale %v", bh, bw, aLo, aHi, e.Scale)
		}
	}
	if f := float64(erased) / n; math.Abs(f-e.Prob) > 4*math.Sqrt(e.Prob*(1-e.Prob)/n) {
		t.Errorf("erased %.3f of the images, want re_prob %v", f, e.Prob)
	}
	if mean := fracSum / float64(erased); mean < 0.15 || mean > 0.2 {
		t.Errorf("mean erased area fraction %.3f, want about (0.02+0.33)/2", mean)
	}
}

// The values: a constant (one for all channels, or one per channel), or standard normal draws
// per element.
func TestRandomErasingValues(t *testing.T) {
	const h, w = 40, 50
	e := RandomErasing{Prob: 1, Scale: [2]float64{0.2, 0.3}, Ratio: [2]float64{0.5, 2}, MaxAttempts: 10}
	for _, v := range []ErasingValue{{}, {RGB: [3]int{7, 7, 7}}, {RGB: [3]int{1, 2, 3}}} {
		e.Value = v
		img := erasingMarked(h, w)
		before := append([]float32(nil), img...)
		e.Apply(img, 3, h, w, rand.New(rand.NewPCG(3, 4)))
		for i := range img {
			if img[i] != before[i] && img[i] != float32(v.RGB[i/(h*w)]) {
				t.Fatalf("value %v: channel %d holds %v", v, i/(h*w), img[i])
			}
		}
	}
	e.Value = ErasingValue{Random: true}
	var sum, sq float64
	var n, distinct int
	for seed := range uint64(50) {
		img := erasingMarked(h, w)
		before := append([]float32(nil), img...)
		e.Apply(img, 3, h, w, rand.New(rand.NewPCG(seed, 5)))
		seen := map[float32]bool{}
		for i := range img {
			if img[i] != before[i] {
				sum += float64(img[i])
				sq += float64(img[i]) * float64(img[i])
				n++
				seen[img[i]] = true
			}
		}
		distinct += len(seen)
	}
	mean, std := sum/float64(n), math.Sqrt(sq/float64(n)-(sum/float64(n))*(sum/float64(n)))
	if math.Abs(mean) > 0.02 || math.Abs(std-1) > 0.02 || distinct < n*99/100 {
		t.Errorf("random: mean %.4f std %.4f over %d values (%d distinct), want N(0, 1) per element", mean, std, n, distinct)
	}
}

// When no box fits within re_max_attempts the image stays as it is, and exactly that many
// attempts are drawn (each draws two uniforms).
func TestRandomErasingMaxAttempts(t *testing.T) {
	e := RandomErasing{Prob: 1, Scale: [2]float64{0.99, 1}, Ratio: [2]float64{1, 1}, MaxAttempts: 3}
	img := erasingMarked(10, 10)
	before := append([]float32(nil), img...)
	rng := rand.New(rand.NewPCG(8, 9))
	e.Apply(img, 3, 10, 10, rng)
	if string(f32bytes(img)) != string(f32bytes(before)) {
		t.Error("a box the size of the image was erased")
	}
	ref := rand.New(rand.NewPCG(8, 9))
	for range 1 + 2*e.MaxAttempts {
		ref.Float64()
	}
	if rng.Float64() != ref.Float64() {
		t.Errorf("Apply drew other than 1 + 2*re_max_attempts (%d) numbers", 1+2*e.MaxAttempts)
	}
	if _, _, _, _, ok := (RandomErasing{Prob: 0, Scale: [2]float64{0.1, 0.2}, Ratio: [2]float64{1, 1}, MaxAttempts: 10}).Box(10, 10, rng); ok {
		t.Error("re_prob 0 erased")
	}
}

func TestRandomErasingValidate(t *testing.T) {
	if err := DefaultRandomErasing().Validate(); err != nil {
		t.Errorf("MindCV's defaults: %v", err)
	}
	for _, tc := range []struct {
		mod  func(*RandomErasing)
		want string
	}{
		{func(e *RandomErasing) { e.Prob = 1.5 }, "re_prob 1.5"},
		{func(e *RandomErasing) { e.Prob = math.NaN() }, "re_prob NaN"},
		{func(e *RandomErasing) { e.Scale = [2]float64{0.5, 0.2} }, "re_scale [0.5 0.2]"},
		{func(e *RandomErasing) { e.Scale = [2]float64{-0.1, 0.2} }, "re_scale"},
		{func(e *RandomErasing) { e.Scale = [2]float64{0, 0} }, "re_scale"},
		{func(e *RandomErasing) { e.Ratio = [2]float64{0, 3.3} }, "re_ratio [0 3.3]"},
		{func(e *RandomErasing) { e.Ratio = [2]float64{3, 1} }, "re_ratio"},
		{func(e *RandomErasing) { e.MaxAttempts = 0 }, "re_max_attempts 0"},
		{func(e *RandomErasing) { e.Value.RGB = [3]int{0, 256, 0} }, "re_value [0, 256, 0]"},
		{func(e *RandomErasing) { e.Value.RGB = [3]int{-1, -1, -1} }, "re_value -1"},
	} {
		e := DefaultRandomErasing()
		tc.mod(&e)
		if err := e.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want one naming %s", e, err, tc.want)
		}
	}
}

func TestParseErasingValue(t *testing.T) {
	for _, tc := range []struct {
		in   any
		want ErasingValue
	}{
		{0, ErasingValue{}},
		{"0", ErasingValue{}},
		{"random", ErasingValue{Random: true}},
		{float64(12), ErasingValue{RGB: [3]int{12, 12, 12}}},
		{[]any{1, int64(2), float64(3)}, ErasingValue{RGB: [3]int{1, 2, 3}}},
		{[]int{4, 5, 6}, ErasingValue{RGB: [3]int{4, 5, 6}}},
	} {
		if got, err := ParseErasingValue(tc.in); err != nil || got != tc.want {
			t.Errorf("ParseErasingValue(%v) = %v, %v, want %v", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []any{"rand", 1.5, []any{1, 2}, []any{1, "x", 3}, nil} {
		if _, err := ParseErasingValue(in); err == nil || !strings.Contains(err.Error(), "re_value") {
			t.Errorf("ParseErasingValue(%v): error %v", in, err)
		}
	}
}

func TestRandomErasingNoAllocs(t *testing.T) {
	e := DefaultRandomErasing()
	e.Prob, e.Value.Random = 1, true
	img := make([]float32, 3*32*32)
	rng := rand.New(rand.NewPCG(1, 1))
	if n := testing.AllocsPerRun(100, func() { e.Apply(img, 3, 32, 32, rng) }); n != 0 {
		t.Errorf("Apply allocates %v times per call", n)
	}
}

func BenchmarkRandomErasingApply(b *testing.B) {
	for _, v := range []ErasingValue{{}, {Random: true}} {
		b.Run("re_value="+v.String(), func(b *testing.B) {
			e := DefaultRandomErasing()
			e.Prob, e.Value = 1, v
			img := make([]float32, 3*224*224)
			rng := rand.New(rand.NewPCG(1, 1))
			for b.Loop() {
				e.Apply(img, 3, 224, 224, rng)
			}
		})
	}
}
