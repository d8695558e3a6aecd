package fashionmnist

import (
	"os"
	"testing"
)

func TestSample(t *testing.T) {
	for split, n := range map[string]int{"train": 2000, "val": 500} {
		s, err := Sample(split)
		if err != nil {
			t.Fatal(err)
		}
		if s.N != n || s.H != 28 || s.W != 28 || s.C != 1 {
			t.Fatalf("%s: got %d images of %dx%dx%d", split, s.N, s.C, s.H, s.W)
		}
		var count [10]int
		for _, l := range s.Labels {
			count[l]++
		}
		for c, k := range count {
			if k < n/20 {
				t.Errorf("%s: class %s has only %d of %d images", split, Classes[c], k, n)
			}
		}
	}
}

// TestSampleMatchesFullSet checks the sample against the full set where Debian's package is installed.
func TestSampleMatchesFullSet(t *testing.T) {
	if _, err := os.Stat(DefaultDir); err != nil {
		t.Skip("the full Fashion-MNIST set is not installed (apt-get install dataset-fashion-mnist)")
	}
	full, err := Load(DefaultDir, "val")
	if err != nil {
		t.Fatal(err)
	}
	s, _ := Sample("val")
	if full.N != 10000 {
		t.Fatalf("full test set has %d images", full.N)
	}
	for i := 0; i < s.N; i++ {
		if s.Labels[i] != full.Labels[i] || string(s.Image(i)) != string(full.Image(i)) {
			t.Fatalf("image %d differs from the full set", i)
		}
	}
}
