package data

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/resnext/resnext/data/transform"
)

// padCropFlip is the MNIST-format train transform written out step by step: pad, crop at
// (dx, dy) of the padded image, flip.
func padCropFlip(src []uint8, w, h, pad, dx, dy int, flip bool) []uint8 {
	pw, ph := w+2*pad, h+2*pad
	padded := make([]uint8, pw*ph)
	for y := range h {
		copy(padded[(y+pad)*pw+pad:], src[y*w:(y+1)*w])
	}
	out := make([]uint8, w*h)
	for y := range h {
		copy(out[y*w:(y+1)*w], padded[(y+dy)*pw+dx:])
	}
	if flip {
		for y := range h {
			slices.Reverse(out[y*w : (y+1)*w])
		}
	}
	return out
}

func TestIDXSetTrainTransform(t *testing.T) {
	const side = 5
	pix := make([]uint8, 2*side*side)
	for i := range pix {
		pix[i] = uint8(10 + i)
	}
	images := &Images{N: 2, C: 1, H: side, W: side, Pixels: pix, Labels: []int32{3, 1}, Classes: MNISTClasses}
	for _, pad := range []int{0, 2} {
		s := &idxSet{name: "t", images: images, train: true, size: side, pad: pad, hflip: 0.5, mean: 10, std: 2}
		flips, shifts := 0, map[[2]int]bool{}
		for seed := range uint64(40) {
			// The draws: the crop's row offset, its column offset (when padding), the flip.
			rng := rand.New(rand.NewPCG(seed, 1))
			dx, dy := pad, pad
			if pad > 0 {
				dy, dx = rng.IntN(2*pad+1), rng.IntN(2*pad+1)
			}
			flip := rng.Float64() < 0.5
			if flip {
				flips++
			}
			shifts[[2]int{dx, dy}] = true
			want := padCropFlip(images.Image(1), side, side, pad, dx, dy, flip)
			got := make([]float32, side*side)
			if err := s.Load(1, rand.New(rand.NewPCG(seed, 1)), got); err != nil {
				t.Fatal(err)
			}
			for k, v := range want {
				if got[k] != (float32(v)-10)/2 {
					t.Fatalf("pad %d seed %d (dx %d dy %d flip %v): value %d is %v, want %v", pad, seed, dx, dy, flip, k, got[k], (float32(v)-10)/2)
				}
			}
		}
		if flips < 10 || flips > 30 {
			t.Errorf("pad %d: %d flips in 40 draws at p 0.5", pad, flips)
		}
		if pad > 0 && len(shifts) < 10 {
			t.Errorf("pad %d: only %d distinct crops in 40 draws", pad, len(shifts))
		}
	}
	// Eval: the image as it is, normalised.
	s := &idxSet{name: "t", images: images, size: side, pad: 2, hflip: 1, mean: 10, std: 2}
	got := make([]float32, side*side)
	if err := s.Load(0, nil, got); err != nil {
		t.Fatal(err)
	}
	for k, v := range images.Image(0) {
		if got[k] != (float32(v)-10)/2 {
			t.Fatalf("eval value %d is %v, want %v", k, got[k], (float32(v)-10)/2)
		}
	}
}

func TestIDXSetResize(t *testing.T) {
	pix := make([]uint8, 28*28)
	for i := range pix {
		pix[i] = uint8(i % 251)
	}
	images := &Images{N: 1, C: 1, H: 28, W: 28, Pixels: pix, Labels: []int32{0}, Classes: MNISTClasses}
	s := &idxSet{name: "t", images: images, size: 32, mean: 0, std: 1}
	got := make([]float32, 32*32)
	if err := s.Load(0, nil, got); err != nil {
		t.Fatal(err)
	}
	for k, v := range transform.ResizeGrey(pix, 28, 28, 32, 32) {
		if got[k] != float32(v) {
			t.Fatalf("value %d is %v, want the bilinear resize's %d", k, got[k], v)
		}
	}
	if err := s.Load(0, nil, got[:28*28]); err == nil {
		t.Error("a 28x28 destination was accepted for 32x32 samples")
	}
}
