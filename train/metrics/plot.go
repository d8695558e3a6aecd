package metrics

import (
	"cmp"
	"fmt"
	"image/color"
	"io"
	"math"
	"slices"
	"strconv"

	xfont "golang.org/x/image/font"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/recorder"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/resnext/resnext/internal/atomicfile"
)

// Default and allowed sizes of the picture Plot draws.
const (
	DefaultPlotWidth  = 1200 // pixels
	DefaultPlotHeight = 1000 // pixels
	DefaultPlotDPI    = 96   // dots per inch: text of 12 points is 16 pixels high
	MinPlotWidth      = 480  // pixels
	MinPlotHeight     = 360  // pixels
	MaxPlotSide       = 8192 // pixels
)

// PlotOptions sets the picture PlotWith draws. Zero fields take the defaults.
type PlotOptions struct {
	Width, Height int    // in pixels (DefaultPlotWidth, DefaultPlotHeight)
	DPI           int    // dots per inch, which scales the text and lines (DefaultPlotDPI)
	Title         string // a heading above the panels (none when empty)
}

// Colours of the curves (the Tableau palette, which stays distinct for colour-blind readers).
var (
	colTrain = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff} // blue
	colEpoch = color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff} // orange
	colEval  = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff} // red
	colLR    = color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff} // green
	colTop1  = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff} // blue
	colTop5  = color.RGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff} // purple
	colGrid  = color.Gray{Y: 0xdd}
)

// Plot draws the records as a PNG at path with gonum.org/v1/plot: three panels stacked vertically sharing the step axis:
// (1) training loss per record (and eval loss as points where present), (2) learning rate, (3) top-1 and top-5 of the
// eval records (percent). Titles, axis labels, legends. Panels with no data are omitted; no records at all is an error.
// Writes atomically. It draws DefaultPlotWidth x DefaultPlotHeight pixels; PlotWith chooses.
func Plot(records []Record, path string) error {
	return PlotWith(records, path, PlotOptions{})
}

// series is one curve: its points sorted by step.
type series struct {
	name string
	xys  plotter.XYs
}

// collect returns the points (step, value) of the records of the given kinds whose field is set
// and finite, scaled by scale and sorted by step.
func collect(records []Record, kinds []string, field func(*Record) *float64, scale float64) plotter.XYs {
	var xys plotter.XYs
	for i := range records {
		r := &records[i]
		v := field(r)
		if v == nil || math.IsNaN(*v) || math.IsInf(*v, 0) || !slices.Contains(kinds, r.Kind) {
			continue
		}
		xys = append(xys, plotter.XY{X: float64(r.Step), Y: *v * scale})
	}
	slices.SortStableFunc(xys, func(a, b plotter.XY) int { return cmp.Compare(a.X, b.X) })
	return xys
}

// PlotWith is Plot with a chosen size, resolution and heading.
func PlotWith(records []Record, path string, o PlotOptions) error {
	if len(records) == 0 {
		return fmt.Errorf("plotting %s: no metrics records", path)
	}
	if o.Width == 0 {
		o.Width = DefaultPlotWidth
	}
	if o.Height == 0 {
		o.Height = DefaultPlotHeight
	}
	if o.DPI == 0 {
		o.DPI = DefaultPlotDPI
	}
	for _, s := range []struct {
		name   string
		v, min int
	}{{"width", o.Width, MinPlotWidth}, {"height", o.Height, MinPlotHeight}} {
		if s.v < s.min || s.v > MaxPlotSide {
			return fmt.Errorf("plotting %s: %s %d pixels: want %d to %d", path, s.name, s.v, s.min, MaxPlotSide)
		}
	}
	if o.DPI < 10 || o.DPI > 2400 {
		return fmt.Errorf("plotting %s: %d dots per inch: want 10 to 2400", path, o.DPI)
	}

	panels := buildPanels(records)
	if len(panels) == 0 {
		return fmt.Errorf("plotting %s: the %d records hold no loss, learning rate or accuracy to draw", path, len(records))
	}

	// Draw in memory, then write the file whole.
	inch := float64(o.DPI)
	c := vgimg.NewWith(
		vgimg.UseWH(vg.Length(float64(o.Width)/inch)*vg.Inch, vg.Length(float64(o.Height)/inch)*vg.Inch),
		vgimg.UseDPI(o.DPI),
		vgimg.UseBackgroundColor(color.White),
	)
	if err := drawPanels(c, panels, o.Title); err != nil {
		return fmt.Errorf("plotting %s: %w", path, err)
	}
	return atomicfile.Write(path, func(w io.Writer) error {
		if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(w); err != nil {
			return fmt.Errorf("encoding %s as PNG: %w", path, err)
		}
		return nil
	})
}

// buildPanels makes the plots that have data: loss, learning rate, accuracy, all on one step range.
func buildPanels(records []Record) []*plot.Plot {
	loss := func(r *Record) *float64 { return r.Loss }
	lr := func(r *Record) *float64 { return r.LR }
	top1 := func(r *Record) *float64 { return r.Top1 }
	top5 := func(r *Record) *float64 { return r.Top5 }

	train := []string{KindTrain}
	epoch := []string{KindEpoch}
	eval := []string{KindEval}
	notEval := []string{KindTrain, KindEpoch}

	var panels []*plot.Plot
	if p := newPanel("Loss", "loss",
		lineSeries(series{"train loss", collect(records, train, loss, 1)}, colTrain, 1, false),
		lineSeries(series{"epoch mean", collect(records, epoch, loss, 1)}, colEpoch, 2, true),
		pointSeries(series{"validation loss", collect(records, eval, loss, 1)}, colEval, draw.CircleGlyph{}),
	); p != nil {
		panels = append(panels, p)
	}
	lrs := collect(records, train, lr, 1)
	if len(lrs) == 0 {
		lrs = collect(records, notEval, lr, 1)
	}
	if p := newPanel("Learning rate", "learning rate",
		lineSeries(series{"learning rate", lrs}, colLR, 1.5, false),
	); p != nil {
		p.Legend = plot.NewLegend() // one curve: the title says what it is
		panels = append(panels, p)
	}
	if p := newPanel("Validation accuracy", "accuracy (%)",
		lineSeries(series{"top-1", collect(records, eval, top1, 100)}, colTop1, 1.5, true),
		lineSeries(series{"top-5", collect(records, eval, top5, 100)}, colTop5, 1.5, true),
	); p != nil {
		p.Legend.Top = false
		panels = append(panels, p)
	}
	if len(panels) == 0 {
		return nil
	}

	// One step range for all panels, from 0 (the start of training), so that they line up.
	lo, hi := 0.0, math.Inf(-1)
	for _, p := range panels {
		lo = math.Min(lo, p.X.Min)
		hi = math.Max(hi, p.X.Max)
	}
	for i, p := range panels {
		p.X.Min, p.X.Max = lo, hi
		if v := p.Y.Min; p.Y.Max == v && v != 0 {
			// One value (a constant learning rate, a single record): a band around it, not gonum's v±1.
			p.Y.Min, p.Y.Max = v-math.Abs(v)/2, v+math.Abs(v)/2
		}
		if i == len(panels)-1 {
			p.X.Label.Text = "step"
		}
	}
	return panels
}

// item is something a panel draws and may name in its legend.
type item struct {
	name    string
	plotter plot.Plotter
	thumbs  []plot.Thumbnailer
}

// lineSeries draws s as a line (with a dot at each point when dots is set); nil when s is empty.
func lineSeries(s series, c color.Color, width vg.Length, dots bool) *item {
	if len(s.xys) == 0 {
		return nil
	}
	l, err := plotter.NewLine(s.xys)
	if err != nil {
		return nil // collect keeps only finite values; nothing else can fail
	}
	l.Color = c
	l.Width = vg.Points(float64(width))
	it := &item{name: s.name, plotter: l, thumbs: []plot.Thumbnailer{l}}
	if dots || len(s.xys) == 1 {
		sc, err := plotter.NewScatter(s.xys)
		if err == nil {
			sc.GlyphStyle = draw.GlyphStyle{Color: c, Radius: vg.Points(2.5), Shape: draw.CircleGlyph{}}
			it.plotter = multi{l, sc}
			it.thumbs = append(it.thumbs, sc)
		}
	}
	return it
}

// pointSeries draws s as separate marks; nil when s is empty.
func pointSeries(s series, c color.Color, shape draw.GlyphDrawer) *item {
	if len(s.xys) == 0 {
		return nil
	}
	sc, err := plotter.NewScatter(s.xys)
	if err != nil {
		return nil
	}
	sc.GlyphStyle = draw.GlyphStyle{Color: c, Radius: vg.Points(3.5), Shape: shape}
	return &item{name: s.name, plotter: sc, thumbs: []plot.Thumbnailer{sc}}
}

// multi draws several plotters as one, with their joint data range.
type multi []plot.Plotter

// Plot draws every part.
func (m multi) Plot(c draw.Canvas, p *plot.Plot) {
	for _, q := range m {
		q.Plot(c, p)
	}
}

// DataRange is the union of the parts' ranges.
func (m multi) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmin, ymin = math.Inf(1), math.Inf(1)
	xmax, ymax = math.Inf(-1), math.Inf(-1)
	for _, q := range m {
		dr, ok := q.(plot.DataRanger)
		if !ok {
			continue
		}
		a, b, c, d := dr.DataRange()
		xmin, xmax = math.Min(xmin, a), math.Max(xmax, b)
		ymin, ymax = math.Min(ymin, c), math.Max(ymax, d)
	}
	return xmin, xmax, ymin, ymax
}

// GlyphBoxes gathers the parts' glyph boxes, so that the plot leaves room for the marks at its edges.
func (m multi) GlyphBoxes(p *plot.Plot) []plot.GlyphBox {
	var boxes []plot.GlyphBox
	for _, q := range m {
		if g, ok := q.(plot.GlyphBoxer); ok {
			boxes = append(boxes, g.GlyphBoxes(p)...)
		}
	}
	return boxes
}

// sans returns the sans-serif face of gonum/plot's bundled Liberation fonts at a size in points.
func sans(points float64) font.Font {
	return font.Font{Typeface: "Liberation", Variant: "Sans", Size: vg.Points(points)}
}

// newPanel returns a plot of the non-nil items with a grid, title, y label and legend; nil when no
// item has data.
func newPanel(title, ylabel string, items ...*item) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font = sans(13)
	p.Title.Padding = vg.Points(6)
	p.Y.Label.Text = ylabel
	p.X.Label.TextStyle.Font, p.Y.Label.TextStyle.Font = sans(11), sans(11)
	p.X.Tick.Label.Font, p.Y.Tick.Label.Font = sans(10), sans(10)
	p.Legend.TextStyle.Font = sans(10)
	p.X.Tick.Marker = niceTicks{short: true}
	p.Y.Tick.Marker = niceTicks{}
	p.Legend.Top = true
	grid := plotter.NewGrid()
	grid.Vertical.Color, grid.Horizontal.Color = colGrid, colGrid
	grid.Vertical.Width, grid.Horizontal.Width = vg.Points(0.5), vg.Points(0.5)
	p.Add(grid)
	n := 0
	for _, it := range items {
		if it == nil {
			continue
		}
		p.Add(it.plotter)
		p.Legend.Add(it.name, it.thumbs...)
		n++
	}
	if n == 0 {
		return nil
	}
	return p
}

// niceTicks puts four to eight labelled ticks at round values (1, 2, 2.5 or 5 times a power of ten)
// inside the axis range, with unlabelled ticks between them. Unlike plot.DefaultTicks it returns no
// labels outside the range, which gonum/plot would count in the axis width, misaligning the
// stacked panels. Labels of the step axis (short) take k and M suffixes.
type niceTicks struct{ short bool }

// Ticks returns the ticks over [min, max].
func (n niceTicks) Ticks(min, max float64) []plot.Tick {
	if !(max > min) || math.IsInf(max-min, 0) {
		return []plot.Tick{{Value: min, Label: n.label(min, 1)}}
	}
	raw := (max - min) / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step, minors := 10*mag, 2.0 // labelled ticks, and intervals between two of them
	for _, f := range []struct{ major, minors float64 }{{1, 2}, {2, 4}, {2.5, 5}, {5, 5}} {
		if f.major*mag >= raw*(1-1e-9) {
			step, minors = f.major*mag, f.minors
			break
		}
	}
	minor := step / minors
	eps := minor * 1e-9
	var ticks []plot.Tick
	for k := math.Ceil((min - eps) / minor); k*minor <= max+eps; k++ {
		v := k * minor
		if math.Mod(k, minors) == 0 {
			ticks = append(ticks, plot.Tick{Value: v, Label: n.label(v, step)})
		} else {
			ticks = append(ticks, plot.Tick{Value: v})
		}
	}
	return ticks
}

// label writes a tick value with as many decimals as the step between labels needs.
func (n niceTicks) label(v, step float64) string {
	if math.Abs(v) < step*1e-6 {
		v = 0 // not -0 or 1e-17
	}
	if n.short {
		return shortNumber(v)
	}
	if step < 1e-4 || math.Abs(v) >= 1e7 {
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
	decimals := 0
	for d := step; d-math.Floor(d+1e-9) > 1e-9*step && decimals < 10; d *= 10 {
		decimals++
	}
	return strconv.FormatFloat(v, 'f', decimals, 64)
}

// shortNumber writes v with a k or M suffix when it is a multiple of ten and a thousand or more.
func shortNumber(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 1e6 && math.Mod(a, 1e4) == 0:
		return strconv.FormatFloat(v/1e6, 'g', -1, 64) + "M"
	case a >= 1e3 && math.Mod(a, 10) == 0:
		return strconv.FormatFloat(v/1e3, 'g', -1, 64) + "k"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// The smallest data area of a panel that PlotWith accepts.
const (
	minDataWidth  = 75 * vg.Millimeter
	minDataHeight = 20 * vg.Millimeter
)

// arrange draws the optional heading on dc and returns the canvases of the panels, one above the
// other, their data areas aligned.
func arrange(dc draw.Canvas, panels []*plot.Plot, title string) []draw.Canvas {
	margin := vg.Points(8)
	if title != "" {
		sty := text.Style{
			Color:   color.Black,
			Font:    sans(15),
			Handler: plot.DefaultTextHandler,
			XAlign:  draw.XCenter,
			YAlign:  draw.YTop,
		}
		sty.Font.Weight = xfont.WeightBold
		dc.FillText(sty, vg.Point{X: (dc.Min.X + dc.Max.X) / 2, Y: dc.Max.Y - margin}, title)
		dc = draw.Crop(dc, 0, 0, 0, -(margin + sty.Height(title) + margin/2))
	}
	tiles := draw.Tiles{
		Rows: len(panels), Cols: 1,
		PadTop: margin, PadBottom: margin, PadLeft: margin, PadRight: margin * 2,
		PadY: vg.Points(14),
	}
	grid := make([][]*plot.Plot, len(panels))
	for i, p := range panels {
		grid[i] = []*plot.Plot{p}
	}
	var out []draw.Canvas
	for _, row := range plot.Align(grid, tiles, dc) {
		out = append(out, row[0])
	}
	return out
}

// minSize returns the smallest picture, in points, whose panels all get the smallest data area.
// Text keeps its size in points whatever the picture's, so the room taken by titles, labels and
// ticks is measured once on a large canvas that records nothing.
func minSize(panels []*plot.Plot, title string) (w, h vg.Length) {
	const probe = 100 * vg.Inch
	dc := draw.NewCanvas(new(recorder.Canvas), probe, probe)
	var dataH vg.Length
	var dataW vg.Length = probe
	for i, c := range arrange(dc, panels, title) {
		d := panels[i].DataCanvas(c)
		dataW = min(dataW, d.Max.X-d.Min.X)
		dataH += d.Max.Y - d.Min.Y
	}
	return probe - dataW + minDataWidth, probe - dataH + vg.Length(len(panels))*minDataHeight
}

// drawPanels draws the panels on c under an optional heading. A picture too small to leave the
// curves room is an error saying how large it must be; a panic inside gonum/plot comes back as an error.
func drawPanels(c *vgimg.Canvas, panels []*plot.Plot, title string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("drawing the plot: %v", r)
		}
	}()
	w, h := c.Size()
	if needW, needH := minSize(panels, title); w < needW || h < needH {
		px := func(l vg.Length) int { return int(math.Ceil(float64(l/vg.Inch) * c.DPI())) }
		return fmt.Errorf("%dx%d pixels at %g dots per inch leave the curves of %d panels no room: make the picture at least %dx%d pixels (or lower the dots per inch)",
			px(w), px(h), c.DPI(), len(panels), px(max(w, needW)), px(max(h, needH)))
	}
	for i, dc := range arrange(draw.New(c), panels, title) {
		panels[i].Draw(dc)
	}
	return nil
}
