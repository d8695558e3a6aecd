package transform

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// The train transform of a 500x375 picture to 224x224, after decoding: the resize of a random
// crop with flip, the colour jitter and the normalisation.
func BenchmarkTrainFinish(b *testing.B) {
	img := gradient(500, 375)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range img.Pix {
		img.Pix[i] ^= uint8(rng.IntN(64))
	}
	t := Train{ImageSize: 224, Scale: defScale, Ratio: defRatio, HFlip: 0.5, Jitter: Jitter{0.4, 0.4, 0.4, 0},
		Mean: [3]float32{124, 116, 104}, Std: [3]float32{58, 57, 57}}
	dst := make([]float32, 3*224*224)
	var s Scratch
	b.ReportAllocs()
	for b.Loop() {
		p := t.Plan(img.W, img.H, rng)
		if err := t.Finish(WindowOf(img), p, rng, &s, dst); err != nil {
			b.Fatal(err)
		}
	}
}

// The eval transform of a 500x375 picture: resize to 341x256's centre 224x224 and normalise.
func BenchmarkEvalFinish(b *testing.B) {
	img := gradient(500, 375)
	e := Eval{ImageSize: 224, CropPct: 0.875, Mean: [3]float32{124, 116, 104}, Std: [3]float32{58, 57, 57}}
	p, err := e.Plan(img.W, img.H)
	if err != nil {
		b.Fatal(err)
	}
	dst := make([]float32, 3*224*224)
	var s Scratch
	b.ReportAllocs()
	for b.Loop() {
		if err := e.Finish(WindowOf(img), p, &s, dst); err != nil {
			b.Fatal(err)
		}
	}
}

// Finish's jitter, deferred into the normalisation table, gives what the adjustments applied one
// after the other give.
func TestFinishJitterDeferred(t *testing.T) {
	img := gradient(90, 70)
	tr := Train{ImageSize: 32, Scale: defScale, Ratio: defRatio, HFlip: 0.5, Jitter: Jitter{0.4, 0.4, 0.4, 0.1},
		Mean: [3]float32{124, 116, 104}, Std: [3]float32{58, 57, 57}}
	var s Scratch
	got, want := make([]float32, 3*32*32), make([]float32, 3*32*32)
	for seed := range uint64(40) {
		rng := newRand(seed)
		p := tr.Plan(img.W, img.H, rng)
		if err := tr.Finish(WindowOf(img), p, rng, &s, got); err != nil {
			t.Fatal(err)
		}
		rng = newRand(seed)
		p = tr.Plan(img.W, img.H, rng)
		out := NewRGB(32, 32)
		var r Resampler
		r.Resize(WindowOf(img), p.Box, p.Clip, out, p.Flip)
		tr.Jitter.Apply(out, rng)
		for i, v := range out.Pix {
			c := i % 3
			want[c*32*32+i/3] = (float32(v) - tr.Mean[c]) / tr.Std[c]
		}
		if !slices.Equal(got, want) {
			t.Fatalf("seed %d: Finish differs from resize, Jitter.Apply, normalise", seed)
		}
	}
}
