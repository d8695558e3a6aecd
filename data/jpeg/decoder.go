package jpeg

import (
	"encoding/binary"
	"errors"
	"fmt"
	"image"
)

// Colour spaces of the stored components.
const (
	csGrey = iota
	csYCbCr
	csRGB
	csCMYK
	csYCCK
)

// Upsampling methods, as libjpeg chooses them per component.
const (
	upNone      = iota // the component is at full output resolution
	upH2V1             // triangle filter, horizontal 2:1
	upH1V2             // triangle filter, vertical 2:1
	upH2V2             // triangle filter, 2:1 both ways
	upReplicate        // integral factors by replication
)

// component is one colour component of the frame, with its layout at the scale being decoded.
type component struct {
	id     byte
	h, v   int // sampling factors
	tq     int // quantization table selector
	q      [64]int32
	qDone  bool // q latched (at the component's first scan)
	dcT    int  // Huffman tables of the current scan
	acT    int
	dcPred int32

	bw, bh   int // blocks across and down, padded to whole MCUs
	cbw, cbh int // blocks that hold the component's own samples (non-interleaved scans)

	bs     int // IDCT output size at this scale: 8, 4, 2 or 1
	dw, dh int // sample plane size at this scale (libjpeg's downsampled_width and _height)
	fx, fy int // upsampling factors to the output
	up     int // upsampling method

	plane  []uint8 // bw*bs x bh*bs samples
	stride int
	coef   []int16 // progressive: bw*bh blocks of 64 coefficients in zig-zag order

	bx0, bx1, by0, by1 int // blocks the window needs
	rowsDone           int // baseline: block rows decoded so far
}

// Decoder decodes baseline and progressive Huffman-coded 8-bit JPEGs to RGB. A Decoder is for one
// goroutine at a time and reuses its buffers, so that decoding images of similar size allocates
// nothing in steady state. The zero value is ready to use.
//
// Decode matches libjpeg-turbo (as PIL uses it by default: the ISLOW integer IDCT, "fancy"
// triangle-filter chroma upsampling and libjpeg's fixed-point YCbCr->RGB tables) bit for bit on
// full-size decodes; scaled decodes use libjpeg's reduced-size IDCTs and match PIL's draft mode
// bit for bit as well. The tests pin this on fixtures made with PIL.
type Decoder struct {
	br bitReader

	quant  [4][64]int32 // zig-zag order
	qDef   [4]bool
	dc, ac [4]huffTable

	restartInterval int
	jfif, adobe     bool
	adobeTransform  int
	colour          int
	fused420        bool // YCbCr with both chroma components upsampled by upH2V2

	width, height int
	ncomp         int
	comps         [4]component
	progressive   bool
	frameSeen     bool
	hmax, vmax    int
	mcusX, mcusY  int
	setUp         bool

	scale int
	win   image.Rectangle
	done  int // window rows converted to RGB so far

	eobrun int

	planes []uint8
	coefs  []int16
	out    []uint8
	rows   [4][]uint8 // upsampled rows of one output line
	sums   []int32    // column sums of the vertical triangle filter
	blk    [64]int32
}

// scan is the content of a SOS segment.
type scan struct {
	n      int
	comp   [4]int // indices into Decoder.comps
	ss, se int
	ah, al int
}

// Decode decodes b at 1/scale (scale 1, 2, 4 or 8; the scaled picture is ScaledSize(Width,
// Height, scale)) and returns the window crop of the scaled picture (crop is clipped to the
// picture; an empty rectangle means the whole picture). The returned Image's Rect is exactly the
// clipped crop. Its Pix is owned by the decoder and valid until the next Decode.
//
// Baseline images are entropy-decoded only down to the last MCU row the window needs; blocks
// outside the window (plus the margin chroma upsampling reads) get no IDCT and no colour
// conversion. Progressive images have all their scans decoded, each only down to the rows the
// window needs.
func (d *Decoder) Decode(b []byte, scale int, crop image.Rectangle) (Image, error) {
	if scale != 1 && scale != 2 && scale != 4 && scale != 8 {
		return Image{}, fmt.Errorf("jpeg: scale %d (want 1, 2, 4 or 8)", scale)
	}
	if len(b) < 2 || b[0] != 0xFF || b[1] != mSOI {
		return Image{}, errNoSOI
	}
	d.reset(scale)
	if err := d.decodeSegments(b, crop); err != nil {
		return Image{}, err
	}
	w, h := d.win.Dx(), d.win.Dy()
	return Image{Pix: d.out[:3*w*h], Stride: 3 * w, Rect: d.win}, nil
}

// reset forgets everything about the previous image but its buffers.
func (d *Decoder) reset(scale int) {
	d.qDef = [4]bool{}
	for i := range d.dc {
		d.dc[i].defined = false
		d.ac[i].defined = false
	}
	d.restartInterval = 0
	d.jfif, d.adobe, d.adobeTransform = false, false, -1
	d.frameSeen, d.setUp = false, false
	d.scale = scale
	d.done = 0
	clear(d.blk[:])
}

// decodeSegments walks the markers of b and decodes the scans.
func (d *Decoder) decodeSegments(b []byte, crop image.Rectangle) error {
	pos := 2
	for {
		seg, next, err := nextSegment(b, pos)
		if err != nil {
			return err
		}
		pos = next
		m := seg.marker
		switch {
		case m == mEOI:
			return d.finish()
		case m == mSOS:
			if !d.frameSeen {
				return errors.New("jpeg: SOS before SOF")
			}
			if !d.setUp {
				if err := d.setup(crop, len(b)); err != nil {
					return err
				}
			}
			sc, err := d.parseSOS(seg.data)
			if err != nil {
				return err
			}
			d.br.reset(b, pos)
			complete, err := d.decodeScan(&sc)
			if err != nil {
				return err
			}
			if complete {
				return d.finish()
			}
			d.br.skipToMarker()
			pos = d.br.pos
		case isSOF(m):
			if d.frameSeen {
				return errors.New("jpeg: more than one SOF marker")
			}
			if err := d.setFrame(m, seg.data); err != nil {
				return err
			}
		case m == mDHT:
			if err := d.parseDHT(seg.data); err != nil {
				return err
			}
		case m == mDQT:
			if err := d.parseDQT(seg.data); err != nil {
				return err
			}
		case m == mDRI:
			if len(seg.data) != 2 {
				return fmt.Errorf("jpeg: DRI: length %d, want 2", len(seg.data))
			}
			d.restartInterval = int(binary.BigEndian.Uint16(seg.data))
		case m == mAPP0:
			if len(seg.data) >= 5 && string(seg.data[:5]) == "JFIF\x00" {
				d.jfif = true
			}
		case m == mAPP14:
			if len(seg.data) >= 12 && string(seg.data[:5]) == "Adobe" {
				d.adobe, d.adobeTransform = true, int(seg.data[11])
			}
		case m == mDHP || m == mEXP:
			return errors.New("jpeg: hierarchical JPEG is not supported")
		case m == mDAC:
			return errors.New("jpeg: arithmetic coding is not supported")
		case m == mDNL:
			return errors.New("jpeg: DNL marker is not supported")
		case m == mSOI:
			return errors.New("jpeg: unexpected SOI marker")
		case m >= mRST0 && m <= mRST7:
			return fmt.Errorf("jpeg: unexpected RST%d marker", m-mRST0)
		}
		// Other APPn, COM and the reserved markers are skipped.
	}
}

// parseDQT reads a DQT segment.
func (d *Decoder) parseDQT(p []byte) error {
	for len(p) > 0 {
		pq, tq := p[0]>>4, int(p[0]&15)
		if pq > 1 || tq > 3 {
			return fmt.Errorf("jpeg: DQT: bad precision %d or table id %d", pq, tq)
		}
		n := 64 << pq
		if len(p) < 1+n {
			return fmt.Errorf("jpeg: DQT: table %d truncated", tq)
		}
		q := &d.quant[tq]
		for k := 0; k < 64; k++ {
			if pq == 0 {
				q[k] = int32(p[1+k])
			} else {
				q[k] = int32(binary.BigEndian.Uint16(p[1+2*k:]))
			}
		}
		d.qDef[tq] = true
		p = p[1+n:]
	}
	return nil
}

// setFrame parses the SOF segment and derives the colour space and the MCU layout.
func (d *Decoder) setFrame(m byte, p []byte) error {
	f, err := parseSOF(m, p)
	if err != nil {
		return err
	}
	d.frameSeen = true
	d.progressive = m == mSOF2
	d.width, d.height, d.ncomp = f.width, f.height, f.ncomp
	d.hmax, d.vmax = 1, 1
	for i := 0; i < f.ncomp; i++ {
		c := &d.comps[i]
		*c = component{id: f.comps[i].id, h: f.comps[i].h, v: f.comps[i].v, tq: f.comps[i].tq,
			plane: c.plane, coef: c.coef}
		d.hmax, d.vmax = max(d.hmax, c.h), max(d.vmax, c.v)
	}
	d.mcusX = ceilDiv(d.width, 8*d.hmax)
	d.mcusY = ceilDiv(d.height, 8*d.vmax)
	for i := 0; i < f.ncomp; i++ {
		c := &d.comps[i]
		c.bw, c.bh = d.mcusX*c.h, d.mcusY*c.v
		c.cbw = ceilDiv(ceilDiv(d.width*c.h, d.hmax), 8)
		c.cbh = ceilDiv(ceilDiv(d.height*c.v, d.vmax), 8)
	}
	return nil
}

// colourSpace guesses the stored colour space as libjpeg does.
func (d *Decoder) colourSpace() int {
	switch d.ncomp {
	case 1:
		return csGrey
	case 3:
		switch {
		case d.jfif:
			return csYCbCr
		case d.adobe:
			if d.adobeTransform == 0 {
				return csRGB
			}
			return csYCbCr
		case d.comps[0].id == 'R' && d.comps[1].id == 'G' && d.comps[2].id == 'B':
			return csRGB
		}
		return csYCbCr
	}
	if d.adobe && d.adobeTransform != 0 {
		return csYCCK
	}
	return csCMYK
}

// setup fixes the output geometry at the first scan: per-component IDCT sizes and upsampling as
// libjpeg picks them for the scale, the window and the blocks it needs, and the buffers.
func (d *Decoder) setup(crop image.Rectangle, dataLen int) error {
	d.setUp = true
	d.colour = d.colourSpace()
	blocks := 0
	for i := 0; i < d.ncomp; i++ {
		blocks += d.comps[i].cbw * d.comps[i].cbh
	}
	// Every block costs at least one bit of entropy-coded data: refuse headers that claim far
	// more blocks than the data can hold before allocating for them.
	if blocks > 8*dataLen {
		return fmt.Errorf("jpeg: %dx%d picture of %d blocks cannot fit in %d bytes", d.width, d.height, blocks, dataLen)
	}
	m := 8 / d.scale
	outW, outH := ScaledSize(d.width, d.height, d.scale)
	win := image.Rect(0, 0, outW, outH)
	if !crop.Empty() {
		win = crop.Intersect(win)
		if win.Empty() {
			return fmt.Errorf("jpeg: crop %v lies outside the %dx%d picture", crop, outW, outH)
		}
	}
	d.win = win
	d.done = win.Min.Y
	for i := 0; i < d.ncomp; i++ {
		if err := d.layoutComponent(&d.comps[i], m); err != nil {
			return err
		}
	}
	d.fused420 = d.colour == csYCbCr && d.comps[0].up == upNone &&
		d.comps[1].up == upH2V2 && d.comps[2].up == upH2V2 && d.comps[1].dw == d.comps[2].dw
	d.allocate()
	return nil
}

// layoutComponent sets the IDCT size, plane size, upsampling and needed blocks of c for output
// blocks of m x m pixels (m = 8/scale).
func (d *Decoder) layoutComponent(c *component, m int) error {
	// libjpeg scales chroma up through the IDCT rather than by upsampling when it can.
	bs := m
	for bs < 8 && (d.hmax*m)%(c.h*bs*2) == 0 && (d.vmax*m)%(c.v*bs*2) == 0 {
		bs *= 2
	}
	c.bs = bs
	c.dw = ceilDiv(d.width*c.h*bs, d.hmax*8)
	c.dh = ceilDiv(d.height*c.v*bs, d.vmax*8)
	hin, vin := c.h*bs/m, c.v*bs/m
	if d.hmax%hin != 0 || d.vmax%vin != 0 {
		return fmt.Errorf("jpeg: sampling factors %dx%d against %dx%d are not supported (fractional upsampling)", c.h, c.v, d.hmax, d.vmax)
	}
	c.fx, c.fy = d.hmax/hin, d.vmax/vin
	fancy := m > 1
	switch {
	case c.fx == 1 && c.fy == 1:
		c.up = upNone
	case c.fx == 2 && c.fy == 1 && fancy && c.dw > 2:
		c.up = upH2V1
	case c.fx == 1 && c.fy == 2 && fancy:
		c.up = upH1V2
	case c.fx == 2 && c.fy == 2 && fancy && c.dw > 2:
		c.up = upH2V2
	default:
		c.up = upReplicate
	}
	hf := c.up == upH2V1 || c.up == upH2V2
	vf := c.up == upH1V2 || c.up == upH2V2
	x0, x1 := needed(d.win.Min.X, d.win.Max.X, c.fx, hf, c.dw)
	y0, y1 := needed(d.win.Min.Y, d.win.Max.Y, c.fy, vf, c.dh)
	c.bx0, c.bx1 = x0/bs, ceilDiv(x1, bs)
	c.by0, c.by1 = y0/bs, ceilDiv(y1, bs)
	c.stride = c.bw * bs
	c.rowsDone = 0
	return nil
}

// needed returns the samples [lo, hi) of a component of n samples that the output range [o0, o1)
// reads when upsampled by f (with one neighbour on each side for the triangle filter).
func needed(o0, o1, f int, filter bool, n int) (int, int) {
	lo, hi := o0/f, (o1-1)/f+1
	if filter {
		lo, hi = lo-1, hi+1
	}
	return max(lo, 0), min(hi, n)
}

// allocate sizes the planes, the coefficient store (progressive) and the output.
func (d *Decoder) allocate() {
	planeLen, coefLen := 0, 0
	for i := 0; i < d.ncomp; i++ {
		c := &d.comps[i]
		planeLen += c.stride * c.bh * c.bs
		coefLen += 64 * c.bw * c.bh
	}
	d.planes = grow(d.planes, planeLen)
	off, coff := 0, 0
	if d.progressive {
		d.coefs = grow(d.coefs, coefLen)
		clear(d.coefs[:coefLen])
	}
	for i := 0; i < d.ncomp; i++ {
		c := &d.comps[i]
		n := c.stride * c.bh * c.bs
		c.plane = d.planes[off : off+n]
		off += n
		if d.progressive {
			c.coef = d.coefs[coff : coff+64*c.bw*c.bh]
			coff += 64 * c.bw * c.bh
		}
	}
	w := d.win.Dx()
	d.out = grow(d.out, 3*w*d.win.Dy())
	for i := range d.rows {
		d.rows[i] = grow(d.rows[i], w)
	}
	d.sums = grow(d.sums, w+16)
}

// grow returns b resliced to n elements, reallocated only when its capacity is short.
func grow[T any](b []T, n int) []T {
	if cap(b) < n {
		return make([]T, n)
	}
	return b[:n]
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// parseSOS reads a SOS segment and checks it against the frame.
func (d *Decoder) parseSOS(p []byte) (scan, error) {
	var s scan
	if len(p) < 1 {
		return s, errors.New("jpeg: SOS: empty segment")
	}
	s.n = int(p[0])
	if s.n < 1 || s.n > d.ncomp || len(p) != 4+2*s.n {
		return s, fmt.Errorf("jpeg: SOS: %d components in a segment of %d bytes", s.n, len(p))
	}
	blocks := 0
	for i := 0; i < s.n; i++ {
		id, tables := p[1+2*i], p[2+2*i]
		ci := -1
		for j := 0; j < d.ncomp; j++ {
			if d.comps[j].id == id {
				ci = j
			}
		}
		if ci < 0 {
			return s, fmt.Errorf("jpeg: SOS: unknown component id %d", id)
		}
		for j := 0; j < i; j++ {
			if s.comp[j] == ci {
				return s, fmt.Errorf("jpeg: SOS: component id %d repeated", id)
			}
		}
		s.comp[i] = ci
		c := &d.comps[ci]
		c.dcT, c.acT = int(tables>>4), int(tables&15)
		if c.dcT > 3 || c.acT > 3 {
			return s, fmt.Errorf("jpeg: SOS: Huffman table ids %d/%d out of 0..3", c.dcT, c.acT)
		}
		blocks += c.h * c.v
		if !c.qDone {
			if !d.qDef[c.tq] {
				return s, fmt.Errorf("jpeg: SOS: component %d uses undefined quantization table %d", id, c.tq)
			}
			c.q = d.quant[c.tq]
			c.qDone = true
		}
	}
	if s.n > 1 && blocks > 10 {
		return s, fmt.Errorf("jpeg: SOS: %d blocks per MCU (at most 10)", blocks)
	}
	q := p[1+2*s.n:]
	s.ss, s.se, s.ah, s.al = int(q[0]), int(q[1]), int(q[2]>>4), int(q[2]&15)
	if d.progressive {
		return s, d.checkProgressive(&s)
	}
	if s.ss != 0 || s.se != 63 || s.ah != 0 || s.al != 0 {
		return s, fmt.Errorf("jpeg: SOS: spectral selection %d..%d, approximation %d/%d in a sequential scan", s.ss, s.se, s.ah, s.al)
	}
	return s, d.checkTables(&s, true, true)
}

// checkProgressive checks the spectral selection and successive approximation of a progressive
// scan and that its Huffman tables are defined.
func (d *Decoder) checkProgressive(s *scan) error {
	switch {
	case s.se > 63 || s.ss > s.se:
		return fmt.Errorf("jpeg: SOS: spectral selection %d..%d", s.ss, s.se)
	case s.ss == 0 && s.se != 0:
		return fmt.Errorf("jpeg: SOS: progressive DC scan with spectral selection 0..%d", s.se)
	case s.ss > 0 && s.n != 1:
		return fmt.Errorf("jpeg: SOS: progressive AC scan of %d components", s.n)
	case s.al > 13 || s.ah > 13:
		return fmt.Errorf("jpeg: SOS: successive approximation %d/%d", s.ah, s.al)
	}
	// DC refinement scans read raw bits only.
	return d.checkTables(s, s.ss == 0 && s.ah == 0, s.ss > 0)
}

// checkTables reports a scan that uses an undefined Huffman table.
func (d *Decoder) checkTables(s *scan, dc, ac bool) error {
	for i := 0; i < s.n; i++ {
		c := &d.comps[s.comp[i]]
		if dc && !d.dc[c.dcT].defined {
			return fmt.Errorf("jpeg: SOS: component %d uses undefined DC Huffman table %d", c.id, c.dcT)
		}
		if ac && !d.ac[c.acT].defined {
			return fmt.Errorf("jpeg: SOS: component %d uses undefined AC Huffman table %d", c.id, c.acT)
		}
	}
	return nil
}

// decodeScan decodes one scan. It reports whether the picture is complete, which for baseline
// images is when every component has been decoded down to the window's last row.
func (d *Decoder) decodeScan(s *scan) (bool, error) {
	for i := 0; i < s.n; i++ {
		d.comps[s.comp[i]].dcPred = 0
	}
	d.eobrun = 0
	if err := d.decodeBlocks(s); err != nil || d.progressive {
		return false, err
	}
	for i := 0; i < d.ncomp; i++ {
		c := &d.comps[i]
		if c.rowsDone < c.by1 {
			return false, nil
		}
	}
	return true, nil
}

// finish completes the picture after the last scan: for progressive images the IDCT of the
// window's blocks, then the colour conversion of whatever rows are still to do.
func (d *Decoder) finish() error {
	if !d.setUp {
		return errors.New("jpeg: no scan before EOI")
	}
	if d.progressive {
		d.idctProgressive()
	} else {
		for i := 0; i < d.ncomp; i++ {
			if c := &d.comps[i]; c.rowsDone < c.by1 {
				return fmt.Errorf("jpeg: component %d: data ends after %d of %d block rows", c.id, c.rowsDone, c.by1)
			}
		}
	}
	d.convertRows(d.win.Max.Y)
	return nil
}

// restartCheck handles the restart interval before MCU number mcu of a scan.
func (d *Decoder) restartCheck(s *scan, mcu int) error {
	if d.restartInterval == 0 || mcu == 0 || mcu%d.restartInterval != 0 {
		return nil
	}
	if err := d.br.restart(mcu/d.restartInterval - 1); err != nil {
		return err
	}
	for i := 0; i < s.n; i++ {
		d.comps[s.comp[i]].dcPred = 0
	}
	d.eobrun = 0
	return nil
}
