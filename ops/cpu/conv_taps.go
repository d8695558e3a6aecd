package cpu

import "github.com/resnext/resnext/ops"

// Convolution by taps, for convolutions with few filters per group: the grouped 3x3 convolutions
// of ResNeXt (4 to 32 filters per group) and the 7x7 stem.
//
// A GEMM per image and group fits them badly: the column matrix is written, then packed, then
// read by a 6x16 micro-kernel whose six rows are mostly empty for 4 or 8 filters, and the input
// gradient scatters a column matrix back with adds. Here each image-group slab is instead laid out
// once as zero-padded phase planes, and the micro-kernels read the input straight from them:
//
//   - with strides (sh, sw) the padded plane [hp, wp] is split into sh*sw phase planes [hq, wq]
//     (hq = ceil(hp/sh), wq = ceil(wp/sw)); phase (a, b) holds the padded positions
//     (i*sh + a, j*sw + b). With stride 1 there is one phase, the padded plane itself.
//   - output position (p, q) becomes column p*wq + q, a "wide" column (the wq - ow last columns of
//     each output row are computed and dropped), and filter tap (c, r, s) reads, for every column
//     j, element offs[c, r, s] + j of the slab: offs names the tap's phase plane and its shift of
//     r*dh/sh rows and s*dw/sw columns. Every tap is one contiguous run, at any stride.
//
// The forward kernel (taps, 4 filters x 24 columns) multiplies a packed panel of 4 filters with
// the runs of all the taps. The weight gradient kernel (tapDot, 4 filters x 3 taps) takes the dot
// products of output-gradient rows, spread to the wide columns with zeros, with the runs. The
// input gradient of a stride-1 convolution is itself a convolution by taps: of the output
// gradient, padded by (k-1)*d - pad, with each group's filters transposed (in and out channels
// swapped) and flipped. A strided convolution's input gradient goes by GEMM and col2im: split into
// its stride phases it has too few taps per phase (8 to 32 for ResNeXt) for the kernel to pay.

const (
	tapRows   = 4    // filters per tile, in both kernels
	tapCols   = 24   // wide columns per tile of the forward kernel
	tapDots   = 3    // taps per tile of the weight-gradient kernel
	tapLanes  = 8    // the weight-gradient kernel sums runs of a multiple of this length
	tapChunk  = 1024 // columns per weight-gradient pass: 7 runs of 4 KiB stay in L1
	tapMaxOut = 64   // the most filters per group that go by taps; more go by GEMM
	// tapMinDot is the fewest wide columns per image whose weight gradient goes by taps: below it
	// (7x7 images), the per-tile cost of the dot products' sums outweighs the GEMM's packing.
	tapMinDot = 128
)

// tapPlan is the slab layout and the tap offsets of one convolution geometry.
type tapPlan struct {
	g       *convShape
	hq, wq  int   // a phase plane
	phases  int   // sh*sw
	cols    int   // wide columns: oh*wq
	colsPad int   // cols rounded up to whole forward tiles
	dotCols int   // cols rounded up to whole vectors of the weight-gradient kernel
	kgPad   int   // filters per group rounded up to whole tiles
	taps    int   // taps per filter: cg*kh*kw
	offs    []int // each tap's offset in the slab, in filter order (c, r, s), then zeros up to whole tiles
	reach   int   // the largest offset
	slabLen int   // the slab's length: the planes and room for the last tile's run past them
}

// byTaps reports whether g runs by taps: every convolution with few filters per group that is
// not a plain GEMM.
func (g *convShape) byTaps() bool { return !g.direct() && g.kg <= tapMaxOut }

func newTapPlan(g *convShape) *tapPlan {
	sh, sw := g.StrideH, g.StrideW
	t := &tapPlan{g: g, hq: ceilDiv(g.hp(), sh), wq: ceilDiv(g.wp(), sw), phases: sh * sw, taps: g.rows()}
	t.cols = g.oh * t.wq
	t.colsPad = roundUp(t.cols, tapCols)
	t.dotCols = roundUp(t.cols, tapLanes)
	t.kgPad = roundUp(g.kg, tapRows)
	t.offs = make([]int, roundUp(t.taps, tapDots))
	plane := t.hq * t.wq
	for c := range g.cg {
		for r := range g.kh {
			for s := range g.kw {
				dr, ds := r*g.DilationH, s*g.DilationW
				phase := dr%sh*sw + ds%sw
				off := (c*t.phases+phase)*plane + dr/sh*t.wq + ds/sw
				t.offs[(c*g.kh+r)*g.kw+s] = off
				t.reach = max(t.reach, off)
			}
		}
	}
	t.slabLen = max(g.cg*t.phases*plane, t.reach+t.colsPad)
	return t
}

// fill lays the slab x [cg, h, w] out in slab as the plan's phase planes, zero in the padding and
// past the planes.
func (t *tapPlan) fill(x, slab []float32) {
	g := t.g
	sh, sw, plane := g.StrideH, g.StrideW, t.hq*t.wq
	clear(slab[g.cg*t.phases*plane : t.slabLen])
	for c := range g.cg {
		img := x[c*g.h*g.w:][:g.h*g.w]
		for a := range sh {
			ilo, ihi := convSpan(g.h, t.hq, sh, g.PadH, a)
			for b := range sw {
				jlo, jhi := convSpan(g.w, t.wq, sw, g.PadW, b)
				dst := slab[(c*t.phases+a*sw+b)*plane:][:plane]
				// Zero only what no input reaches: the rows above and below, and each row's ends.
				clear(dst[:ilo*t.wq])
				clear(dst[ihi*t.wq:])
				for i := ilo; i < ihi; i++ {
					src, row := img[(i*sh-g.PadH+a)*g.w:][:g.w], dst[i*t.wq:][:t.wq]
					clear(row[:jlo])
					clear(row[jhi:])
					if sw == 1 {
						copy(row[jlo:jhi], src[jlo-g.PadW+b:])
						continue
					}
					for j := jlo; j < jhi; j++ {
						row[j] = src[j*sw-g.PadW+b]
					}
				}
			}
		}
	}
}

// forward computes the column tiles [lo, hi) of the wide output [kgPad, colsPad] of one slab laid
// out in slab, with its group's packed filters a.
func (t *tapPlan) forward(v *vecLoops, a, slab, wide []float32, lo, hi int) {
	for ct := lo; ct < hi; ct++ {
		for f := 0; f < t.kgPad; f += tapRows {
			v.taps(t.taps, a[f*t.taps:], slab[ct*tapCols:], t.offs[:t.taps], t.reach, wide[f*t.colsPad+ct*tapCols:], t.colsPad)
		}
	}
}

// packFilters packs the filters w [groups*kg, cg*kh*kw] for forward: panels of tapRows filters,
// tap by tap, zero past the last filter of the group.
func (t *tapPlan) packFilters(w, dst []float32) {
	g, n := t.g, t.taps
	for grp := range g.Groups {
		for f := range t.kgPad {
			for p := range n {
				v := float32(0)
				if f < g.kg {
					v = w[(grp*g.kg+f)*n+p]
				}
				dst[(grp*t.kgPad+f&^(tapRows-1))*n+p*tapRows+f%tapRows] = v
			}
		}
	}
}

// packFlipped packs for the plan of fwd.transposed() the filters of fwd's input gradient: filter c
// of group grp has tap (k, r, s) = w[grp*kg+k][c][kh-1-r][kw-1-s], w being fwd's filters.
func (t *tapPlan) packFlipped(fwd *convShape, w, dst []float32) {
	n, khw := t.taps, fwd.kh*fwd.kw
	for grp := range fwd.Groups {
		for c := range t.kgPad {
			for k := range fwd.kg {
				for rs := range khw {
					v := float32(0)
					if c < fwd.cg {
						v = w[((grp*fwd.kg+k)*fwd.cg+c)*khw+khw-1-rs]
					}
					p := k*khw + rs
					dst[(grp*t.kgPad+c&^(tapRows-1))*n+p*tapRows+c%tapRows] = v
				}
			}
		}
	}
}

// filterByTaps reports whether g's weight gradient goes by taps.
func (g *convShape) filterByTaps() bool { return g.taps != nil && g.taps.dotCols >= tapMinDot }

// transposed returns the convolution whose forward pass computes g's input gradient from its
// output gradient, for g of stride 1 (and padding at most (k-1)*d): the output gradient padded by
// (k-1)*d - pad, convolved with the transposed, flipped filters. ok is false for other g.
func (g *convShape) transposed() (t *convShape, ok bool) {
	ph, pw := (g.kh-1)*g.DilationH-g.PadH, (g.kw-1)*g.DilationW-g.PadW
	if g.StrideH != 1 || g.StrideW != 1 || ph < 0 || pw < 0 {
		return nil, false
	}
	p := g.Conv2dParams
	p.PadH, p.PadW = ph, pw
	return newConvShape(ops.Shape{g.n, g.k, g.oh, g.ow}, ops.Shape{g.c, g.kg, g.kh, g.kw}, p), true
}

// tapConvolvePacked is tapConvolve with the filters pack writes into pooled memory for all the
// groups (packFilters or packFlipped).
func (b *Backend) tapConvolvePacked(t *tapPlan, pack func(a []float32), in, out []float32) {
	a := b.scratch(t.g.Groups * t.kgPad * t.taps)
	pack(a)
	b.tapConvolve(t, a, in, out)
	b.release(a)
}

// tapConvolve computes out = conv(in) by taps for the plan t, a packed by packFilters or
// packFlipped: spread over the threads across the (image, group) slabs when there are enough,
// else across the column tiles of each slab.
func (b *Backend) tapConvolve(t *tapPlan, a, in, out []float32) {
	g := t.g
	size, tiles := t.kgPad*t.taps, t.colsPad/tapCols
	slab := func(cw *tapWorker, n, grp int, parallel bool) {
		t.fill(g.xSlab(in, n, grp), cw.slab)
		a := a[grp*size:][:size]
		if parallel {
			b.parallelFor(tiles, size*tapCols, func(lo, hi int) { t.forward(b.vec(), a, cw.slab, cw.wide, lo, hi) })
		} else {
			t.forward(b.vec(), a, cw.slab, cw.wide, 0, tiles)
		}
		unwiden(cw.wide, t.colsPad, t.wq, g.ySlab(out, n, grp), g.kg, g.oh, g.ow)
	}
	tasks := g.n * g.Groups
	across := b.acrossTasks(tasks)
	if across {
		b.parallelClaim(tasks, g.taskCost(), func(next func() (int, bool)) {
			cw := b.newTapWorker(t)
			for task, ok := next(); ok; task, ok = next() {
				slab(cw, task/g.Groups, task%g.Groups, false)
			}
			cw.release()
		})
		return
	}
	cw := b.newTapWorker(t)
	for task := range tasks {
		slab(cw, task/g.Groups, task%g.Groups, true)
	}
	cw.release()
}

// tapWorker is the working memory of one goroutine of a convolution by taps: the slab's phase
// planes and a wide output (or, for the weight gradient, the wide output gradient).
type tapWorker struct {
	b          *Backend
	slab, wide []float32
}

func (b *Backend) newTapWorker(t *tapPlan) *tapWorker {
	return &tapWorker{b: b, slab: b.scratch(t.slabLen), wide: b.scratch(t.kgPad * t.colsPad)}
}

func (cw *tapWorker) release() {
	cw.b.release(cw.slab)
	cw.b.release(cw.wide)
}

// filterSum writes into dwg, group grp's weight gradient [kg, taps], the sum over the images
// [lo, hi) of the dot products of each filter's output gradient with each tap's run.
func (t *tapPlan) filterSum(v *vecLoops, cw *tapWorker, dy, x, dwg []float32, lo, hi, grp int) {
	g := t.g
	var acc [tapRows * tapDots]float32
	clear(dwg)
	dyw := cw.wide[:t.kgPad*t.dotCols]
	clear(dyw[g.kg*t.dotCols:])
	for n := lo; n < hi; n++ {
		t.fill(g.xSlab(x, n, grp), cw.slab)
		widen(g.ySlab(dy, n, grp), dyw, t.dotCols, t.wq, g.kg, g.oh, g.ow)
		for j := 0; j < t.dotCols; j += tapChunk {
			run := min(tapChunk, t.dotCols-j)
			for f := 0; f < g.kg; f += tapRows {
				for p := 0; p < t.taps; p += tapDots {
					v.tapDot(run, dyw[f*t.dotCols+j:], t.dotCols, cw.slab[j:], t.offs[p:p+tapDots], t.reach, acc[:])
					for i := range min(tapRows, g.kg-f) {
						row := dwg[(f+i)*t.taps+p:]
						for s := range min(tapDots, t.taps-p) {
							row[s] += acc[i*tapDots+s]
						}
					}
				}
			}
		}
	}
}

// widen spreads the rows [rows, oh*ow] of src to dst [rows, ld] with row p of each at p*wq and
// zeros in the columns between and after.
func widen(src, dst []float32, ld, wq, rows, oh, ow int) {
	for k := range rows {
		d := dst[k*ld:][:ld]
		for p := range oh {
			copy(d[p*wq:][:ow], src[(k*oh+p)*ow:][:ow])
			clear(d[p*wq+ow : min((p+1)*wq, ld)])
		}
		clear(d[oh*wq:])
	}
}

// unwiden gathers rows [rows, oh*ow] into dst from the wide rows of src [rows, ld] that widen
// makes.
func unwiden(src []float32, ld, wq int, dst []float32, rows, oh, ow int) {
	for k := range rows {
		for p := range oh {
			copy(dst[(k*oh+p)*ow:][:ow], src[k*ld+p*wq:][:ow])
		}
	}
}

// tapsGo is the portable forward kernel of the tap path: c[i*ldc+j] = sum over p < k of
// a[p*4+i] * base[offs[p]+j] for i < 4 and j < 24; reach is the largest of offs[:k].
func tapsGo(k int, a, base []float32, offs []int, reach int, c []float32, ldc int) {
	checkTaps(k, a, base, offs, reach, c, ldc)
	var acc [tapRows][tapCols]float32
	for p, off := range offs[:k] {
		run := base[off:][:tapCols]
		for i := range tapRows {
			av := a[p*tapRows+i]
			for j, v := range run {
				acc[i][j] += av * v
			}
		}
	}
	for i := range tapRows {
		copy(c[i*ldc:][:tapCols], acc[i][:])
	}
}

// tapDotGo is the portable weight-gradient kernel of the tap path: out[i*3+t] = sum over j < k
// of a[i*lda+j] * base[offs[t]+j] for i < 4 and t < 3, k a multiple of 8; reach is at least the
// largest of offs[:3].
func tapDotGo(k int, a []float32, lda int, base []float32, offs []int, reach int, out []float32) {
	checkTapDot(k, a, lda, base, offs, reach, out)
	for i := range tapRows {
		row := a[i*lda:][:k]
		for t, off := range offs[:tapDots] {
			run := base[off:][:k]
			var s float32
			for j, v := range row {
				s += v * run[j]
			}
			out[i*tapDots+t] = s
		}
	}
}

// checkTaps and checkTapDot panic unless the operands of the kernels hold what they read and
// write: the assembly does no bounds checks of its own. The offsets are trusted to be at most
// reach (a plan's offsets are, by construction).
func checkTaps(k int, a, base []float32, offs []int, reach int, c []float32, ldc int) {
	if k < 0 || len(a) < k*tapRows || len(offs) < k || reach < 0 || len(base) < reach+tapCols || ldc < tapCols || len(c) < (tapRows-1)*ldc+tapCols {
		panic("ops/cpu: taps kernel operands too short")
	}
}

func checkTapDot(k int, a []float32, lda int, base []float32, offs []int, reach int, out []float32) {
	if k < 0 || k%tapLanes != 0 || lda < k || len(a) < (tapRows-1)*lda+k || len(offs) < tapDots || reach < 0 ||
		len(base) < reach+k || len(out) < tapRows*tapDots {
		panic("ops/cpu: tap dot kernel operands too short")
	}
}
