//go:build cgo

package turbojpeg

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/resnext/resnext/data/jpeg"
)

// testLib loads the library or skips the test.
func testLib(t testing.TB) *Lib {
	t.Helper()
	l, err := Load()
	if err != nil {
		t.Skipf("libturbojpeg not available, skipping: %v (install it with apt-get install libturbojpeg0, or set %s to its path)", err, EnvLib)
	}
	return l
}

// variants is the library with each API it can be driven through: the one Load picked, and the
// TurboJPEG 2 functions of a libjpeg-turbo 3.
func variants(t testing.TB) []*Lib {
	l := testLib(t)
	if l.API() == 3 {
		return []*Lib{l, l.withAPI2()}
	}
	return []*Lib{l}
}

func newDecoder(t testing.TB, l *Lib) *Decoder {
	t.Helper()
	d, err := l.NewDecoder()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pilCase is one PIL decode: testdata/<stem>.s<scale>.png of testdata/<stem>.jpg.
type pilCase struct {
	stem  string
	scale int
}

func pilCases(t testing.TB) []pilCase {
	files, err := filepath.Glob("testdata/*.s?.png")
	if err != nil || len(files) == 0 {
		t.Fatalf("no PIL fixtures in testdata (run scripts/gen_turbojpeg_fixtures.py): %v", err)
	}
	var cs []pilCase
	for _, f := range files {
		base := strings.TrimSuffix(filepath.Base(f), ".png")
		var c pilCase
		c.stem = base[:len(base)-3]
		if _, err := fmt.Sscanf(base[len(base)-2:], "s%d", &c.scale); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		cs = append(cs, c)
	}
	return cs
}

// readRGB reads a PNG fixture as packed RGB.
func readRGB(t testing.TB, name string) (pix []byte, w, h int) {
	t.Helper()
	m, err := png.Decode(bytes.NewReader(readFile(t, name)))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	b := m.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := m.At(x, y).RGBA()
			pix = append(pix, byte(r>>8), byte(g>>8), byte(bl>>8))
		}
	}
	return pix, b.Dx(), b.Dy()
}

// sameWindow reports the first pixel of win where got differs from want, a packed whole picture of
// width w, or "".
func sameWindow(got jpeg.Image, want []byte, w int, win image.Rectangle) string {
	for y := win.Min.Y; y < win.Max.Y; y++ {
		for x := win.Min.X; x < win.Max.X; x++ {
			g := got.Pix[(y-got.Rect.Min.Y)*got.Stride+3*(x-got.Rect.Min.X):][:3]
			e := want[(y*w+x)*3:][:3]
			if !bytes.Equal(g, e) {
				return fmt.Sprintf("pixel (%d,%d) is %v, want %v", x, y, g, e)
			}
		}
	}
	return ""
}

func TestDecodeMatchesPIL(t *testing.T) {
	for _, l := range variants(t) {
		d := newDecoder(t, l)
		for _, c := range pilCases(t) {
			t.Run(fmt.Sprintf("%s/%s/1:%d", l, c.stem, c.scale), func(t *testing.T) {
				want, w, h := readRGB(t, fmt.Sprintf("%s.s%d.png", c.stem, c.scale))
				got, err := d.Decode(readFile(t, c.stem+".jpg"), c.scale, image.Rectangle{})
				if err != nil {
					t.Fatal(err)
				}
				if got.Rect != image.Rect(0, 0, w, h) || got.Stride != 3*w || len(got.Pix) != 3*w*h {
					t.Fatalf("Rect %v, Stride %d, %d bytes; want the whole %dx%d picture", got.Rect, got.Stride, len(got.Pix), w, h)
				}
				if diff := sameWindow(got, want, w, got.Rect); diff != "" {
					t.Fatal("differs from PIL: " + diff)
				}
			})
		}
	}
}

func TestDecodeCrop(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cropped := 0
	defer func() { t.Logf("%d cropped decodes", cropped) }()
	for _, l := range variants(t) {
		d := newDecoder(t, l)
		for _, c := range pilCases(t) {
			want, w, h := readRGB(t, fmt.Sprintf("%s.s%d.png", c.stem, c.scale))
			hdr, err := d.ReadHeader(readFile(t, c.stem+".jpg"))
			if err != nil {
				t.Fatal(err)
			}
			iw := 0
			if hdr.Subsampling >= 0 {
				iw, _ = jpeg.ScaledSize(mcuWidth[hdr.Subsampling], 1, c.scale)
			}
			for i := 0; i < 60; i++ {
				x0, y0 := rng.IntN(w), rng.IntN(h)
				crop := image.Rect(x0, y0, x0+1+rng.IntN(w-x0), y0+1+rng.IntN(h-y0))
				if i == 0 {
					crop = image.Rect(0, 0, w, h)
				}
				name := fmt.Sprintf("%s/%s/1:%d/%v", l, c.stem, c.scale, crop)
				got, err := d.Decode(readFile(t, c.stem+".jpg"), c.scale, crop)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if !crop.In(got.Rect) || !got.Rect.In(image.Rect(0, 0, w, h)) || len(got.Pix) != (got.Rect.Dy()-1)*got.Stride+3*got.Rect.Dx() || got.Stride < 3*got.Rect.Dx() {
					t.Fatalf("%s: window %v, stride %d, %d bytes", name, got.Rect, got.Stride, len(got.Pix))
				}
				r := got.Rect
				switch {
				case l.API() == 2 && r != image.Rect(0, 0, w, h):
					t.Fatalf("%s: the TurboJPEG 2 API gave window %v, want the whole picture", name, r)
				case l.API() == 3 && (r.Min.Y != crop.Min.Y || r.Max.Y != crop.Max.Y || crop.Min.X-r.Min.X > iw ||
					r.Max.X-crop.Max.X > cropEdge):
					t.Fatalf("%s: window %v, want the crop's rows and its columns widened by less than an iMCU (%d) left, %d right", name, r, iw, cropEdge)
				}
				cropped++
				if diff := sameWindow(got, want, w, got.Rect); diff != "" {
					t.Fatalf("%s: differs from PIL's whole decode: %s", name, diff)
				}
			}
		}
	}
}

func TestReadHeader(t *testing.T) {
	tests := []struct {
		file string
		want Header
	}{
		{"rgb420_64x48.jpg", Header{64, 48, Subsampling420, ColorspaceYCbCr}},
		{"rgb422_50x37.jpg", Header{50, 37, Subsampling422, ColorspaceYCbCr}},
		{"rgb444_40x30.jpg", Header{40, 30, Subsampling444, ColorspaceYCbCr}},
		{"odd420_33x17.jpg", Header{33, 17, Subsampling420, ColorspaceYCbCr}},
		{"gray_33x17.jpg", Header{33, 17, SubsamplingGray, ColorspaceGray}},
		{"prog420_57x43.jpg", Header{57, 43, Subsampling420, ColorspaceYCbCr}},
		{"restart420_64x48.jpg", Header{64, 48, Subsampling420, ColorspaceYCbCr}},
		{"cmyk_24x16.jpg", Header{24, 16, Subsampling444, ColorspaceCMYK}},
	}
	for _, l := range variants(t) {
		d := newDecoder(t, l)
		for _, tt := range tests {
			got, err := d.ReadHeader(readFile(t, tt.file))
			if err != nil || got != tt.want {
				t.Errorf("%s: ReadHeader(%s) = %+v, %v; want %+v", l, tt.file, got, err, tt.want)
			}
		}
	}
}

func TestUnsupported(t *testing.T) {
	for _, l := range variants(t) {
		d := newDecoder(t, l)
		if _, err := d.Decode(readFile(t, "cmyk_24x16.jpg"), 1, image.Rectangle{}); !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "CMYK") {
			t.Errorf("%s: CMYK: %v, want ErrUnsupported naming CMYK", l, err)
		}
		if l.name != testLib(t).name || l.API() != testLib(t).API() {
			continue // the TurboJPEG 2 path of a libjpeg-turbo 3 is not given these pictures in use
		}
		for _, f := range []string{"lossless_24x16.jpg", "p12_24x16.jpg"} {
			_, err := d.Decode(readFile(t, f), 1, image.Rectangle{})
			switch {
			case err == nil:
				t.Errorf("%s: %s decoded", l, f)
			case l.API() == 3 && !errors.Is(err, ErrUnsupported):
				t.Errorf("%s: %s: %v, want ErrUnsupported", l, f, err)
			}
			t.Logf("%s: %s: %v", l, f, err)
		}
	}
}

// sofOffset finds the first baseline or progressive SOF marker's offset.
func sofOffset(t *testing.T, b []byte) int {
	for i := 0; i+1 < len(b); i++ {
		if b[i] == 0xFF && (b[i+1] == 0xC0 || b[i+1] == 0xC2) {
			return i
		}
	}
	t.Fatal("no SOF marker")
	return 0
}

func TestCorruptData(t *testing.T) {
	orig := readFile(t, "rgb420_64x48.jpg")
	for _, l := range variants(t) {
		d := newDecoder(t, l)
		truncated := orig[:len(orig)*2/3]
		_, err := d.Decode(truncated, 1, image.Rectangle{})
		var te *Error
		if !errors.As(err, &te) || !te.Warning || !strings.HasPrefix(err.Error(), "turbojpeg: decode: ") || !strings.Contains(err.Error(), "corrupt or truncated") {
			t.Errorf("%s: truncated: %v, want a warning turned error", l, err)
		}
		t.Logf("%s: truncated: %v", l, err)

		// Garbage in the entropy-coded data.
		bad := bytes.Clone(orig)
		for i := len(bad) / 2; i < len(bad)/2+40; i++ {
			bad[i] = byte(i * 37)
		}
		_, err = d.Decode(bad, 1, image.Rectangle{})
		if !errors.As(err, &te) {
			t.Errorf("%s: corrupt: %v, want an *Error", l, err)
		}
		t.Logf("%s: corrupt: %v", l, err)

		// A header of more than MaxPixels pixels: refused before decoding, described by ReadHeader.
		huge := bytes.Clone(orig)
		sof := sofOffset(t, huge)
		huge[sof+5], huge[sof+6], huge[sof+7], huge[sof+8] = 0x4e, 0x20, 0x4e, 0x20 // 20000x20000
		if h, err := d.ReadHeader(huge); err != nil || h.Width != 20000 || h.Height != 20000 {
			t.Errorf("%s: ReadHeader of a 20000x20000 header: %+v, %v", l, h, err)
		}
		if _, err := d.Decode(huge, 8, image.Rectangle{}); !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s: 20000x20000: %v, want ErrTooLarge", l, err)
		}

		// Tables only: no picture, after a decode that left a picture's parameters in the handle.
		// (The TurboJPEG 2 functions of libjpeg-turbo 3 report the previous picture's header there;
		// this package calls them with libjpeg-turbo 2 only.)
		if _, err := d.Decode(orig, 1, image.Rectangle{}); err != nil {
			t.Fatal(err)
		}
		tables := append(bytes.Clone(orig[:sof]), 0xFF, 0xD9)
		if h, err := d.ReadHeader(tables); err == nil && !forcedAPI2(t, l) {
			t.Errorf("%s: ReadHeader of a tables-only stream: %+v, want an error", l, h)
		}
		if _, err := d.Decode(tables, 1, image.Rectangle{}); err == nil {
			t.Errorf("%s: Decode of a tables-only stream succeeded", l)
		}
	}
}

// forcedAPI2 reports whether l drives a libjpeg-turbo 3 through the TurboJPEG 2 functions.
func forcedAPI2(t testing.TB, l *Lib) bool {
	return l.API() != testLib(t).API()
}

// After any failure, including a header that does not parse, the Decoder decodes good data.
func TestRecoveryAfterErrors(t *testing.T) {
	good := readFile(t, "rgb420_64x48.jpg")
	want, w, _ := readRGB(t, "rgb420_64x48.s1.png")
	bad := [][]byte{good[:len(good)/2], good[:300], []byte("not a jpeg"), {0xFF, 0xD8, 0xFF}, readFile(t, "cmyk_24x16.jpg")}
	if testLib(t).API() == 3 {
		bad = append(bad, readFile(t, "lossless_24x16.jpg"), readFile(t, "p12_24x16.jpg"))
	} else {
		bad = append(bad, readFile(t, "p12_24x16.jpg"))
	}
	for _, l := range variants(t) {
		d := newDecoder(t, l)
		for i, b := range bad {
			for _, read := range []bool{true, false} {
				var err error
				if read {
					_, err = d.ReadHeader(b)
				} else {
					_, err = d.Decode(b, 2, image.Rectangle{})
				}
				if err == nil && !read {
					t.Fatalf("%s: bad input %d decoded", l, i)
				}
				got, err := d.Decode(good, 1, image.Rectangle{})
				if err != nil {
					t.Fatalf("%s: after bad input %d: %v", l, i, err)
				}
				if diff := sameWindow(got, want, w, got.Rect); diff != "" {
					t.Fatalf("%s: after bad input %d: %s", l, i, diff)
				}
			}
		}
	}
}

func TestDecodeArguments(t *testing.T) {
	l := testLib(t)
	d := newDecoder(t, l)
	b := readFile(t, "rgb420_64x48.jpg")
	if _, err := d.Decode(b, 3, image.Rectangle{}); err == nil || !strings.Contains(err.Error(), "use 1, 2, 4 or 8") {
		t.Errorf("scale 3: %v", err)
	}
	if _, err := d.Decode(b, 2, image.Rect(10, 10, 40, 30)); err == nil || !strings.Contains(err.Error(), "not inside the 32x24 picture") {
		t.Errorf("crop outside: %v", err)
	}
	if _, err := d.Decode(nil, 1, image.Rectangle{}); err == nil || !strings.Contains(err.Error(), "empty input") {
		t.Errorf("empty input: %v", err)
	}
	if _, err := d.Decode([]byte("not a jpeg"), 1, image.Rectangle{}); err == nil || !strings.HasPrefix(err.Error(), "turbojpeg: read header: ") {
		t.Errorf("not a JPEG: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := d.Decode(b, 1, image.Rectangle{}); !errors.Is(err, errClosed) {
		t.Errorf("after Close: %v", err)
	}
}

func TestString(t *testing.T) {
	l := testLib(t)
	s := l.String()
	if !strings.Contains(s, fmt.Sprintf("(TurboJPEG %d API)", l.API())) {
		t.Errorf("String() = %q", s)
	}
	for _, s := range []int{1, 2, 4, 8} {
		if !l.scales[s] {
			t.Errorf("%s lacks the factor 1/%d", l, s)
		}
	}
	t.Log(s)
}

func TestLoadErrors(t *testing.T) {
	testLib(t) // the dynamic loader works here
	_, err := load(candidates(func(string) string { return "/nonexistent/libturbojpeg.so.0" }))
	var le *LoadError
	if !errors.As(err, &le) || !strings.Contains(err.Error(), "/nonexistent/libturbojpeg.so.0: ") || !strings.Contains(err.Error(), EnvLib) {
		t.Errorf("missing file: %v", err)
	}
	// A library without the TurboJPEG symbols.
	_, err = load([]string{"libm.so.6", "libdoesnotexist.so"}, installHint)
	if !errors.As(err, &le) || len(le.Tried) != 2 || !strings.Contains(err.Error(), "not a TurboJPEG library") || !strings.Contains(err.Error(), "apt-get install libturbojpeg0") {
		t.Errorf("wrong library: %v", err)
	}
	t.Log(err)
}

func TestNoAllocations(t *testing.T) {
	for _, l := range variants(t) {
		d := newDecoder(t, l)
		b := readFile(t, "prog420_57x43.jpg")
		for _, crop := range []image.Rectangle{{}, image.Rect(20, 5, 40, 30)} {
			if _, err := d.Decode(b, 1, image.Rectangle{}); err != nil {
				t.Fatal(err)
			}
			n := testing.AllocsPerRun(20, func() {
				if _, err := d.Decode(b, 1, crop); err != nil {
					t.Fatal(err)
				}
			})
			if n != 0 {
				t.Errorf("%s: crop %v: %v allocations per Decode", l, crop, n)
			}
		}
	}
}

func TestParallelDecoders(t *testing.T) {
	l := testLib(t)
	cases := pilCases(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := l.NewDecoder()
			if err != nil {
				errs <- err
				return
			}
			defer d.Close()
			for i := 0; i < 30; i++ {
				c := cases[(g+i)%len(cases)]
				want, w, _ := readRGB(t, fmt.Sprintf("%s.s%d.png", c.stem, c.scale))
				got, err := d.Decode(readFile(t, c.stem+".jpg"), c.scale, image.Rectangle{})
				if err != nil {
					errs <- err
					return
				}
				if diff := sameWindow(got, want, w, got.Rect); diff != "" {
					errs <- fmt.Errorf("%s 1:%d: %s", c.stem, c.scale, diff)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// Cropped decodes give the whole decode's pixels, on a picture of many iMCU rows too.
func TestCropMatchesWhole(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	files := []string{"large420_203x151.jpg", "rgb422_50x37.jpg", "rgb444_40x30.jpg", "gray_33x17.jpg", "prog420_57x43.jpg", "restart420_64x48.jpg"}
	for _, l := range variants(t) {
		d := newDecoder(t, l)
		for _, f := range files {
			b := readFile(t, f)
			for _, scale := range []int{1, 2, 4, 8} {
				whole, err := d.Decode(b, scale, image.Rectangle{})
				if err != nil {
					t.Fatal(err)
				}
				w, h := whole.Rect.Dx(), whole.Rect.Dy()
				want := bytes.Clone(whole.Pix)
				for i := 0; i < 40; i++ {
					x0, y0 := rng.IntN(w), rng.IntN(h)
					crop := image.Rect(x0, y0, x0+1+rng.IntN(w-x0), y0+1+rng.IntN(h-y0))
					got, err := d.Decode(b, scale, crop)
					if err != nil {
						t.Fatalf("%s: %s 1:%d crop %v: %v", l, f, scale, crop, err)
					}
					if !crop.In(got.Rect) {
						t.Fatalf("%s: %s 1:%d crop %v: window %v", l, f, scale, crop, got.Rect)
					}
					if diff := sameWindow(got, want, w, got.Rect); diff != "" {
						t.Fatalf("%s: %s 1:%d crop %v: %s", l, f, scale, crop, diff)
					}
				}
			}
		}
	}
}
