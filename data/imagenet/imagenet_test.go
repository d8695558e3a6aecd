package imagenet

import "testing"

func TestClasses(t *testing.T) {
	if len(Classes) != 1000 {
		t.Fatalf("%d classes, want 1000", len(Classes))
	}
	for i, want := range map[int]string{0: "tench", 1: "goldfish", 207: "golden retriever", 999: "toilet tissue"} {
		if Classes[i] != want {
			t.Errorf("class %d is %q, want %q", i, Classes[i], want)
		}
	}
	for i, c := range Classes {
		if c == "" {
			t.Errorf("class %d has no name", i)
		}
	}
}
