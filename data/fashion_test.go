package data_test

import (
	"slices"
	"testing"

	"github.com/resnext/resnext/data"
	"github.com/resnext/resnext/data/fashionmnist"
)

func TestFashionMNISTSampleThroughLoader(t *testing.T) {
	if !slices.Equal(data.FashionMNISTClasses, fashionmnist.Classes) || data.FashionMNISTMean != fashionmnist.Mean || data.FashionMNISTStd != fashionmnist.Std {
		t.Fatal("data's Fashion-MNIST classes or normalisation differ from package fashionmnist's")
	}
	for _, split := range []string{"train", "val"} {
		want, err := fashionmnist.Sample(split)
		if err != nil {
			t.Fatal(err)
		}
		ds, err := data.Open(data.Options{Dataset: "Fashion_MNIST", Split: split})
		if err != nil {
			t.Fatal(err)
		}
		if c, h, w := ds.Shape(); c != 1 || h != 28 || w != 28 || ds.Len() != want.N || !slices.Equal(ds.Classes(), fashionmnist.Classes) {
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
					if v := (float32(p) - fashionmnist.Mean) / fashionmnist.Std; b.X[k] != v {
						t.Fatalf("%s: pixel %d of image 0 is %v, want %v", split, k, b.X[k], v)
					}
				}
			}
			labels = append(labels, b.Labels[:b.N]...)
			l.Release(b)
		}
		it.Close()
		if !slices.Equal(labels, want.Labels) {
			t.Errorf("%s: the loader's labels differ from fashionmnist.Sample's", split)
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
