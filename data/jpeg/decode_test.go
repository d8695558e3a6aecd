package jpeg

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The fixtures are made by scripts/gen_jpeg_fixtures.py: <case>.jpg and PIL's (libjpeg-turbo
// 2.1.5) RGB decode of it at 1/k in <case>_s<k>.png.
var fixtureCases = []struct {
	name string
	hdr  Header
	// maxDiff is the largest difference from PIL allowed at any scale. Decode is bit-exact on
	// every case; a non-zero value here would document a known deviation.
	maxDiff int
}{
	{"ycc420", Header{67, 45, 3, false, 1}, 0},
	{"ycc422", Header{67, 45, 3, false, 1}, 0},
	{"ycc444", Header{67, 45, 3, false, 1}, 0},
	{"grey", Header{67, 45, 1, false, 1}, 0},
	{"prog420", Header{67, 45, 3, true, 1}, 0},
	{"prog444", Header{67, 45, 3, true, 1}, 0},
	{"proggrey", Header{67, 45, 1, true, 1}, 0},
	{"photo420", Header{160, 120, 3, false, 1}, 0},
	{"cmyk", Header{67, 45, 4, false, 1}, 0},
	{"ycck", Header{67, 45, 4, false, 1}, 0},
	{"rgb", Header{67, 45, 3, false, 1}, 0},
	{"rgbids", Header{67, 45, 3, false, 1}, 0},
	{"orient6", Header{67, 45, 3, false, 6}, 0},
	{"orient8be", Header{67, 45, 3, false, 8}, 0},
	{"rst420", Header{67, 45, 3, false, 1}, 0},
	{"rstgrey", Header{67, 45, 1, false, 1}, 0},
	{"h1v2", Header{67, 45, 3, false, 1}, 0},
	{"h4v1", Header{67, 45, 3, false, 1}, 0},
	{"h2v2h1v2", Header{67, 45, 3, false, 1}, 0},
	{"h3v1", Header{67, 45, 3, false, 1}, 0},
	{"noninter", Header{67, 45, 3, false, 1}, 0},
}

var scales = []int{1, 2, 4, 8}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".jpg"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readReference returns PIL's decode of a fixture at 1/scale as packed RGB.
func readReference(t testing.TB, name string, scale int) Image {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", fmt.Sprintf("%s_s%d.png", name, scale)))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	r := m.Bounds()
	img := Image{Pix: make([]uint8, 3*r.Dx()*r.Dy()), Stride: 3 * r.Dx(), Rect: r}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			cr, cg, cb, _ := m.At(x, y).RGBA()
			p := img.Pix[y*img.Stride+3*x:]
			p[0], p[1], p[2] = uint8(cr>>8), uint8(cg>>8), uint8(cb>>8)
		}
	}
	return img
}

// compare returns the largest and the mean absolute difference of two images of one size.
func compare(t testing.TB, got, want Image) (int, float64) {
	t.Helper()
	if got.Rect.Size() != want.Rect.Size() {
		t.Fatalf("size %v, want %v", got.Rect.Size(), want.Rect.Size())
	}
	worst, sum := 0, 0.0
	for y := 0; y < got.Rect.Dy(); y++ {
		a := got.Pix[y*got.Stride:][:3*got.Rect.Dx()]
		b := want.Pix[y*want.Stride:][:3*got.Rect.Dx()]
		m, s := diff(a, b)
		worst, sum = max(worst, m), sum+s
	}
	return worst, sum / float64(3*got.Rect.Dx()*got.Rect.Dy())
}

func TestMatchesPIL(t *testing.T) {
	var d Decoder
	for _, tc := range fixtureCases {
		b := readFixture(t, tc.name)
		for _, s := range scales {
			got, err := d.Decode(b, s, image.Rectangle{})
			if err != nil {
				t.Fatalf("%s at 1/%d: %v", tc.name, s, err)
			}
			w, h := ScaledSize(tc.hdr.Width, tc.hdr.Height, s)
			if got.Rect != image.Rect(0, 0, w, h) || got.Stride != 3*w || len(got.Pix) != 3*w*h {
				t.Fatalf("%s at 1/%d: rect %v stride %d len %d, want %dx%d", tc.name, s, got.Rect, got.Stride, len(got.Pix), w, h)
			}
			worst, mean := compare(t, got, readReference(t, tc.name, s))
			if worst > tc.maxDiff {
				t.Errorf("%s at 1/%d: max abs diff from PIL %d (mean %.4f), want <= %d", tc.name, s, worst, mean, tc.maxDiff)
			}
		}
	}
}

func TestReadHeader(t *testing.T) {
	for _, tc := range fixtureCases {
		h, err := ReadHeader(readFixture(t, tc.name))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if h != tc.hdr {
			t.Errorf("%s: %+v, want %+v", tc.name, h, tc.hdr)
		}
	}
}

// app1 builds a JPEG prefix with an APP1 segment of payload p and a 1x1 grey SOF0.
func app1(p []byte) []byte {
	b := []byte{0xFF, 0xD8, 0xFF, 0xE1, byte((len(p) + 2) >> 8), byte(len(p) + 2)}
	b = append(b, p...)
	return append(b, 0xFF, 0xC0, 0, 11, 8, 0, 1, 0, 1, 1, 1, 0x11, 0)
}

func TestOrientation(t *testing.T) {
	le := func(tag, typ, val uint16) []byte {
		return []byte("Exif\x00\x00II*\x00\x08\x00\x00\x00\x01\x00" +
			string([]byte{byte(tag), byte(tag >> 8), byte(typ), byte(typ >> 8), 1, 0, 0, 0, byte(val), byte(val >> 8), 0, 0}) + "\x00\x00\x00\x00")
	}
	be := func(val uint16) []byte {
		return []byte("Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x02" +
			"\x01\x00\x00\x03\x00\x00\x00\x01\x00\x10\x00\x00" + // ImageWidth first
			"\x01\x12\x00\x03\x00\x00\x00\x01" + string([]byte{byte(val >> 8), byte(val)}) + "\x00\x00")
	}
	cases := []struct {
		name string
		p    []byte
		want int
	}{
		{"little-endian 3", le(0x112, 3, 3), 3},
		{"big-endian 5 after another tag", be(5), 5},
		{"out of range 9", le(0x112, 3, 9), 1},
		{"zero", le(0x112, 3, 0), 1},
		{"wrong type", le(0x112, 2, 6), 1},
		{"other tag only", le(0x100, 3, 6), 1},
		{"not exif", []byte("XMP\x00 whatever"), 1},
		{"bad byte order", []byte("Exif\x00\x00XX*\x00\x08\x00\x00\x00"), 1},
		{"IFD offset past end", []byte("Exif\x00\x00II*\x00\xff\x00\x00\x00\x01\x00"), 1},
		{"entry count past end", []byte("Exif\x00\x00II*\x00\x08\x00\x00\x00\xff\x00\x12\x01"), 1},
		{"empty", nil, 1},
	}
	for _, tc := range cases {
		h, err := ReadHeader(app1(tc.p))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if h.Orientation != tc.want {
			t.Errorf("%s: orientation %d, want %d", tc.name, h.Orientation, tc.want)
		}
	}
}

// mustDecode decodes the whole picture at 1/scale.
func mustDecode(t *testing.T, d *Decoder, b []byte, scale int) Image {
	t.Helper()
	img, err := d.Decode(b, scale, image.Rectangle{})
	if err != nil {
		t.Fatalf("1/%d: %v", scale, err)
	}
	return img
}

// subImage copies the window r of a full decode.
func subImage(full Image, r image.Rectangle) Image {
	out := Image{Pix: make([]uint8, 3*r.Dx()*r.Dy()), Stride: 3 * r.Dx(), Rect: r}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		copy(out.Pix[(y-r.Min.Y)*out.Stride:][:out.Stride], full.Pix[y*full.Stride+3*r.Min.X:])
	}
	return out
}

// windows are crops in fractions of the picture, to exercise edges, odd offsets and windows
// that start and end inside blocks and MCUs.
func windows(w, h int) []image.Rectangle {
	return []image.Rectangle{
		image.Rect(0, 0, w, h),
		image.Rect(0, 0, 1, 1),
		image.Rect(w-1, h-1, w, h),
		image.Rect(1, 1, w-1, h-1),
		image.Rect(w/3, h/4, w/3+w/2, h/4+h/2),
		image.Rect(w/2, 0, w, h),
		image.Rect(0, h/2, w, h),
		image.Rect(w/3+1, h/3+1, w/3+2, h/3+2),
		image.Rect(3, 5, 3+w/3|1, 5+h/3|1),
		image.Rect(w-5, 0, w+50, 7),      // clipped on the right
		image.Rect(-10, -10, w/2+3, h/2), // clipped on the top-left
	}
}

func TestWindowsMatchFullDecode(t *testing.T) {
	var full, win Decoder
	for _, tc := range fixtureCases {
		b := readFixture(t, tc.name)
		for _, s := range scales {
			ref, err := full.Decode(b, s, image.Rectangle{})
			if err != nil {
				t.Fatal(err)
			}
			pic := ref.Rect
			for _, r := range windows(pic.Dx(), pic.Dy()) {
				clipped := r.Intersect(pic)
				if clipped.Empty() {
					continue
				}
				got, err := win.Decode(b, s, r)
				if err != nil {
					t.Fatalf("%s at 1/%d, window %v: %v", tc.name, s, r, err)
				}
				if got.Rect != clipped {
					t.Fatalf("%s at 1/%d, window %v: rect %v, want %v", tc.name, s, r, got.Rect, clipped)
				}
				if worst, _ := compare(t, got, subImage(ref, clipped)); worst != 0 {
					t.Errorf("%s at 1/%d, window %v: differs from the full decode by up to %d", tc.name, s, r, worst)
				}
			}
		}
	}
}

// TestWindowStopsEarly checks that a window in the top rows of a baseline image does not need
// the rest of the entropy-coded data: the file cut in half still decodes it.
func TestWindowStopsEarly(t *testing.T) {
	var d Decoder
	b := readFixture(t, "photo420")
	ref := mustDecode(t, &d, b, 1)
	want := subImage(ref, image.Rect(10, 0, 150, 20))
	got, err := d.Decode(b[:len(b)/2], 1, image.Rect(10, 0, 150, 20))
	if err != nil {
		t.Fatalf("top window of a truncated file: %v", err)
	}
	if worst, _ := compare(t, got, want); worst != 0 {
		t.Errorf("top window differs by %d", worst)
	}
	if _, err := d.Decode(b[:len(b)/2], 1, image.Rectangle{}); err == nil {
		t.Error("whole picture of a truncated file: no error")
	}
}

// boxDown averages s x s boxes of img (partial boxes at the right and bottom edges).
func boxDown(img Image, s int) Image {
	w, h := ScaledSize(img.Rect.Dx(), img.Rect.Dy(), s)
	out := Image{Pix: make([]uint8, 3*w*h), Stride: 3 * w, Rect: image.Rect(0, 0, w, h)}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			for c := 0; c < 3; c++ {
				sum, n := 0, 0
				for yy := y * s; yy < min(y*s+s, img.Rect.Dy()); yy++ {
					for xx := x * s; xx < min(x*s+s, img.Rect.Dx()); xx++ {
						sum += int(img.Pix[yy*img.Stride+3*xx+c])
						n++
					}
				}
				out.Pix[y*out.Stride+3*x+c] = uint8((sum + n/2) / n)
			}
		}
	}
	return out
}

// TestScaledVersusBoxFilter states how far DCT-domain scaling is from decoding at full size and
// box-filtering down (on the 160x120 photographic fixture), and bounds it.
func TestScaledVersusBoxFilter(t *testing.T) {
	var d Decoder
	b := readFixture(t, "photo420")
	full := mustDecode(t, &d, b, 1)
	full = subImage(full, full.Rect) // own copy
	for _, s := range []int{2, 4, 8} {
		got := mustDecode(t, &d, b, s)
		worst, mean := compare(t, got, boxDown(full, s))
		t.Logf("1/%d: DCT scaling vs full decode + %dx%d box filter: mean abs diff %.2f, max %d", s, s, s, mean, worst)
		if mean > 4 {
			t.Errorf("1/%d: mean abs diff %.2f from the box-filtered full decode", s, mean)
		}
	}
}

func TestNoAllocationsInSteadyState(t *testing.T) {
	var d Decoder
	for _, name := range []string{"photo420", "prog420", "cmyk"} {
		b := readFixture(t, name)
		for _, s := range scales {
			if _, err := d.Decode(b, 1, image.Rectangle{}); err != nil {
				t.Fatal(err)
			}
			n := testing.AllocsPerRun(5, func() {
				if _, err := d.Decode(b, s, image.Rect(3, 3, 40, 30)); err != nil {
					t.Fatal(err)
				}
			})
			if n != 0 {
				t.Errorf("%s at 1/%d: %v allocations per decode", name, s, n)
			}
		}
	}
}

// patch returns a copy of b with b[i] = v.
func patch(b []byte, i int, v byte) []byte {
	c := bytes.Clone(b)
	c[i] = v
	return c
}

// sofOffset is the offset of the SOF marker's second byte in b.
func sofOffset(t *testing.T, b []byte) int {
	for i := 0; i+1 < len(b); i++ {
		if b[i] == 0xFF && b[i+1] >= 0xC0 && b[i+1] <= 0xC2 {
			return i + 1
		}
	}
	t.Fatal("no SOF")
	return 0
}

func TestUnsupportedAndInvalid(t *testing.T) {
	b := readFixture(t, "ycc420")
	sof := sofOffset(t, b)
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"arithmetic", patch(b, sof, 0xC9), "arithmetic"},
		{"lossless", patch(b, sof, 0xC3), "lossless"},
		{"hierarchical", patch(b, sof, 0xC5), "hierarchical"},
		{"12-bit", patch(b, sof+3, 12), "12-bit"},
		{"zero components", patch(b, sof+8, 0), "0 components"},
		{"zero width", patch(patch(b, sof+6, 0), sof+7, 0), "size 0x45"},
		{"sampling 5", patch(b, sof+10, 0x51), "sampling factors"},
		{"not a JPEG", []byte("GIF89a"), "SOI"},
		{"empty", nil, "SOI"},
		{"only SOI", []byte{0xFF, 0xD8}, "end of data"},
	}
	var d Decoder
	for _, tc := range cases {
		_, err := d.Decode(tc.data, 1, image.Rectangle{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one mentioning %q", tc.name, err, tc.want)
		}
		if _, err := ReadHeader(tc.data); err == nil {
			t.Errorf("%s: ReadHeader accepted it (it checks the same SOF fields)", tc.name)
		}
	}
	if _, err := d.Decode(b, 3, image.Rectangle{}); err == nil {
		t.Error("scale 3: no error")
	}
	if _, err := d.Decode(b, 1, image.Rect(100, 100, 200, 200)); err == nil {
		t.Error("crop outside the picture: no error")
	}
}

// TestTruncatedAndCorrupt cuts and damages every fixture: decoding must return an error or a
// picture of the right size, never panic or hang.
func TestTruncatedAndCorrupt(t *testing.T) {
	var d Decoder
	for _, tc := range fixtureCases {
		b := readFixture(t, tc.name)
		step := max(1, len(b)/97)
		for n := 0; n < len(b)-2; n += step {
			if _, err := d.Decode(b[:n], 1, image.Rectangle{}); err == nil {
				t.Errorf("%s cut to %d of %d bytes: no error", tc.name, n, len(b))
			}
		}
		for i := 2; i < len(b); i += step {
			for _, v := range []byte{0x00, 0xFF, b[i] ^ 0x10} {
				img, err := d.Decode(patch(b, i, v), 2, image.Rectangle{})
				if err == nil {
					w, h := img.Rect.Dx(), img.Rect.Dy()
					if len(img.Pix) != 3*w*h {
						t.Fatalf("%s with byte %d = %#x: %d bytes for %v", tc.name, i, v, len(img.Pix), img.Rect)
					}
				}
			}
		}
	}
}

// TestHugeHeaderRefused checks that a header claiming a huge picture in a small file is refused
// before anything is allocated for it.
func TestHugeHeaderRefused(t *testing.T) {
	b := readFixture(t, "grey")
	sof := sofOffset(t, b)
	big := patch(patch(patch(patch(b, sof+4, 0x3F), sof+5, 0xFF), sof+6, 0x3F), sof+7, 0xFF)
	var d Decoder
	if _, err := d.Decode(big, 1, image.Rectangle{}); err == nil || !strings.Contains(err.Error(), "cannot fit") {
		t.Errorf("16383x16383 in %d bytes: %v", len(b), err)
	}
	huge := patch(patch(patch(patch(b, sof+4, 0xFF), sof+5, 0xFF), sof+6, 0xFF), sof+7, 0xFF)
	if _, err := d.Decode(huge, 1, image.Rectangle{}); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Errorf("65535x65535: %v", err)
	}
}

// FuzzDecode decodes arbitrary data at every scale and a window chosen by the fuzzer.
func FuzzDecode(f *testing.F) {
	for _, tc := range fixtureCases {
		f.Add(readFixture(f, tc.name), uint8(0), uint16(0), uint16(0))
	}
	var d Decoder
	f.Fuzz(func(t *testing.T, b []byte, sc uint8, x, y uint16) {
		scale := 1 << (sc & 3)
		crop := image.Rectangle{}
		if sc&4 != 0 {
			crop = image.Rect(int(x%64), int(y%64), int(x%64)+int(sc>>3)+1, int(y%64)+int(sc>>3)+1)
		}
		img, err := d.Decode(b, scale, crop)
		if err != nil {
			return
		}
		h, err := ReadHeader(b)
		if err != nil {
			t.Fatalf("Decode succeeded, ReadHeader failed: %v", err)
		}
		w, ht := ScaledSize(h.Width, h.Height, scale)
		pic := image.Rect(0, 0, w, ht)
		if want := crop.Intersect(pic); !crop.Empty() && img.Rect != want || crop.Empty() && img.Rect != pic {
			t.Fatalf("rect %v for crop %v of %v", img.Rect, crop, pic)
		}
		if len(img.Pix) != 3*img.Rect.Dx()*img.Rect.Dy() {
			t.Fatalf("%d bytes for %v", len(img.Pix), img.Rect)
		}
	})
}
