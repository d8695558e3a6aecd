package jpeg

// Colour conversion with libjpeg's fixed-point tables (16 fraction bits):
// R = Y + 1.40200 Cr, G = Y - 0.34414 Cb - 0.71414 Cr, B = Y + 1.77200 Cb, for Cb, Cr centred on 0.
// Each chroma value's two terms share one table entry: crTab[cr] holds libjpeg's rounded R
// offset in its low 32 bits and its scaled G term in the high 32 bits; cbTab[cb] likewise the B
// offset and the G term (with the rounding half included).
var (
	cbTab, crTab [256]int64
	// clamp maps v in -256..767 through clamp[(v+256)&1023] to 0..255.
	clamp [1024]uint8
)

func init() {
	const one = 1 << 16
	fix := func(x float64) int64 { return int64(x*one + 0.5) }
	for i := range 256 {
		x := int64(i - 128)
		r, gr := (fix(1.40200)*x+one/2)>>16, -fix(0.71414)*x
		b, gb := (fix(1.77200)*x+one/2)>>16, -fix(0.34414)*x+one/2
		crTab[i] = gr<<32 | int64(uint32(r))
		cbTab[i] = gb<<32 | int64(uint32(b))
	}
	for i := range clamp {
		clamp[i] = uint8(min(max(i-256, 0), 255))
	}
}

// yccToRGB converts one pixel to unclamped R, G and B, offset by 256 for clamp.
func yccToRGB(y, cb, cr uint8) (r, g, b int32) {
	yy := int32(y) + 256
	tb, tr := cbTab[cb], crTab[cr]
	return yy + int32(tr), yy + int32((tb>>32+tr>>32)>>16), yy + int32(tb)
}

// yccPixel converts one pixel into p.
func yccPixel(p *[3]uint8, y, cb, cr uint8) {
	r, g, b := yccToRGB(y, cb, cr)
	p[0], p[1], p[2] = clamp[r&1023], clamp[g&1023], clamp[b&1023]
}

// convertRows converts the window rows from d.done up to y (exclusive) to RGB.
func (d *Decoder) convertRows(y int) {
	y = min(y, d.win.Max.Y)
	w := d.win.Dx()
	for ; d.done < y; d.done++ {
		dst := d.out[3*w*(d.done-d.win.Min.Y):][:3*w]
		if d.fused420 {
			d.ycc420Row(dst, d.done)
			continue
		}
		var src [4][]uint8
		for i := 0; i < d.ncomp; i++ {
			src[i] = d.upsampleRow(i, d.done)
		}
		switch d.colour {
		case csGrey:
			greyRow(dst, src[0])
		case csYCbCr:
			yccRow(dst, src[0], src[1], src[2])
		case csRGB:
			rgbRow(dst, src[0], src[1], src[2])
		case csCMYK:
			cmykRow(dst, src[0], src[1], src[2], src[3])
		case csYCCK:
			ycckRow(dst, src[0], src[1], src[2], src[3])
		}
	}
}

// upsampleRow returns the samples of component i at full output resolution for output row y,
// window columns only.
func (d *Decoder) upsampleRow(i, y int) []uint8 {
	c := &d.comps[i]
	x0, x1 := d.win.Min.X, d.win.Max.X
	dst := d.rows[i][:x1-x0]
	switch c.up {
	case upNone:
		return c.plane[y*c.stride+x0 : y*c.stride+x1]
	case upH2V1:
		d.h2v1(dst, c.plane[y*c.stride:][:c.dw], x0)
	case upH1V2:
		near, far, bias := c.rowPair(y)
		near, far = near[x0:x1], far[x0:x1]
		for j := range dst {
			dst[j] = uint8((3*int(near[j]) + int(far[j]) + bias) >> 2)
		}
	case upH2V2:
		near, far, _ := c.rowPair(y)
		d.h2v2(dst, near, far, x0, c.dw)
	default:
		src := c.plane[(y/c.fy)*c.stride:]
		for j := range dst {
			dst[j] = src[(x0+j)/c.fx]
		}
	}
	return dst
}

// rowPair returns, for output row y of a component upsampled 2:1 vertically, the nearer and the
// farther input row (clamped at the picture's edges) and the rounding bias of the vertical
// triangle filter (1 above, 2 below, so that halves round alternately down and up).
func (c *component) rowPair(y int) (near, far []uint8, bias int) {
	r := y >> 1
	f, bias := r-1, 1
	if y&1 == 1 {
		f, bias = r+1, 2
	}
	f = min(max(f, 0), c.dh-1)
	return c.plane[r*c.stride:][:c.dw], c.plane[f*c.stride:][:c.dw], bias
}

// h2v1 upsamples one row 2:1 horizontally with the triangle filter: each output sample is
// 3/4 of the nearer input sample and 1/4 of the farther one, the edges replicated. dst receives
// output columns x0.. of the row.
func (d *Decoder) h2v1(dst, in []uint8, x0 int) {
	ext := d.edgeSums(x0, len(dst), len(in))
	for j, v := range in[ext.lo : ext.hi+1] {
		ext.sums[j+1] = int32(v)
	}
	ext.replicate()
	ext.interpolate(dst, x0, 1, 2, 2)
}

// h2v2 upsamples 2:1 both ways with the triangle filter (9/16, 3/16, 3/16, 1/16 of the four
// nearest input samples): near and far are the input rows, dw their length.
func (d *Decoder) h2v2(dst, near, far []uint8, x0, dw int) {
	ext := d.edgeSums(x0, len(dst), dw)
	nr, fr := near[ext.lo:ext.hi+1], far[ext.lo:ext.hi+1]
	s := ext.sums[1 : len(nr)+1]
	fr = fr[:len(nr)]
	for j, v := range nr {
		s[j] = 3*int32(v) + int32(fr[j])
	}
	ext.replicate()
	ext.interpolate(dst, x0, 8, 7, 4)
}

// edgeRow holds the (vertically filtered) input samples of one row that a window's output
// columns read, with one replicated sample beyond each picture edge: sums[c-lo+1] is input
// column c, for c in lo-1 .. hi+1.
type edgeRow struct {
	sums   []int32
	lo, hi int
}

// edgeSums prepares an edgeRow for output columns x0..x0+n-1 of an input row of dw samples.
func (d *Decoder) edgeSums(x0, n, dw int) edgeRow {
	lo, hi := max(x0>>1-1, 0), min((x0+n-1)>>1+1, dw-1)
	return edgeRow{sums: d.sums[:hi-lo+3], lo: lo, hi: hi}
}

// replicate fills the samples beyond the edges.
func (e edgeRow) replicate() {
	n := len(e.sums)
	e.sums[0], e.sums[n-1] = e.sums[1], e.sums[n-2]
}

// interpolate writes output columns x0.. of the horizontal triangle filter: even columns
// (3*s[c] + s[c-1] + even) >> shift, odd ones (3*s[c] + s[c+1] + odd) >> shift.
func (e edgeRow) interpolate(dst []uint8, x0 int, even, odd int32, shift uint) {
	s := e.sums[x0>>1-e.lo:] // s[0], s[1], s[2]: columns c-1, c, c+1 for c = x0>>1
	if x0&1 == 1 && len(dst) > 0 {
		dst[0] = uint8((3*s[1] + s[2] + odd) >> shift)
		dst, s = dst[1:], s[1:]
	}
	for len(dst) >= 2 && len(s) >= 3 {
		c := 3 * s[1]
		dst[0] = uint8((c + s[0] + even) >> shift)
		dst[1] = uint8((c + s[2] + odd) >> shift)
		dst, s = dst[2:], s[1:]
	}
	if len(dst) == 1 && len(s) >= 2 {
		dst[0] = uint8((3*s[1] + s[0] + even) >> shift)
	}
}

// greyRow replicates grey samples into RGB.
func greyRow(dst, g []uint8) {
	dst = dst[:3*len(g)]
	for i, v := range g {
		p := dst[3*i : 3*i+3 : 3*i+3]
		p[0], p[1], p[2] = v, v, v
	}
}

// yccRow converts one row of YCbCr to RGB.
func yccRow(dst, y, cb, cr []uint8) {
	dst = dst[:3*len(y)]
	cb, cr = cb[:len(y)], cr[:len(y)]
	for i, v := range y {
		yccPixel((*[3]uint8)(dst[3*i:]), v, cb[i], cr[i])
	}
}

// rgbRow interleaves separately coded R, G and B rows.
func rgbRow(dst, r, g, b []uint8) {
	dst = dst[:3*len(r)]
	g, b = g[:len(r)], b[:len(r)]
	for i := range r {
		p := dst[3*i : 3*i+3 : 3*i+3]
		p[0], p[1], p[2] = r[i], g[i], b[i]
	}
}

// cmykRow converts Adobe-style (inverted) CMYK to RGB as Pillow does: with the true C and K,
// R = (255-K) - round((255-K)*C/255), and likewise G from M and B from Y.
func cmykRow(dst, c, m, y, k []uint8) {
	dst = dst[:3*len(c)]
	m, y, k = m[:len(c)], y[:len(c)], k[:len(c)]
	for i := range c {
		nk := int32(k[i]) // stored inverted: 255 - K
		p := dst[3*i : 3*i+3 : 3*i+3]
		p[0] = inkToRGB(255-int32(c[i]), nk)
		p[1] = inkToRGB(255-int32(m[i]), nk)
		p[2] = inkToRGB(255-int32(y[i]), nk)
	}
}

// ycckRow converts YCCK to RGB: libjpeg turns YCC into (inverted) CMY, whose true values are
// the clamped R, G and B of the YCbCr conversion, and then Pillow's CMYK conversion applies.
func ycckRow(dst, y, cb, cr, k []uint8) {
	dst = dst[:3*len(y)]
	cb, cr, k = cb[:len(y)], cr[:len(y)], k[:len(y)]
	for i, v := range y {
		r, g, b := yccToRGB(v, cb[i], cr[i])
		nk := int32(k[i])
		p := dst[3*i : 3*i+3 : 3*i+3]
		p[0] = inkToRGB(int32(clamp[r&1023]), nk)
		p[1] = inkToRGB(int32(clamp[g&1023]), nk)
		p[2] = inkToRGB(int32(clamp[b&1023]), nk)
	}
}

// inkToRGB is Pillow's nk - MULDIV255(ink, nk): the ink amount ink (0..255) taken off the
// brightness nk = 255-K, with Pillow's rounding of a product divided by 255.
func inkToRGB(ink, nk int32) uint8 {
	t := ink*nk + 128
	return uint8(nk - ((t>>8)+t)>>8)
}

// ycc420Row converts output row y of a YCbCr picture with both chroma components upsampled 2:1
// both ways by the triangle filter, fusing the upsampling into the colour conversion.
func (d *Decoder) ycc420Row(dst []uint8, y int) {
	lum, cb, cr := &d.comps[0], &d.comps[1], &d.comps[2]
	x0, x1 := d.win.Min.X, d.win.Max.X
	bn, bf, _ := cb.rowPair(y)
	rn, rf, _ := cr.rowPair(y)
	// Vertically filtered column sums 3*near+far, Cb and Cr interleaved, for the chroma columns
	// lo-1 .. hi+1 (replicated beyond the picture's edges).
	lo, hi := max(x0>>1-1, 0), min((x1-1)>>1+1, cb.dw-1)
	sums := d.sums[:2*(hi-lo+3)]
	bn, bf, rn, rf = bn[lo:hi+1], bf[lo:hi+1], rn[lo:hi+1], rf[lo:hi+1]
	in := sums[2 : 2+2*len(bn)]
	for c := range bn {
		in[2*c] = 3*int32(bn[c]) + int32(bf[c])
		in[2*c+1] = 3*int32(rn[c]) + int32(rf[c])
	}
	n := len(sums)
	sums[0], sums[1], sums[n-2], sums[n-1] = sums[2], sums[3], sums[n-4], sums[n-3]

	// s[0:2], s[2:4], s[4:6] are the sums of chroma columns c-1, c, c+1 for c = x>>1.
	s := sums[2*(x0>>1-lo):]
	ys := lum.plane[y*lum.stride+x0 : y*lum.stride+x1]
	out := dst[:3*len(ys)]
	if x0&1 == 1 {
		yccPixel((*[3]uint8)(out), ys[0], uint8((3*s[2]+s[4]+7)>>4), uint8((3*s[3]+s[5]+7)>>4))
		out, ys, s = out[3:], ys[1:], s[2:]
	}
	for len(ys) >= 2 && len(s) >= 6 && len(out) >= 6 {
		b3, r3 := 3*s[2], 3*s[3]
		p := (*[6]uint8)(out)
		r, g, b := yccToRGB(ys[0], uint8((b3+s[0]+8)>>4), uint8((r3+s[1]+8)>>4))
		p[0], p[1], p[2] = clamp[r&1023], clamp[g&1023], clamp[b&1023]
		r, g, b = yccToRGB(ys[1], uint8((b3+s[4]+7)>>4), uint8((r3+s[5]+7)>>4))
		p[3], p[4], p[5] = clamp[r&1023], clamp[g&1023], clamp[b&1023]
		out, ys, s = out[6:], ys[2:], s[2:]
	}
	if len(ys) == 1 {
		yccPixel((*[3]uint8)(out), ys[0], uint8((3*s[2]+s[0]+8)>>4), uint8((3*s[3]+s[1]+8)>>4))
	}
}
