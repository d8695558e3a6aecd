package jpeg

import (
	"bufio"
	"image"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestReferenceFolder compares decodes of a folder of JPEGs with reference decodes made by
// scripts/gen_jpeg_fixtures.py --folder (PIL's convert("RGB"), and draft mode for the scales).
// It runs only when JPEG_REF_DIR names such a folder.
func TestReferenceFolder(t *testing.T) {
	dir := os.Getenv("JPEG_REF_DIR")
	if dir == "" {
		t.Skip("JPEG_REF_DIR not set")
	}
	f, err := os.Open(filepath.Join(dir, "list.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var d Decoder
	worst := map[int]int{}
	sum := map[int]float64{}
	count := map[int]float64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		src, name := fields[0], fields[2]
		scale, _ := strconv.Atoi(fields[1])
		w, _ := strconv.Atoi(fields[3])
		h, _ := strconv.Atoi(fields[4])
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		img, err := d.Decode(b, scale, image.Rectangle{})
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if img.Rect != image.Rect(0, 0, w, h) {
			t.Fatalf("%s at 1/%d: rect %v, want %dx%d", src, scale, img.Rect, w, h)
		}
		m, s := diff(img.Pix, want)
		worst[scale] = max(worst[scale], m)
		sum[scale] += s
		count[scale] += float64(len(want))
	}
	for s := 1; s <= 8; s *= 2 {
		t.Logf("scale 1/%d: max abs diff %d, mean abs diff %.5f", s, worst[s], sum[s]/count[s])
	}
}

func diff(a, b []uint8) (int, float64) {
	m, s := 0, 0.0
	for i := range a {
		d := int(a[i]) - int(b[i])
		if d < 0 {
			d = -d
		}
		m = max(m, d)
		s += float64(d)
	}
	return m, s
}
