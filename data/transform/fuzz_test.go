package transform

import (
	"image"
	"math"
	"math/rand/v2"
	"testing"
)

// FuzzTransform makes eval and train samples of pictures of any size up to 2^18 pixels (of any
// aspect ratio, 1 x 262144 included), with crop, scale and ratio settings drawn by the fuzzer,
// RandAugment and random erasing: no panic, a plan inside the picture, finite values, and memory of
// the output's size (the sample of an extreme picture is cheap).
func FuzzTransform(f *testing.F) {
	f.Add(uint32(500), uint32(375), uint8(31), uint16(875), uint16(8), uint16(100), uint16(75), uint16(133), uint64(1))
	f.Add(uint32(1), uint32(30000), uint8(223), uint16(875), uint16(8), uint16(100), uint16(75), uint16(133), uint64(2))
	f.Add(uint32(100000), uint32(1), uint8(223), uint16(1000), uint16(100), uint16(100), uint16(1), uint16(1000), uint64(3))
	f.Add(uint32(1), uint32(1), uint8(0), uint16(1), uint16(1), uint16(1), uint16(1), uint16(1), uint64(4))
	f.Add(uint32(0), uint32(7), uint8(15), uint16(875), uint16(8), uint16(100), uint16(75), uint16(133), uint64(5))
	ra, err := NewRandAugment("randaug-m9-mstd0.5-inc1", RandAugmentParams{ImgMean: [3]uint8{124, 116, 104}})
	if err != nil {
		f.Fatal(err)
	}
	var s Scratch
	f.Fuzz(func(t *testing.T, w, h uint32, size uint8, cropPct, s0, s1, r0, r1 uint16, seed uint64) {
		if w == 0 || h == 0 || uint64(w)*uint64(h) > 1<<18 {
			if w == 0 || h == 0 {
				if err := (Eval{ImageSize: 8, CropPct: 1, Std: [3]float32{1, 1, 1}}).Apply(NewRGB(int(w%8), int(h%8)), make([]float32, 3*8*8)); err == nil {
					t.Fatalf("%dx%d: no error", w, h)
				}
			}
			return
		}
		out := int(size)%64 + 1
		rng := rand.New(rand.NewPCG(seed, 2))
		img := NewRGB(int(w), int(h))
		for i := range img.Pix {
			img.Pix[i] = uint8(rng.Uint32())
		}
		dst := make([]float32, 3*out*out)
		std := [3]float32{58, 57, 57}
		eval := Eval{ImageSize: out, CropPct: float64(cropPct) / 1000, Std: std}
		train := Train{ImageSize: out, Scale: [2]float64{float64(s0) / 100, float64(s1) / 100},
			Ratio: [2]float64{float64(r0) / 100, float64(r1) / 100}, HFlip: 0.5, Std: std,
			Jitter:  Jitter{Brightness: 0.4, Contrast: 0.4, Saturation: 0.4, Hue: 0.1},
			Erasing: RandomErasing{Prob: 0.5, Scale: [2]float64{0.02, 0.33}, Ratio: [2]float64{0.3, 3.3}, MaxAttempts: 10}}
		if seed&1 != 0 {
			train.RandAugment = ra
		}
		if eval.Validate() == nil {
			p, err := eval.Plan(int(w), int(h))
			if err != nil {
				t.Fatal(err)
			}
			checkPlan(t, p, int(w), int(h))
			if err := eval.Finish(WindowOf(img), p, &s, dst); err != nil {
				t.Fatal(err)
			}
			checkFinite(t, dst)
		}
		if train.Validate() == nil {
			p := train.Plan(int(w), int(h), rng)
			checkPlan(t, p, int(w), int(h))
			if err := train.Finish(WindowOf(img), p, rng, &s, dst); err != nil {
				t.Fatal(err)
			}
			checkFinite(t, dst)
		}
		if c := cap(s.out.Pix) + cap(s.tmp.Pix); c > 4*3*64*64 {
			t.Fatalf("%dx%d to %d: scratch of %d bytes", w, h, out, c)
		}
	})
}

func checkPlan(t *testing.T, p Plan, w, h int) {
	t.Helper()
	pic := image.Rect(0, 0, w, h)
	if !p.Clip.In(pic) || p.Clip.Empty() || p.Need().Empty() || !(p.Box.W > 0 && p.Box.H > 0) {
		t.Fatalf("%dx%d picture: plan %+v", w, h, p)
	}
}

func checkFinite(t *testing.T, dst []float32) {
	t.Helper()
	for i, v := range dst {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) || math.Abs(float64(v)) > 10 {
			t.Fatalf("value %d is %v", i, v)
		}
	}
}
