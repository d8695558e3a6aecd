package data_test

import (
	"os"
	"slices"
	"testing"

	"github.com/resnext/resnext/data"
)

// sampleFromDisk reads a split of the embedded sample from its files, not from the binary.
func sampleFromDisk(t *testing.T, split string) *data.Images {
	t.Helper()
	s, err := data.LoadMNIST("fashionmnist/sample", split, data.FashionMNISTClasses)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestFashionMNISTSample(t *testing.T) {
	for split, n := range map[string]int{"train": 2000, "val": 500} {
		s := sampleFromDisk(t, split)
		if s.N != n || s.H != 28 || s.W != 28 || s.C != 1 {
			t.Fatalf("%s: got %d images of %dx%dx%d", split, s.N, s.C, s.H, s.W)
		}
		var count [10]int
		for _, l := range s.Labels {
			count[l]++
		}
		for c, k := range count {
			if k < n/20 {
				t.Errorf("%s: class %s has only %d of %d images", split, data.FashionMNISTClasses[c], k, n)
			}
		}
	}
}

// TestFashionMNISTSampleMatchesFullSet checks the sample against the full set where Debian's package
// is installed.
func TestFashionMNISTSampleMatchesFullSet(t *testing.T) {
	if _, err := os.Stat(data.FashionMNISTDir); err != nil {
		t.Skip("the full Fashion-MNIST set is not installed (apt-get install dataset-fashion-mnist)")
	}
	full, err := data.LoadMNIST(data.FashionMNISTDir, "val", data.FashionMNISTClasses)
	if err != nil {
		t.Fatal(err)
	}
	s := sampleFromDisk(t, "val")
	if full.N != 10000 {
		t.Fatalf("full test set has %d images", full.N)
	}
	for i := 0; i < s.N; i++ {
		if s.Labels[i] != full.Labels[i] || string(s.Image(i)) != string(full.Image(i)) {
			t.Fatalf("image %d differs from the full set", i)
		}
	}
}

func TestFashionMNISTSampleThroughLoader(t *testing.T) {
	for _, split := range []string{"train", "val"} {
		want := sampleFromDisk(t, split)
		ds, err := data.Open(data.Options{Dataset: "Fashion_MNIST", Split: split})
		if err != nil {
			t.Fatal(err)
		}
		if c, h, w := ds.Shape(); c != 1 || h != 28 || w != 28 || ds.Len() != want.N || !slices.Equal(ds.Classes(), data.FashionMNISTClasses) {
			t.Fatalf("%s: %d samples of %dx%dx%d", split, ds.Len(), c, h, w)
		}
		l, err := data.NewLoader(ds, data.LoaderOptions{BatchSize: 64, Workers: 2})
		if err != nil {
			t.Fatal(err)
		}
		it := l.Epoch(0, 0)
		var labels []int32
		for {
			b, ok := it.Next()
			if !ok {
				break
			}
			if b.Index == 0 {
				for k, p := range want.Image(0) {
					if v := (float32(p) - data.FashionMNISTMean) / data.FashionMNISTStd; b.X[k] != v {
						t.Fatalf("%s: pixel %d of image 0 is %v, want %v", split, k, b.X[k], v)
					}
				}
			}
			labels = append(labels, b.Labels[:b.N]...)
			l.Release(b)
		}
		it.Close()
		if !slices.Equal(labels, want.Labels) {
			t.Errorf("%s: the loader's labels differ from the sample files' ones", split)
		}
	}
	// The train transform with padding, flip and another size.
	ds, err := data.Open(data.Options{Dataset: "fashion_mnist", Train: true, ImageSize: 32, CropPadding: 4, HFlip: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	if c, h, w := ds.Shape(); c != 1 || h != 32 || w != 32 || ds.Len() != 2000 {
		t.Errorf("train set: %d samples of %dx%dx%d", ds.Len(), c, h, w)
	}
}

func TestFashionMNISTTrainDeterministic(t *testing.T) {
	ds, err := data.Open(data.Options{Dataset: "fashion_mnist", Train: true, CropPadding: 2, HFlip: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	run := func(workers int) [][]float32 {
		l, err := data.NewLoader(ds, data.LoaderOptions{BatchSize: 16, Shuffle: true, Seed: 7, NumSamples: 100, Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		it := l.Epoch(3, 0)
		defer it.Close()
		var out [][]float32
		for {
			b, ok := it.Next()
			if !ok {
				return out
			}
			out = append(out, slices.Clone(b.X))
			l.Release(b)
		}
	}
	one, three := run(1), run(3)
	if len(one) != 7 || len(three) != 7 {
		t.Fatalf("%d and %d batches, want 7", len(one), len(three))
	}
	for k := range one {
		if !slices.Equal(one[k], three[k]) {
			t.Fatalf("batch %d differs between 1 and 3 workers", k)
		}
	}
}
