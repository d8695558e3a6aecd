package cpu

// SGEMM in pure Go, organised as Goto and van de Geijn describe ("Anatomy of high-performance
// matrix multiplication", 2008) and as BLIS does it:
//
//	for each nc-wide block of columns of C                (packed B block stays in L3)
//	  for each kc-deep slice of the inner dimension
//	    pack B[kc, nc] into micro-panels of nr columns
//	    for each mc-tall block of rows of C                 (packed A block stays in L2)
//	      pack alpha*A[mc, kc] into micro-panels of mr rows
//	      for each micro-panel of B, for each micro-panel of A   (B micro-panel stays in L1)
//	        micro-kernel: C[mr, nr] += A-panel * B-panel
//
// Packing makes every operand of the micro-kernel contiguous whatever the transposes and strides
// of the caller, and pads partial panels with zeros so the micro-kernel always computes a whole
// tile. The micro-kernel is the only code that runs kc*mr*nr times; it sits behind microKernel so
// that an assembly version can replace it.

const (
	gemmKC = 256  // depth of a packed slice: a B micro-panel (kc x nr) fits in L1
	gemmMC = 128  // rows of a packed A block (mc x kc, 128 KiB): fits in L2
	gemmNC = 2048 // columns of a packed B block (kc x nc, 2 MiB): fits in L3
)

// microKernel is a register-blocked kernel for one mr x nr tile of C.
type microKernel struct {
	mr, nr int
	// fn computes c[i*ldc+j] += sum over p < kc of a[p*mr+i] * b[p*nr+j], for i < mr and j < nr:
	// a is a packed micro-panel of A (kc columns of mr values), b one of B (kc rows of nr values).
	fn func(kc int, a, b, c []float32, ldc int)
}

// gemmKernel is the micro-kernel in use. An architecture-specific kernel (with its own tile size)
// may replace it at init time; everything else adapts to its mr and nr.
var gemmKernel = microKernel{mr: goMR, nr: goNR, fn: kernel4x8}

// gemmOp is one SGEMM on row-major matrices: C = alpha*op(A)*op(B) + beta*C, with op(A) [m, k],
// op(B) [k, n] and C [m, n]. A is stored [m, k] with row stride lda, or [k, m] when transA; B is
// stored [k, n] with row stride ldb, or [n, k] when transB; C has row stride ldc. When beta is 0, C
// is overwritten (its old contents, even NaN, do not matter). C must not overlap A or B.
type gemmOp struct {
	m, n, k int
	a       []float32
	lda     int
	transA  bool
	b       []float32
	ldb     int
	transB  bool
	c       []float32
	ldc     int
	alpha   float32
	beta    float32
}

// gemm runs o on up to b.threads goroutines. C is split into stripes of whole micro-tiles, across
// columns when C is wide and across rows when it is tall, and each stripe is an independent serial
// GEMM with its own packing memory: no two goroutines write the same element.
func (b *Backend) gemm(o gemmOp) {
	if o.m == 0 || o.n == 0 {
		return
	}
	if o.k == 0 || o.alpha == 0 {
		o.scaleC()
		return
	}
	k := gemmKernel
	if o.n >= o.m {
		units := (o.n + k.nr - 1) / k.nr
		b.parallelFor(units, k.nr*o.m*o.k, func(lo, hi int) {
			s := o.cols(lo*k.nr, min(hi*k.nr, o.n))
			b.gemmSerial(&s)
		})
		return
	}
	units := (o.m + k.mr - 1) / k.mr
	b.parallelFor(units, k.mr*o.n*o.k, func(lo, hi int) {
		s := o.rows(lo*k.mr, min(hi*k.mr, o.m))
		b.gemmSerial(&s)
	})
}

// gemmSerial runs o on the calling goroutine with pooled packing memory.
func (b *Backend) gemmSerial(o *gemmOp) {
	w := b.newGemmWork()
	o.run(&w)
	b.releaseGemmWork(w)
}

// cols restricts o to columns [j0, j1) of C.
func (o gemmOp) cols(j0, j1 int) gemmOp {
	if o.transB {
		o.b = o.b[j0*o.ldb:]
	} else {
		o.b = o.b[j0:]
	}
	o.c = o.c[j0:]
	o.n = j1 - j0
	return o
}

// rows restricts o to rows [i0, i1) of C.
func (o gemmOp) rows(i0, i1 int) gemmOp {
	if o.transA {
		o.a = o.a[i0:]
	} else {
		o.a = o.a[i0*o.lda:]
	}
	o.c = o.c[i0*o.ldc:]
	o.m = i1 - i0
	return o
}

// gemmWork is one goroutine's packing memory, cut from a single pooled slice. Its sizes depend
// only on the micro-kernel, so the pool hands the same buffers back call after call.
type gemmWork struct {
	k    microKernel
	buf  []float32 // the pooled slice
	a    []float32 // packed block of A: mc x kc
	b    []float32 // packed block of B: kc x nc
	tile []float32 // an mr x nr tile for the edges of C
}

// gemmBlocks is mc and nc rounded down to whole micro-panels of k.
func gemmBlocks(k microKernel) (mc, nc int) {
	return max(gemmMC/k.mr, 1) * k.mr, max(gemmNC/k.nr, 1) * k.nr
}

func (b *Backend) newGemmWork() gemmWork {
	k := gemmKernel
	mc, nc := gemmBlocks(k)
	na, nb := mc*gemmKC, gemmKC*nc
	buf := b.scratch(na + nb + k.mr*k.nr)
	return gemmWork{k: k, buf: buf, a: buf[:na], b: buf[na : na+nb], tile: buf[na+nb:]}
}

func (b *Backend) releaseGemmWork(w gemmWork) { b.release(w.buf) }

// run computes o serially with w's packing memory.
func (o *gemmOp) run(w *gemmWork) {
	if o.m == 0 || o.n == 0 {
		return
	}
	// Applying beta first lets every block below simply accumulate into C.
	o.scaleC()
	if o.k == 0 || o.alpha == 0 {
		return
	}
	mr, nr := w.k.mr, w.k.nr
	mc, nc := len(w.a)/gemmKC, len(w.b)/gemmKC
	for jc := 0; jc < o.n; jc += nc {
		nb := min(nc, o.n-jc)
		for pc := 0; pc < o.k; pc += gemmKC {
			kb := min(gemmKC, o.k-pc)
			o.packB(w.b, nr, pc, kb, jc, nb)
			for ic := 0; ic < o.m; ic += mc {
				mb := min(mc, o.m-ic)
				o.packA(w.a, mr, ic, mb, pc, kb)
				w.macroKernel(mb, nb, kb, o.c[ic*o.ldc+jc:], o.ldc)
			}
		}
	}
}

// scaleC computes C = beta*C, writing zeros when beta is 0 so that garbage in C never survives.
func (o *gemmOp) scaleC() {
	if o.beta == 1 {
		return
	}
	for i := range o.m {
		row := o.c[i*o.ldc:][:o.n]
		if o.beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= o.beta
		}
	}
}

// packA packs alpha * op(A)[i0:i0+mb, p0:p0+kb] into dst as micro-panels of mr rows, each stored
// column by column (kb columns of mr values), the last one padded with zero rows.
func (o *gemmOp) packA(dst []float32, mr, i0, mb, p0, kb int) {
	alpha := o.alpha
	for ir := 0; ir < mb; ir += mr {
		panel := dst[ir*kb : (ir+mr)*kb]
		rows := min(mr, mb-ir)
		if o.transA {
			// op(A)[i][p] = a[p*lda+i]: each column of the panel is a contiguous run of A.
			for p := range kb {
				src := o.a[(p0+p)*o.lda+i0+ir:][:rows]
				d := panel[p*mr : p*mr+mr]
				for i, v := range src {
					d[i] = alpha * v
				}
				clear(d[rows:])
			}
			continue
		}
		// op(A)[i][p] = a[i*lda+p]: each row of the panel is a contiguous run of A.
		for i := range rows {
			src := o.a[(i0+ir+i)*o.lda+p0:][:kb]
			for p, v := range src {
				panel[p*mr+i] = alpha * v
			}
		}
		if rows < mr {
			for p := range kb {
				clear(panel[p*mr+rows : p*mr+mr])
			}
		}
	}
}

// packB packs op(B)[p0:p0+kb, j0:j0+nb] into dst as micro-panels of nr columns, each stored row
// by row (kb rows of nr values), the last one padded with zero columns.
func (o *gemmOp) packB(dst []float32, nr, p0, kb, j0, nb int) {
	for jr := 0; jr < nb; jr += nr {
		panel := dst[jr*kb : (jr+nr)*kb]
		cols := min(nr, nb-jr)
		if !o.transB {
			// op(B)[p][j] = b[p*ldb+j]: each row of the panel is a contiguous run of B.
			for p := range kb {
				d := panel[p*nr : p*nr+nr]
				copy(d, o.b[(p0+p)*o.ldb+j0+jr:][:cols])
				clear(d[cols:])
			}
			continue
		}
		// op(B)[p][j] = b[j*ldb+p]: each column of the panel is a contiguous run of B.
		for j := range cols {
			src := o.b[(j0+jr+j)*o.ldb+p0:][:kb]
			for p, v := range src {
				panel[p*nr+j] = v
			}
		}
		if cols < nr {
			for p := range kb {
				clear(panel[p*nr+cols : p*nr+nr])
			}
		}
	}
}

// macroKernel multiplies the packed blocks in w (mb x kb of A, kb x nb of B) into C, tile by tile.
// Whole tiles go straight to C; edge tiles are computed in w.tile and only their valid part is
// added, so the micro-kernel never needs to know about edges.
func (w *gemmWork) macroKernel(mb, nb, kb int, c []float32, ldc int) {
	mr, nr, fn := w.k.mr, w.k.nr, w.k.fn
	for jr := 0; jr < nb; jr += nr {
		bp := w.b[jr*kb : (jr+nr)*kb]
		cols := min(nr, nb-jr)
		for ir := 0; ir < mb; ir += mr {
			ap := w.a[ir*kb : (ir+mr)*kb]
			rows := min(mr, mb-ir)
			if rows == mr && cols == nr {
				fn(kb, ap, bp, c[ir*ldc+jr:], ldc)
				continue
			}
			clear(w.tile)
			fn(kb, ap, bp, w.tile, nr)
			for i := range rows {
				dst := c[(ir+i)*ldc+jr:][:cols]
				for j, v := range w.tile[i*nr : i*nr+cols] {
					dst[j] += v
				}
			}
		}
	}
}

// The tile of the portable micro-kernel.
const goMR, goNR = 4, 8

// kernel4x8 is the portable micro-kernel for 4x8 tiles. Scalar Go on amd64 has 15 usable float
// registers, too few for 32 accumulators, so the tile is computed as four 2x4 blocks: each keeps 8
// accumulators, 2 values of A and 4 of B in registers through the whole loop. Re-reading the
// micro-panels from L1 four times costs far less than spilling accumulators on every step.
func kernel4x8(kc int, a, b, c []float32, ldc int) {
	for i := 0; i < goMR; i += 2 {
		for j := 0; j < goNR; j += 4 {
			kernel2x4(kc, a[i:], b[j:], c[i*ldc+j:], ldc)
		}
	}
}

// kernel2x4 adds rows 0-1, columns 0-3 of the packed product to c (strides goMR and goNR).
func kernel2x4(kc int, a, b, c []float32, ldc int) {
	var c00, c01, c02, c03, c10, c11, c12, c13 float32
	for p := range kc {
		// Three-index slices of constant length let the compiler drop the per-element bounds checks.
		ap := a[p*goMR : p*goMR+2 : p*goMR+2]
		bp := b[p*goNR : p*goNR+4 : p*goNR+4]
		a0, a1 := ap[0], ap[1]
		b0, b1, b2, b3 := bp[0], bp[1], bp[2], bp[3]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
	}
	r := c[:4:4]
	r[0] += c00
	r[1] += c01
	r[2] += c02
	r[3] += c03
	r = c[ldc : ldc+4 : ldc+4]
	r[0] += c10
	r[1] += c11
	r[2] += c12
	r[3] += c13
}
