package metrics

import (
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// decodePNG reads a PNG file.
func decodePNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}

// colourCount counts the distinct colours of img, and the pixels that are not white.
func colourCount(img image.Image) (colours, nonWhite int) {
	seen := map[[4]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, a := img.At(x, y).RGBA()
			seen[[4]uint32{r, g, bl, a}] = true
			if r != 0xffff || g != 0xffff || bl != 0xffff {
				nonWhite++
			}
		}
	}
	return len(seen), nonWhite
}

// hasColour reports whether img holds a pixel close to c (anti-aliasing blends the edges of lines).
func hasColour(img image.Image, c [3]uint8) bool {
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if absDiff(r>>8, c[0]) < 8 && absDiff(g>>8, c[1]) < 8 && absDiff(bl>>8, c[2]) < 8 {
				return true
			}
		}
	}
	return false
}

func absDiff(a uint32, b uint8) uint32 {
	if a > uint32(b) {
		return a - uint32(b)
	}
	return uint32(b) - a
}

func TestPlot(t *testing.T) {
	run := fakeRun(4, 50, 10)
	var trainOnly, evalOnly, accuracyOnly []Record
	for _, r := range run {
		switch r.Kind {
		case KindTrain:
			trainOnly = append(trainOnly, r)
		case KindEval:
			evalOnly = append(evalOnly, r)
			r.Loss = nil
			accuracyOnly = append(accuracyOnly, r)
		}
	}
	green, red, purple := [3]uint8{0x2c, 0xa0, 0x2c}, [3]uint8{0xd6, 0x27, 0x28}, [3]uint8{0x94, 0x67, 0xbd}
	cases := []struct {
		name          string
		records       []Record
		opts          PlotOptions
		width, height int
		has, hasNot   [][3]uint8 // curve colours present and absent
	}{
		{"whole run", run, PlotOptions{}, DefaultPlotWidth, DefaultPlotHeight, [][3]uint8{green, red, purple}, nil},
		{"sized, titled", run, PlotOptions{Width: 640, Height: 600, Title: "metrics.jsonl"}, 640, 600, [][3]uint8{green, purple}, nil},
		{"training only", trainOnly, PlotOptions{Width: 500, Height: 400}, 500, 400, [][3]uint8{green}, [][3]uint8{red, purple}},
		{"eval only", evalOnly, PlotOptions{Width: 500, Height: 400}, 500, 400, [][3]uint8{red, purple}, [][3]uint8{green}},
		{"one record", run[:1], PlotOptions{Width: 500, Height: 400}, 500, 400, [][3]uint8{green}, nil},
		{"smallest", accuracyOnly, PlotOptions{Width: MinPlotWidth, Height: MinPlotHeight}, MinPlotWidth, MinPlotHeight, [][3]uint8{purple}, [][3]uint8{red, green}},
		{"three panels in little room", run, PlotOptions{Width: 480, Height: 520}, 480, 520, [][3]uint8{green, red, purple}, nil},
		{"high DPI", run, PlotOptions{Width: 2400, Height: 2000, DPI: 192}, 2400, 2000, [][3]uint8{green}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "curves.png")
			if err := PlotWith(c.records, path, c.opts); err != nil {
				t.Fatal(err)
			}
			img := decodePNG(t, path)
			if b := img.Bounds(); b.Dx() != c.width || b.Dy() != c.height {
				t.Errorf("size %dx%d, want %dx%d", b.Dx(), b.Dy(), c.width, c.height)
			}
			colours, nonWhite := colourCount(img)
			if colours < 8 || nonWhite < c.width*c.height/100 {
				t.Errorf("%d colours, %d non-white pixels: the picture looks blank", colours, nonWhite)
			}
			for _, col := range c.has {
				if !hasColour(img, col) {
					t.Errorf("no pixel of colour %v", col)
				}
			}
			for _, col := range c.hasNot {
				if hasColour(img, col) {
					t.Errorf("a pixel of colour %v, whose curve has no data", col)
				}
			}
		})
	}
}

func TestPlotDefaultSize(t *testing.T) {
	path := filepath.Join(t.TempDir(), "curves.png")
	if err := Plot(fakeRun(2, 20, 5), path); err != nil {
		t.Fatal(err)
	}
	if b := decodePNG(t, path).Bounds(); b.Dx() != DefaultPlotWidth || b.Dy() != DefaultPlotHeight {
		t.Errorf("size %v, want %dx%d", b.Size(), DefaultPlotWidth, DefaultPlotHeight)
	}
}

func TestPlotErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "curves.png")
	nothing := []Record{{Kind: KindEpoch, Step: 10, Images: 5}, {Kind: KindTrain, Step: 20, Loss: F(math.NaN())}}
	cases := []struct {
		name    string
		records []Record
		opts    PlotOptions
		path    string
		want    string
	}{
		{"no records", nil, PlotOptions{}, path, "no metrics records"},
		{"nothing to draw", nothing, PlotOptions{}, path, "no loss, learning rate or accuracy"},
		{"too narrow", fakeRun(1, 10, 5), PlotOptions{Width: 50}, path, "width 50"},
		{"too tall", fakeRun(1, 10, 5), PlotOptions{Height: 100000}, path, "height 100000"},
		{"too small for three panels", fakeRun(1, 10, 5), PlotOptions{Width: 480, Height: 400}, path, "make the picture at least 480x"},
		{"too small at this DPI", fakeRun(1, 10, 5), PlotOptions{Width: 800, Height: 800, DPI: 300}, path, "or lower the dots per inch"},
		{"negative DPI", fakeRun(1, 10, 5), PlotOptions{DPI: -3}, path, "dots per inch"},
		{"missing directory", fakeRun(1, 10, 5), PlotOptions{}, filepath.Join(dir, "no", "curves.png"), filepath.Join(dir, "no")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := PlotWith(c.records, c.path, c.opts)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.path) {
				t.Errorf("err = %v, want one naming %s and saying %q", err, c.path, c.want)
			}
			if _, err := os.Stat(c.path); err == nil {
				t.Errorf("%s written", c.path)
			}
		})
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("files left behind: %v", entries)
	}
}

func TestShortNumber(t *testing.T) {
	cases := []struct {
		v    float64
		want string
	}{{0, "0"}, {500, "500"}, {1000, "1k"}, {2500, "2.5k"}, {25000, "25k"}, {1e6, "1M"}, {1.25e6, "1.25M"}, {-3000, "-3k"}, {0.5, "0.5"}, {1005, "1005"}}
	for _, c := range cases {
		if got := shortNumber(c.v); got != c.want {
			t.Errorf("shortNumber(%v) = %q, want %q", c.v, got, c.want)
		}
	}
}

func TestNiceTicks(t *testing.T) {
	cases := []struct {
		min, max float64
		short    bool
		labels   string // the labelled ticks, in order
	}{
		{0, 15000, true, "0 5k 10k 15k"},
		{0, 1.2e6, true, "0 250k 500k 750k 1M"},
		{50, 150, true, "60 80 100 120 140"},
		{0.45, 2.72, false, "0.5 1.0 1.5 2.0 2.5"},
		{0, 0.1, false, "0.00 0.02 0.04 0.06 0.08 0.10"},
		{31, 93, false, "40 60 80"},
		{0, 0.025, false, "0.000 0.005 0.010 0.015 0.020 0.025"},
		{1e-5, 3e-5, false, "1e-05 1.5e-05 2e-05 2.5e-05 3e-05"},
		{-1, 1, false, "-1.0 -0.5 0.0 0.5 1.0"},
		{2.55, 2.72, false, "2.55 2.60 2.65 2.70"},
	}
	for _, c := range cases {
		ticks := niceTicks{short: c.short}.Ticks(c.min, c.max)
		var labels []string
		for _, tk := range ticks {
			if tk.Value < c.min-1e-12*math.Abs(c.max-c.min) || tk.Value > c.max+1e-12*math.Abs(c.max-c.min) {
				t.Errorf("[%v, %v]: tick %v outside the range", c.min, c.max, tk.Value)
			}
			if tk.Label != "" {
				labels = append(labels, tk.Label)
			}
		}
		if got := strings.Join(labels, " "); got != c.labels {
			t.Errorf("[%v, %v]: labels %q, want %q", c.min, c.max, got, c.labels)
		}
		if len(ticks) <= len(labels) {
			t.Errorf("[%v, %v]: no unlabelled ticks between the labels", c.min, c.max)
		}
	}
}
