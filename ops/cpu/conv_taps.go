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
// swapped) and flipped.

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

// tapPlan is a slab layout and one set of taps on it: the input slabs are those of g (cg planes
// of h x w, padded and split into phases by g's padding and strides), the output has kg filters
// per group and rows rows of wq wide columns.
type tapPlan struct {
	g       *convShape
	hq, wq  int   // a phase plane
	phases  int   // sh*sw
	kg      int   // filters per group
	rows    int   // output rows
	cols    int   // wide columns: rows*wq
	colsPad int   // cols rounded up to whole forward tiles
	dotCols int   // cols rounded up to whole vectors of the weight-gradient kernel
	kgPad   int   // filters per group rounded up to whole tiles
	taps    int   // taps per filter
	offs    []int // each tap's offset in the slab, in filter order, then zeros up to whole tiles
	reach   int   // the largest offset
	slabLen int   // the slab's length: the planes and room for the last tile's run past them
}

// byTaps reports whether g runs by taps: every convolution with few filters per group that is
// not a plain GEMM.
func (g *convShape) byTaps() bool { return !g.direct() && g.kg <= tapMaxOut }

// newTapPlan returns the plan of g's forward pass.
func newTapPlan(g *convShape) *tapPlan {
	sh, sw := g.StrideH, g.StrideW
	hq, wq := ceilDiv(g.hp(), sh), ceilDiv(g.wp(), sw)
	offs := make([]int, 0, g.rows())
	for c := range g.cg {
		for r := range g.kh {
			for s := range g.kw {
				dr, ds := r*g.DilationH, s*g.DilationW
				phase := dr%sh*sw + ds%sw
				offs = append(offs, (c*sh*sw+phase)*hq*wq+dr/sh*wq+ds/sw)
			}
		}
	}
	return newTapSet(g, hq, wq, offs, g.kg, g.oh)
}

// newTapSet returns the plan of the taps offs (in filter order) on g's slabs laid out in phase
// planes of hq x wq, for kg filters per group and rows output rows.
func newTapSet(g *convShape, hq, wq int, offs []int, kg, rows int) *tapPlan {
	t := &tapPlan{g: g, hq: hq, wq: wq, phases: g.StrideH * g.StrideW, kg: kg, rows: rows, taps: len(offs)}
	t.cols = rows * wq
	t.colsPad = roundUp(t.cols, tapCols)
	t.dotCols = roundUp(t.cols, tapLanes)
	t.kgPad = roundUp(kg, tapRows)
	t.offs = make([]int, roundUp(t.taps, tapDots))
	copy(t.offs, offs)
	for _, off := range offs {
		t.reach = max(t.reach, off)
	}
	t.slabLen = max(g.cg*t.phases*hq*wq, t.reach+t.colsPad)
	return t
}

// fill lays the slab x [cg, h, w] out in slab as the plan's phase planes, zero in the padding and
// past the planes.
func (t *tapPlan) fill(x, slab []float32) {
	g := t.g
	sh, sw, plane := g.StrideH, g.StrideW, t.hq*t.wq
	clear(slab[:t.slabLen])
	for c := range g.cg {
		img := x[c*g.h*g.w:][:g.h*g.w]
		for a := range sh {
			ilo, ihi := convSpan(g.h, t.hq, sh, g.PadH, a)
			for b := range sw {
				jlo, jhi := convSpan(g.w, t.wq, sw, g.PadW, b)
				dst := slab[(c*t.phases+a*sw+b)*plane:][:plane]
				for i := ilo; i < ihi; i++ {
					src, row := img[(i*sh-g.PadH+a)*g.w:][:g.w], dst[i*t.wq:][:t.wq]
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

// tapOut is one set of taps of a convolution by taps: its plan, its packed filters (all the
// groups') and store, which takes the wide output [kgPad, colsPad] of one image and group.
type tapOut struct {
	t     *tapPlan
	a     []float32
	store func(wide []float32, n, grp int)
}

// tapConvolve lays out every (image, group) slab of in once, by the plans' common layout, and runs
// each of outs on it: spread over the threads across the slabs when there are enough, else across
// the column tiles of each.
func (b *Backend) tapConvolve(in []float32, outs ...tapOut) {
	g := outs[0].t.g
	slabLen, wideLen, cost := 0, 0, 0
	for _, o := range outs {
		slabLen, wideLen = max(slabLen, o.t.slabLen), max(wideLen, o.t.kgPad*o.t.colsPad)
		cost += o.t.kgPad*o.t.taps*o.t.colsPad + o.t.slabLen
	}
	slab := func(cw *tapWorker, n, grp int, parallel bool) {
		clear(cw.slab[outs[0].t.slabLen:])
		outs[0].t.fill(g.xSlab(in, n, grp), cw.slab)
		for _, o := range outs {
			t := o.t
			size, tiles := t.kgPad*t.taps, t.colsPad/tapCols
			a := o.a[grp*size:][:size]
			if parallel {
				b.parallelFor(tiles, size*tapCols, func(lo, hi int) { t.forward(b.vec(), a, cw.slab, cw.wide, lo, hi) })
			} else {
				t.forward(b.vec(), a, cw.slab, cw.wide, 0, tiles)
			}
			o.store(cw.wide, n, grp)
		}
	}
	tasks := g.n * g.Groups
	if b.acrossTasks(tasks) {
		b.parallelFor(tasks, cost, func(lo, hi int) {
			cw := b.newTapWorker(slabLen, wideLen)
			for task := lo; task < hi; task++ {
				slab(cw, task/g.Groups, task%g.Groups, false)
			}
			cw.release()
		})
		return
	}
	cw := b.newTapWorker(slabLen, wideLen)
	for task := range tasks {
		slab(cw, task/g.Groups, task%g.Groups, true)
	}
	cw.release()
}

// unwidenInto is the store of a plan whose output rows are those of the slabs [kg, rows, ow] of
// out: each wide row without its extra columns.
func (t *tapPlan) unwidenInto(out []float32, ow int) func(wide []float32, n, grp int) {
	size := t.kg * t.rows * ow
	return func(wide []float32, n, grp int) {
		unwiden(wide, t.colsPad, t.wq, out[(n*t.g.Groups+grp)*size:][:size], t.kg, t.rows, ow)
	}
}

// tapWorker is the working memory of one goroutine of a convolution by taps: the slab's phase
// planes and a wide output (or, for the weight gradient, the wide output gradient).
type tapWorker struct {
	b          *Backend
	slab, wide []float32
}

func (b *Backend) newTapWorker(slabLen, wideLen int) *tapWorker {
	return &tapWorker{b: b, slab: b.scratch(slabLen), wide: b.scratch(wideLen)}
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

// stridePhase is one phase a of one axis of a strided convolution's input gradient: the padded
// input positions u = stride*(m0+i) + a for i < m, which get the output gradient through the taps
// r of taps, from output position m0 + i - e[j] for the j-th of them.
type stridePhase struct {
	a, m0, m int
	taps, e  []int
}

// stridePhases splits one axis (input size in, padding pad, stride, dilation dil, kernel k) of a
// convolution's input gradient into its stride phases: padded input position u = stride*m + a
// gets the output gradient from output position m - (dil*r - a)/stride through every tap r with
// dil*r = a modulo stride. shift is the largest (dil*r - a)/stride, the padding the output
// gradient needs before its first position.
func stridePhases(in, pad, stride, dil, k int) (phases []stridePhase, shift int) {
	shift = dil * (k - 1) / stride
	for a := range stride {
		p := stridePhase{a: a}
		if a < pad {
			p.m0 = ceilDiv(pad-a, stride)
		}
		if last := pad + in - 1 - a; last >= 0 {
			p.m = max(last/stride+1-p.m0, 0)
		}
		for r := range k {
			if d := dil*r - a; d >= 0 && d%stride == 0 {
				p.taps, p.e = append(p.taps, r), append(p.e, d/stride)
			}
		}
		phases = append(phases, p)
	}
	return phases, shift
}

// stridedData returns the tap sets that compute the input gradient dx of g, a convolution by taps
// with a stride above 1, from its output gradient, and the plan that lays out the output gradient
// (which a scratch for the filters, packed, must be as long as the returned size). Each of the
// stride phases (a, b) of the padded input gradient is a stride-1 convolution by taps of the output
// gradient, padded by the phases' shifts, with the filter taps of that phase transposed (in and out
// channels swapped per group); phases without taps come out zero.
func stridedData(g *convShape, w, dx []float32, scratch func(n int) []float32) []tapOut {
	rows, sh := stridePhases(g.h, g.PadH, g.StrideH, g.DilationH, g.kh)
	cols, sw := stridePhases(g.w, g.PadW, g.StrideW, g.DilationW, g.kw)
	// The output gradient as the input of stride-1 convolutions: slabs [kg, oh, ow] padded by the
	// shifts, planes tall and wide enough for every phase's reads.
	in := &convShape{Conv2dParams: ops.Conv(1, 0, g.Groups), n: g.n, c: g.k, h: g.oh, w: g.ow, cg: g.kg, k: g.c, kg: g.cg}
	in.PadH, in.PadW = sh, sw
	hq, wq := sh+g.oh, sw+g.ow
	for _, p := range rows {
		hq = max(hq, sh+p.m0+p.m)
	}
	for _, p := range cols {
		wq = max(wq, sw+p.m0+p.m)
	}
	var outs []tapOut
	khw := g.kh * g.kw
	for _, pr := range rows {
		for _, pc := range cols {
			if pr.m == 0 || pc.m == 0 {
				continue
			}
			offs := make([]int, 0, g.kg*len(pr.taps)*len(pc.taps))
			for k := range g.kg {
				for i := range pr.taps {
					for j := range pc.taps {
						offs = append(offs, k*hq*wq+(pr.m0+sh-pr.e[i])*wq+pc.m0+sw-pc.e[j])
					}
				}
			}
			t := newTapSet(in, hq, wq, offs, g.cg, pr.m)
			a := scratch(g.Groups * t.kgPad * t.taps)
			for grp := range g.Groups {
				for c := range t.kgPad {
					p := 0
					for k := range g.kg {
						for _, r := range pr.taps {
							for _, s := range pc.taps {
								v := float32(0)
								if c < g.cg {
									v = w[((grp*g.kg+k)*g.cg+c)*khw+r*g.kw+s]
								}
								a[(grp*t.kgPad+c&^(tapRows-1))*t.taps+p*tapRows+c%tapRows] = v
								p++
							}
						}
					}
				}
			}
			pr, pc := pr, pc
			outs = append(outs, tapOut{t, a, func(wide []float32, n, grp int) {
				dxs := g.xSlab(dx, n, grp)
				for c := range g.cg {
					for i := range pr.m {
						row := dxs[(c*g.h+g.StrideH*(pr.m0+i)+pr.a-g.PadH)*g.w:]
						src := wide[c*t.colsPad+i*wq:][:pc.m]
						for j, v := range src {
							row[g.StrideW*(pc.m0+j)+pc.a-g.PadW] = v
						}
					}
				}
			}})
		}
	}
	return outs
}
