package cpu

import "github.com/resnext/resnext/ops"

// Convolution as GEMM. For image n and group g, with x_ng its [Cg, H, W] slab, w_g the group's
// filters as a [Kg, Cg*R*S] matrix and col(x_ng) the [Cg*R*S, P*Q] column matrix (im2col: row
// (c, r, s) holds the input value under filter tap (r, s) of channel c for every output position,
// zero where the tap falls in the padding):
//
//	forward           y_ng = w_g @ col(x_ng)
//	backward data     dx_ng = col2im(w_g^T @ dy_ng)         (col2im scatter-adds back into the image)
//	backward filter   dw_g = sum over n of dy_ng @ col(x_ng)^T
//
// A 1x1 convolution with stride 1 and no padding needs no column matrix: col(x_ng) is x_ng itself.
//
// Other convolutions with stride 1 (the grouped 3x3 of most ResNeXt blocks) run "wide": the slab is
// first copied into a zero-padded plane of width wp = w + 2*padW, and output position (p, q) becomes
// column p*wp + q of a column matrix whose row (c, r, s) is then one contiguous run of the padded
// plane, starting at tap (r, s)'s offset: one long copy per row instead of a short copy per output
// row, with wp - ow extra columns per output row whose results are dropped. Backward, dy is spread
// out to the same width with zeros in the extra columns, so they add nothing.

// convShape is the geometry of one convolution, with the normalised parameters.
type convShape struct {
	ops.Conv2dParams
	n, c, h, w int      // input x [n, c, h, w]
	k, kh, kw  int      // filters [k, cg, kh, kw]
	oh, ow     int      // output y [n, k, oh, ow]
	cg, kg     int      // input and output channels per group
	taps       *tapPlan // the layout of the tap path, when the convolution goes by taps (byTaps)
}

func newConvShape(x, w ops.Shape, p ops.Conv2dParams) *convShape {
	g := &convShape{Conv2dParams: p, n: x[0], c: x[1], h: x[2], w: x[3], k: w[0], kh: w[2], kw: w[3]}
	g.oh, g.ow = p.OutSize(g.h, g.w, g.kh, g.kw)
	g.cg, g.kg = g.c/p.Groups, g.k/p.Groups
	if g.byTaps() {
		g.taps = newTapPlan(g)
	}
	return g
}

// rows is the height of the column matrix: Cg*R*S, the length of one output channel's filter.
func (g *convShape) rows() int { return g.cg * g.kh * g.kw }

// plane is the number of output positions per channel, the width of the column matrix.
func (g *convShape) plane() int { return g.oh * g.ow }

// direct reports whether the column matrix of an image is the image itself.
func (g *convShape) direct() bool {
	return g.kh == 1 && g.kw == 1 && g.StrideH == 1 && g.StrideW == 1 && g.PadH == 0 && g.PadW == 0
}

// wide reports whether the convolution runs in padded-width coordinates (see the top of the file).
func (g *convShape) wide() bool { return !g.direct() && g.StrideH == 1 && g.StrideW == 1 }

// padded plane: hp x wp per channel, the input with its padding.
func (g *convShape) hp() int { return g.h + 2*g.PadH }
func (g *convShape) wp() int { return g.w + 2*g.PadW }

// cols is the width of the column matrix: oh*wp when wide, else oh*ow.
func (g *convShape) cols() int {
	if g.wide() {
		return g.oh * g.wp()
	}
	return g.plane()
}

// padSize is the length of the padded slab: cg planes and the (kw-1)*dilation elements the last
// row of the column matrix reads past the last plane (into extra columns only).
func (g *convShape) padSize() int { return g.cg*g.hp()*g.wp() + (g.kw-1)*g.DilationW }

// padInto copies the slab x [cg, h, w] into the middle of pad, zero around it.
func (g *convShape) padInto(x, pad []float32) {
	clear(pad)
	hw, hpwp, wp := g.h*g.w, g.hp()*g.wp(), g.wp()
	for c := range g.cg {
		for i := range g.h {
			copy(pad[c*hpwp+(i+g.PadH)*wp+g.PadW:][:g.w], x[c*hw+i*g.w:][:g.w])
		}
	}
}

// unpad copies the middle of pad back into the slab x [cg, h, w].
func (g *convShape) unpad(pad, x []float32) {
	hw, hpwp, wp := g.h*g.w, g.hp()*g.wp(), g.wp()
	for c := range g.cg {
		for i := range g.h {
			copy(x[c*hw+i*g.w:][:g.w], pad[c*hpwp+(i+g.PadH)*wp+g.PadW:][:g.w])
		}
	}
}

// eachWideTap calls fn with each row (c, r, s) of a wide column matrix col and the run of the
// padded slab pad it corresponds to.
func (g *convShape) eachWideTap(pad, col []float32, fn func(run, row []float32)) {
	n, hpwp, wp := g.cols(), g.hp()*g.wp(), g.wp()
	for c := range g.cg {
		for r := range g.kh {
			for s := range g.kw {
				row := col[((c*g.kh+r)*g.kw+s)*n:][:n]
				fn(pad[c*hpwp+r*g.DilationH*wp+s*g.DilationW:][:n], row)
			}
		}
	}
}

// xSlab is image n, group g of an input-shaped buffer: [cg, h, w].
func (g *convShape) xSlab(x []float32, n, grp int) []float32 {
	size := g.cg * g.h * g.w
	return x[(n*g.Groups+grp)*size:][:size]
}

// ySlab is image n, group g of an output-shaped buffer: [kg, oh*ow].
func (g *convShape) ySlab(y []float32, n, grp int) []float32 {
	size := g.kg * g.plane()
	return y[(n*g.Groups+grp)*size:][:size]
}

// wSlab is group g of a filter-shaped buffer: [kg, cg*kh*kw].
func (g *convShape) wSlab(w []float32, grp int) []float32 {
	size := g.kg * g.rows()
	return w[grp*size:][:size]
}

// taskCost is the work of one image and group, in multiply-adds: the GEMM plus the copies.
func (g *convShape) taskCost() int { return (g.kg + 1) * g.rows() * g.cols() }

// Conv2d computes y = conv(x, w) (see ops.Backend).
func (b *Backend) Conv2d(x, w, y ops.Tensor, p ops.Conv2dParams) {
	const op = "Conv2d"
	p = ops.CheckConv2d(x, w, y, p)
	xs, ws, ys := f32(op, x), f32(op, w), f32(op, y)
	g := newConvShape(x.Shape(), w.Shape(), p)
	if t := g.taps; t != nil {
		b.tapConvolvePacked(t, func(a []float32) { t.packFilters(ws, a) }, xs, ys)
		return
	}
	filters, free := b.filterOps(g, func(grp int) gemmOp {
		return gemmOp{m: g.kg, n: g.cols(), k: g.rows(), a: g.wSlab(ws, grp), lda: g.rows(), ldb: g.cols(), ldc: g.cols(), alpha: 1}
	})
	defer free()
	if b.batched(g) {
		b.convBatched(g, filters, g.rows(), g.kg,
			func(n, grp int, col []float32, ld int) { g.columnsInto(g.xSlab(xs, n, grp), col, ld) },
			func(n, grp int, out []float32, ld int) {
				copyRows(g.ySlab(ys, n, grp), g.plane(), out, ld, g.kg, g.plane())
			})
		return
	}
	b.convEach(g, func(cw *convWorker, n, grp int) {
		o := filters[grp]
		o.b, o.c = cw.columns(g.xSlab(xs, n, grp)), g.ySlab(ys, n, grp)
		if g.wide() {
			o.c = cw.out
		}
		cw.gemm(o)
		if g.wide() {
			unwiden(o.c, g.cols(), g.wp(), g.ySlab(ys, n, grp), g.kg, g.oh, g.ow)
		}
	})
}

// Conv2dBackward computes dx and dw (either may be nil) from dy (see ops.Backend).
func (b *Backend) Conv2dBackward(dy, x, w, dx, dw ops.Tensor, p ops.Conv2dParams) {
	const op = "Conv2dBackward"
	p = ops.CheckConv2dBackward(dy, x, w, dx, dw, p)
	g := newConvShape(x.Shape(), w.Shape(), p)
	dys := f32(op, dy)
	if dx != nil {
		b.convBackwardData(g, dys, f32(op, w), f32(op, dx))
	}
	if dw != nil {
		b.convBackwardFilter(g, dys, f32(op, x), f32(op, dw))
	}
}

// convBackwardData computes dx_ng = col2im(w_g^T @ dy_ng) for every image and group.
func (b *Backend) convBackwardData(g *convShape, dy, w, dx []float32) {
	if gt, ok := g.transposed(); ok && g.taps != nil && gt.taps != nil {
		t := gt.taps
		b.tapConvolvePacked(t, func(a []float32) { t.packFlipped(g, w, a) }, dy, dx)
		return
	}
	filters, free := b.filterOps(g, func(grp int) gemmOp {
		return gemmOp{m: g.rows(), n: g.cols(), k: g.kg, a: g.wSlab(w, grp), lda: g.rows(), transA: true, ldb: g.cols(), ldc: g.cols(), alpha: 1}
	})
	defer free()
	if b.batched(g) {
		b.convBatched(g, filters, g.kg, g.rows(),
			func(n, grp int, col []float32, ld int) {
				copyRows(col, ld, g.ySlab(dy, n, grp), g.plane(), g.kg, g.plane())
			},
			func(n, grp int, col []float32, ld int) {
				dxs := g.xSlab(dx, n, grp)
				if g.direct() {
					copyRows(dxs, g.plane(), col, ld, g.rows(), g.plane())
					return
				}
				clear(dxs)
				g.col2im(col, ld, dxs)
			})
		return
	}
	b.convEach(g, func(cw *convWorker, n, grp int) {
		dxs := g.xSlab(dx, n, grp)
		o := filters[grp]
		o.b, o.c = cw.gradOut(g.ySlab(dy, n, grp)), dxs
		switch {
		case g.direct():
			cw.gemm(o)
		case g.wide():
			o.c = cw.col
			cw.gemm(o)
			clear(cw.pad)
			g.eachWideTap(cw.pad, cw.col, func(run, row []float32) {
				for j, v := range row {
					run[j] += v
				}
			})
			g.unpad(cw.pad, dxs)
		default:
			o.c = cw.col
			cw.gemm(o)
			clear(dxs)
			g.col2im(cw.col, g.cols(), dxs)
		}
	})
}

// convBackwardFilter computes dw_g = sum over n of dy_ng @ col(x_ng)^T. The sum over the batch
// must not race, so the work is split by whichever has enough parallelism: by group (each
// goroutine owns whole groups of dw), by image (each goroutine sums its share of the batch into a
// partial dw, added up at the end), or else inside each GEMM.
func (b *Backend) convBackwardFilter(g *convShape, dy, x, dw []float32) {
	f := &filterGrad{g: g, dy: dy, x: x}
	switch {
	case g.n == 0:
		clear(dw) // the sum over an empty batch
	case b.acrossTasks(g.Groups):
		b.parallelClaim(g.Groups, g.n*g.taskCost(), func(next func() (int, bool)) {
			cw := b.newConvWorker(g, false, g.filterByTaps())
			for grp, ok := next(); ok; grp, ok = next() {
				f.sum(cw, dw, 0, g.n, grp)
			}
			cw.release()
		})
	case b.acrossTasks(g.n):
		b.filterGradByImage(f, dw)
	default:
		cw := b.newConvWorker(g, true, g.filterByTaps())
		for grp := range g.Groups {
			f.sum(cw, dw, 0, g.n, grp)
		}
		cw.release()
	}
}

// filterGrad holds the operands of one weight gradient.
type filterGrad struct {
	g     *convShape
	dy, x []float32
}

// sum writes the sum over the images [lo, hi) of dy_ng @ col(x_ng)^T into group grp of dw.
func (f *filterGrad) sum(cw *convWorker, dw []float32, lo, hi, grp int) {
	g := f.g
	if cw.tap != nil {
		g.taps.filterSum(cw.b.vec(), cw.tap, f.dy, f.x, g.wSlab(dw, grp), lo, hi, grp)
		return
	}
	o := gemmOp{m: g.kg, n: g.rows(), k: g.cols(), lda: g.cols(), ldb: g.cols(), transB: true,
		c: g.wSlab(dw, grp), ldc: g.rows(), alpha: 1}
	for n := lo; n < hi; n++ {
		o.a = cw.gradOut(g.ySlab(f.dy, n, grp))
		o.b = cw.columns(g.xSlab(f.x, n, grp))
		o.beta = 1
		if n == lo {
			o.beta = 0
		}
		cw.gemm(o)
	}
}

// filterGradByImage splits the batch into a few runs of images per thread, which the threads
// claim as they go (so a slower core takes fewer). The run that starts at image 0 is summed into
// dw itself, every other one into a pooled partial sum, and the partials are then added in the
// order of the runs, so the result does not depend on which goroutine took which run.
func (b *Backend) filterGradByImage(f *filterGrad, dw []float32) {
	g := f.g
	runs := min(g.n, filterRunsPerThread*b.threads)
	partial := make([][]float32, runs)
	b.parallelClaim(runs, g.n/runs*g.Groups*g.taskCost(), func(next func() (int, bool)) {
		cw := b.newConvWorker(g, false, g.filterByTaps())
		for r, ok := next(); ok; r, ok = next() {
			out := dw
			if r > 0 {
				out = b.scratch(len(dw))
				partial[r] = out
			}
			for grp := range g.Groups {
				f.sum(cw, out, r*g.n/runs, (r+1)*g.n/runs, grp)
			}
		}
		cw.release()
	})
	// Add the partials in order, each slice of dw on one thread.
	sums := partial[1:]
	add := b.vec().add
	b.parallelFor(len(dw), len(sums), func(lo, hi int) {
		for _, p := range sums {
			add(dw[lo:hi], p[lo:hi], dw[lo:hi], 1)
		}
	})
	for _, p := range sums {
		b.release(p)
	}
}

// filterRunsPerThread is how many runs of images each thread gets, on average, in a weight
// gradient split by image: more runs balance the threads better, and each costs a partial sum of
// the weights' size.
const filterRunsPerThread = 2

// acrossTasks reports whether tasks independent pieces of work keep every thread busy in equal
// shares; if not, the threads are better spent inside each GEMM.
func (b *Backend) acrossTasks(tasks int) bool {
	return tasks >= b.threads && (tasks%b.threads == 0 || tasks >= 4*b.threads)
}

// filterOps returns each group's GEMM with the group's filters as A, o(grp), for the images of
// convEach to share. When convEach spreads the images over the threads, each with serial GEMMs that
// would all pack the same A, A is packed here once instead (gemmOp.prepackA); free gives that
// memory back.
func (b *Backend) filterOps(g *convShape, o func(grp int) gemmOp) (ops []gemmOp, free func()) {
	ops = make([]gemmOp, g.Groups)
	for grp := range ops {
		ops[grp] = o(grp)
	}
	if !b.acrossTasks(g.n*g.Groups) || g.n < 2 {
		return ops, func() {}
	}
	size := ops[0].prepackedSize(b.kernel)
	packed := b.scratch(g.Groups * size)
	for grp := range ops {
		ops[grp].prepackA(b, b.kernel, packed[grp*size:])
	}
	return ops, func() { b.release(packed) }
}

// batched reports whether g's forward and input-gradient GEMMs run on all the images at once, as
// one GEMM per group whose columns are the images' columns side by side: when an image has too
// few columns for whole micro-panels (a 7x7 plane, 49 columns, computes 64 with the AVX2 kernel),
// the padding of its last micro-panel is a larger share of a GEMM per image than the copies in and
// out cost (about 6% of a 14x14 plane's GEMM: there the two are even). Not for wide
// convolutions, whose columns overlap.
func (b *Backend) batched(g *convShape) bool {
	cols := g.cols()
	return g.n > 1 && !g.wide() && roundUp(cols, b.kernel.nr)*100 > cols*110
}

// convBatched runs one GEMM per group on all the images: in(n, grp, col, ld) writes image n's
// k x cols operand B into the columns [n*cols, (n+1)*cols) of col (row stride ld = n*cols), the
// GEMM filters[grp] (over all those columns) writes m rows of results the same way, and
// out(n, grp, res, ld) takes image n's columns of them. The copies in and out are spread over the
// images, the GEMM over the threads.
func (b *Backend) convBatched(g *convShape, filters []gemmOp, k, m int,
	in, out func(n, grp int, col []float32, ld int)) {
	cols := g.cols()
	ld := g.n * cols
	col, res := b.scratch(k*ld), b.scratch(m*ld)
	for grp := range g.Groups {
		b.parallelFor(g.n, k*cols, func(lo, hi int) {
			for n := lo; n < hi; n++ {
				in(n, grp, col[n*cols:], ld)
			}
		})
		o := filters[grp]
		o.n, o.b, o.ldb, o.c, o.ldc = ld, col, ld, res, ld
		b.gemm(o)
		b.parallelFor(g.n, m*cols, func(lo, hi int) {
			for n := lo; n < hi; n++ {
				out(n, grp, res[n*cols:], ld)
			}
		})
	}
	b.release(col)
	b.release(res)
}

// copyRows copies rows rows of n values from src (row stride ldSrc) to dst (row stride ldDst).
func copyRows(dst []float32, ldDst int, src []float32, ldSrc, rows, n int) {
	for r := range rows {
		copy(dst[r*ldDst:][:n], src[r*ldSrc:][:n])
	}
}

// columnsInto writes the column matrix of the slab x into col with row stride ld: x itself for a
// direct convolution, else im2col(x). Not for wide convolutions.
func (g *convShape) columnsInto(x, col []float32, ld int) {
	if g.direct() {
		copyRows(col, ld, x, g.plane(), g.rows(), g.plane())
		return
	}
	g.im2col(x, col, ld)
}

// convEach runs fn for every image and group, spread over the threads either across the
// (image, group) pairs, each goroutine with its own column matrix and serial GEMMs, or, when there
// are too few pairs, one pair at a time with parallel GEMMs. fn must only write memory that
// belongs to its image and group.
func (b *Backend) convEach(g *convShape, fn func(cw *convWorker, n, grp int)) {
	tasks := g.n * g.Groups
	if !b.acrossTasks(tasks) {
		cw := b.newConvWorker(g, true, false)
		for t := range tasks {
			fn(cw, t/g.Groups, t%g.Groups)
		}
		cw.release()
		return
	}
	b.parallelClaim(tasks, g.taskCost(), func(next func() (int, bool)) {
		cw := b.newConvWorker(g, false, false)
		for t, ok := next(); ok; t, ok = next() {
			fn(cw, t/g.Groups, t%g.Groups)
		}
		cw.release()
	})
}

// convWorker is the working memory of one goroutine of a convolution: a column matrix (unless the
// convolution is direct) and, for serial GEMMs, packing buffers.
type convWorker struct {
	b        *Backend
	g        *convShape
	col      []float32 // [rows, cols]
	pad      []float32 // wide: the padded slab
	out      []float32 // wide: [kg, cols], an output or output gradient in padded width
	work     gemmWork
	parallel bool       // GEMMs use all threads (and their own packing memory)
	tap      *tapWorker // the tap path's memory, instead of all the above
}

// newConvWorker returns the memory of a goroutine that runs g's GEMMs (serial ones unless
// parallel), or with taps, of one that runs g by taps.
func (b *Backend) newConvWorker(g *convShape, parallel, taps bool) *convWorker {
	cw := &convWorker{b: b, g: g, parallel: parallel}
	if taps {
		cw.tap = b.newTapWorker(g.taps)
		return cw
	}
	if !g.direct() {
		cw.col = b.scratch(g.rows() * g.cols())
	}
	if g.wide() {
		cw.pad = b.scratch(g.padSize())
		cw.out = b.scratch(g.kg * g.cols())
	}
	if !parallel {
		cw.work = b.newGemmWork()
	}
	return cw
}

func (cw *convWorker) release() {
	if cw.tap != nil {
		cw.tap.release()
		return
	}
	for _, s := range [][]float32{cw.col, cw.pad, cw.out} {
		if s != nil {
			cw.b.release(s)
		}
	}
	if !cw.parallel {
		cw.b.releaseGemmWork(cw.work)
	}
}

func (cw *convWorker) gemm(o gemmOp) {
	if cw.parallel {
		cw.b.gemm(o)
		return
	}
	o.run(&cw.work)
}

// columns returns the column matrix of the input slab x: x itself for a direct convolution, the
// wide column matrix for a wide one, else im2col(x), in the worker's buffer.
func (cw *convWorker) columns(x []float32) []float32 {
	g := cw.g
	switch {
	case g.direct():
		return x
	case g.wide():
		g.padInto(x, cw.pad)
		g.eachWideTap(cw.pad, cw.col, func(run, row []float32) { copy(row, run) })
	default:
		g.im2col(x, cw.col, g.cols())
	}
	return cw.col
}

// gradOut returns an output-gradient slab dy [kg, oh*ow] as the GEMMs of the backward take it:
// spread to the padded width for a wide convolution, else as it is.
func (cw *convWorker) gradOut(dy []float32) []float32 {
	if !cw.g.wide() {
		return dy
	}
	g := cw.g
	widen(dy, cw.out, g.cols(), g.wp(), g.kg, g.oh, g.ow)
	return cw.out
}

// convSpan is the range [lo, hi) of output positions o < out whose input position
// o*stride - pad + offset lies inside [0, in).
func convSpan(in, out, stride, pad, offset int) (lo, hi int) {
	// The smallest o >= 0 with o*stride >= v, for any sign of v.
	first := func(v int) int {
		if v <= 0 {
			return 0
		}
		return (v + stride - 1) / stride
	}
	hi = min(out, first(in+pad-offset))
	lo = min(first(pad-offset), hi)
	return lo, hi
}

// im2col writes the column matrix of the slab x [cg, h, w] into col [cg*kh*kw, oh*ow] with row
// stride ld.
func (g *convShape) im2col(x, col []float32, ld int) { g.eachTap(x, col, ld, g.im2colRow) }

// eachTap calls fn with each channel img of the slab x [cg, h, w] and the row of the column matrix
// col [cg*kh*kw, oh*ow] (row stride ld) that holds its tap (r, s): the walk im2col and col2im
// share.
func (g *convShape) eachTap(x, col []float32, ld int, fn func(img, row []float32, r, s int)) {
	plane := g.plane()
	for ci := range g.cg {
		img := x[ci*g.h*g.w:][:g.h*g.w]
		for r := range g.kh {
			for s := range g.kw {
				fn(img, col[((ci*g.kh+r)*g.kw+s)*ld:][:plane], r, s)
			}
		}
	}
}

// im2colRow fills one row of the column matrix: tap (r, s) of one channel img [h, w] at every
// output position, zero in the padding.
func (g *convShape) im2colRow(img, row []float32, r, s int) {
	p0, p1 := convSpan(g.h, g.oh, g.StrideH, g.PadH, r*g.DilationH)
	q0, q1 := convSpan(g.w, g.ow, g.StrideW, g.PadW, s*g.DilationW)
	clear(row[:p0*g.ow])
	clear(row[p1*g.ow:])
	for p := p0; p < p1; p++ {
		in := img[(p*g.StrideH-g.PadH+r*g.DilationH)*g.w:][:g.w]
		out := row[p*g.ow:][:g.ow]
		clear(out[:q0])
		clear(out[q1:])
		if q0 == q1 {
			continue // every tap of this row is in the padding
		}
		iw := q0*g.StrideW - g.PadW + s*g.DilationW
		if g.StrideW == 1 {
			copy(out[q0:q1], in[iw:])
			continue
		}
		for q := q0; q < q1; q++ {
			out[q] = in[iw]
			iw += g.StrideW
		}
	}
}

// col2im adds every entry of the column matrix col (row stride ld) back onto the input position
// it was read from in the slab x [cg, h, w]; entries that came from padding are dropped.
func (g *convShape) col2im(col []float32, ld int, x []float32) { g.eachTap(x, col, ld, g.col2imRow) }

// col2imRow adds one row of the column matrix, tap (r, s), onto one channel img [h, w].
func (g *convShape) col2imRow(img, row []float32, r, s int) {
	p0, p1 := convSpan(g.h, g.oh, g.StrideH, g.PadH, r*g.DilationH)
	q0, q1 := convSpan(g.w, g.ow, g.StrideW, g.PadW, s*g.DilationW)
	if q0 == q1 {
		return
	}
	for p := p0; p < p1; p++ {
		in := img[(p*g.StrideH-g.PadH+r*g.DilationH)*g.w:][:g.w]
		out := row[p*g.ow:][:g.ow]
		iw := q0*g.StrideW - g.PadW + s*g.DilationW
		if g.StrideW == 1 {
			dst := in[iw:][:q1-q0]
			for q, v := range out[q0:q1] {
				dst[q] += v
			}
			continue
		}
		for q := q0; q < q1; q++ {
			in[iw] += out[q]
			iw += g.StrideW
		}
	}
}
