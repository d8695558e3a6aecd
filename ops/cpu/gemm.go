package cpu

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
)

// SGEMM organised as Goto and van de Geijn describe ("Anatomy of high-performance matrix
// multiplication", 2008) and as BLIS does it:
//
//	for each nc-wide block of columns of C                  (packed B block stays in L3)
//	  for each kc-deep slice of the inner dimension
//	    pack B[kc, nc] into micro-panels of nr columns        (shared by all threads)
//	    for each mc-tall block of this thread's rows of C     (packed A block stays in L2)
//	      pack alpha*A[mc, kc] into micro-panels of mr rows
//	      for each micro-panel of B, for each micro-panel of A   (B micro-panel stays in L1)
//	        micro-kernel: C[mr, nr] = A-panel * B-panel + beta*C[mr, nr]
//
// Packing makes every operand of the micro-kernel contiguous whatever the transposes and strides
// of the caller, and pads partial panels with zeros so that the micro-kernel always computes a
// whole tile. The micro-kernel is the only code that runs kc*mr*nr times: it is chosen at run
// time among Go-assembly kernels for the CPU's vector extensions (gemm_amd64.go) and a portable
// one in Go (kernel4x8), and everything else adapts to its tile and blocking.
//
// Threads share the packed B block, BLIS-style, so that every shape keeps both cores busy, tall
// and skinny ones included: they pack its micro-panels together, and after a barrier each computes
// rows of C with micro-panels of A it packs itself. Rows go in runs of micro-panels that the
// threads claim as they go (guided self-scheduling: a share of what is left, shrinking towards
// the end), so that a thread slowed by whatever else runs on its core does not hold the others
// up; with few rows, each thread takes a fixed share instead. When there are too few rows to go
// round evenly, C is split by columns: each thread packs its own micro-panels of B, and all of
// A, and needs no barrier. Two B buffers alternate, so one barrier per block suffices: a thread
// that starts packing block t+1 knows that every thread has finished block t-1, the last user of
// that buffer.

// microKernel is a register-blocked kernel for one mr x nr tile of C and the blocking that suits
// it.
type microKernel struct {
	name   string // "avx512", "avx2", "go": the value of Options.Kernel and RESNEXT_CPU_KERNEL
	mr, nr int
	// kc, mc and nc bound the depth of a packed slice, the rows of a packed A block and the
	// columns of a packed B block. mc and nc are whole micro-panels.
	kc, mc, nc int
	// fn computes c[i*ldc+j] = sum over p < kc of a[p*mr+i] * b[p*nr+j] + beta*c[i*ldc+j] for
	// i < mr and j < nr: a is a packed micro-panel of A (kc columns of mr values), b one of B (kc
	// rows of nr values). beta == 0 overwrites c without reading it (NaN there does not survive).
	fn func(kc int, a, b, c []float32, ldc int, beta float32)
	// packA6, when set, packs six rows of a non-transposed A: dst[p*stride+i] =
	// alpha*a[i*lda+p] for i < 6 and p < kb.
	packA6 func(kb int, a []float32, lda int, dst []float32, stride int, alpha float32)
	// packAT6, when set, packs six columns of a transposed A: dst[p*stride+i] =
	// alpha*a[p*lda+i] for i < 6 and p < kb.
	packAT6 func(kb int, a []float32, lda int, dst []float32, stride int, alpha float32)
	// packB, when set, packs whole micro-panels of a non-transposed B: kb rows of panels*nr
	// values, row stride ldb, from b into panels micro-panels at dst.
	packB func(kb, panels int, b []float32, ldb int, dst []float32)
	// packBT8, when set, packs eight columns of a transposed B: dst[p*stride+j] = b[j*ldb+p]
	// for j < 8 and p < kb, kb a multiple of 8.
	packBT8 func(kb int, b []float32, ldb int, dst []float32, stride int)
	// vec are the other kernels' loops on the same vector unit, so that forcing a kernel forces
	// the whole code path.
	vec *vecLoops
}

func (k microKernel) String() string { return fmt.Sprintf("%s %dx%d", k.name, k.mr, k.nr) }

// goKernel is the portable micro-kernel, for every CPU.
var goKernel = microKernel{name: "go", mr: goMR, nr: goNR, kc: 256, mc: 128, nc: 2048, fn: kernel4x8,
	vec: &goLoops}

// kernelNeeds is what each micro-kernel needs of the machine, for error messages.
var kernelNeeds = map[string]string{
	"avx512": "amd64 with AVX-512F",
	"avx2":   "amd64 with AVX2 and FMA",
	"go":     "nothing",
}

// gemmKernels are the micro-kernels this machine runs, fastest first; the portable one is last.
var gemmKernels = append(archKernels(), goKernel)

// Kernels returns the names of the SGEMM micro-kernels this machine can run, fastest first: the
// values Options.Kernel and $RESNEXT_CPU_KERNEL accept here. The last one, "go", runs anywhere.
func Kernels() []string {
	names := make([]string, len(gemmKernels))
	for i, k := range gemmKernels {
		names[i] = k.name
	}
	return names
}

// kernelNamed returns the micro-kernel called name ("" for the fastest), or an error saying why
// this machine cannot run it.
func kernelNamed(name string) (microKernel, error) {
	if name == "" {
		return gemmKernels[0], nil
	}
	for _, k := range gemmKernels {
		if k.name == name {
			return k, nil
		}
	}
	if needs, ok := kernelNeeds[name]; ok {
		return microKernel{}, fmt.Errorf("ops/cpu: SGEMM kernel %q needs %s, which this machine (%s/%s) or build lacks; available here: %s",
			name, needs, runtime.GOOS, runtime.GOARCH, strings.Join(Kernels(), ", "))
	}
	return microKernel{}, fmt.Errorf("ops/cpu: unknown SGEMM kernel %q; available here: %s", name, strings.Join(Kernels(), ", "))
}

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
	// packed, when set, holds alpha*op(A) packed once for many GEMMs (prepackA); a, lda, transA
	// and alpha are then not read.
	packed []float32
}

// gemmMinWork is the least work, in multiply-adds per thread, worth another thread: below it the
// goroutine start and the barriers cost more than they save. Tests lower it (Backend.gemmMinWork)
// to run the parallel path on small shapes.
const gemmMinWork = 1 << 19

// gemm runs o on up to b.threads goroutines that share the packed blocks of B.
func (b *Backend) gemm(o gemmOp) {
	if o.m == 0 || o.n == 0 {
		return
	}
	if o.k == 0 || o.alpha == 0 {
		o.scaleC()
		return
	}
	k := b.kernel
	work := o.m * o.n * o.k
	threads := min(b.threads, max(work/b.gemmMinWork, 1))
	if threads <= 1 {
		w := b.newGemmWork()
		o.run(&w)
		b.releaseGemmWork(w)
		return
	}
	t := &gemmTeam{}
	t.init(&o, k, threads)
	// The memory for packed B is sized for the kernel and the thread count rather than for this
	// op, so that the pool hands the same buffer back to every GEMM: two blocks of kc x nc, or
	// threads private parts of ceil(nc/nr/threads) micro-panels each.
	nb := k.kc * k.nc
	bufB := b.scratch(max(2*nb, threads*t.colsPart(k.kc, k.nc)))
	t.buf = bufB
	var wg sync.WaitGroup
	wg.Add(threads - 1)
	for i := 1; i < threads; i++ {
		go func() {
			defer wg.Done()
			w := b.newGemmWorkA()
			t.work(i, &w)
			b.releaseGemmWork(w)
		}()
	}
	w := b.newGemmWorkA()
	t.work(0, &w)
	b.releaseGemmWork(w)
	wg.Wait()
	b.release(bufB)
}

// gemmWork is one goroutine's packing memory, cut from a single pooled slice. Its sizes depend
// only on the micro-kernel, so the pool hands the same buffers back call after call.
type gemmWork struct {
	k    microKernel
	buf  []float32 // the pooled slice
	a    []float32 // packed block of A: mc x kc
	b    []float32 // packed block of B: kc x nc (empty in a worker of a parallel GEMM)
	tile []float32 // an mr x nr tile for the edges of C
}

// newGemmWork returns packing memory for serial GEMMs (run) with the backend's micro-kernel.
func (b *Backend) newGemmWork() gemmWork { return b.gemmWork(true) }

// newGemmWorkA returns packing memory for one thread of a parallel GEMM, which shares B.
func (b *Backend) newGemmWorkA() gemmWork { return b.gemmWork(false) }

func (b *Backend) gemmWork(withB bool) gemmWork {
	k := b.kernel
	na, nt, nb := k.mc*k.kc, k.mr*k.nr, 0
	if withB {
		nb = k.kc * k.nc
	}
	buf := b.scratch(na + nt + nb)
	return gemmWork{k: k, buf: buf, a: buf[:na], tile: buf[na : na+nt], b: buf[na+nt:]}
}

func (b *Backend) releaseGemmWork(w gemmWork) { b.release(w.buf) }

// run computes o on the calling goroutine with w's packing memory.
func (o *gemmOp) run(w *gemmWork) {
	if o.m == 0 || o.n == 0 {
		return
	}
	if o.k == 0 || o.alpha == 0 {
		o.scaleC()
		return
	}
	var t gemmTeam
	t.init(o, w.k, 1)
	t.buf = w.b
	t.work(0, w)
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

// gemmTeam is one GEMM shared by threads goroutines, and the blocking chosen for it.
type gemmTeam struct {
	o       *gemmOp
	k       microKernel
	threads int
	byRows  bool // split C by rows (else by columns) between the threads
	kc, nc  int  // blocking of this op: as deep and as wide as the kernel's, evened out
	// buf holds the packed blocks of B. Split by rows, its two halves take the blocks in turn,
	// shared by all threads; split by columns, thread i packs its own micro-panels into the i-th
	// of threads parts of colsPart values. A serial team packs at its start.
	buf []float32
	bar barrier
	// dynamic: split by rows, the threads claim runs of micro-panels of B to pack and of A to
	// compute with as they go, counting in nextB and next (one of each for either B buffer),
	// rather than each taking a fixed share.
	dynamic     bool
	next, nextB [2]atomic.Int64
}

// colsPart is the room one thread needs for its micro-panels of a kc x nc block of B split by
// columns.
func (t *gemmTeam) colsPart(kc, nc int) int {
	return ceilDiv(ceilDiv(nc, t.k.nr), t.threads) * t.k.nr * kc
}

// init sets t up for o on threads goroutines with kernel k.
func (t *gemmTeam) init(o *gemmOp, k microKernel, threads int) {
	*t = gemmTeam{o: o, k: k, threads: threads, byRows: true}
	t.kc = gemmDepth(o.k, k)
	t.nc = roundUp(ceilDiv(o.n, ceilDiv(o.n, k.nc)), k.nr)
	t.bar.n = int32(threads)
	if threads > 1 {
		// The slowest thread sets the pace: compare the tiles it computes when split by rows
		// (whole micro-panels of A per thread) and by columns (whole micro-panels of B per thread,
		// for each nc block). Splitting by rows packs A once in all; splitting by columns packs
		// it once per thread, so it has to win clearly.
		pm, pn := ceilDiv(o.m, k.mr), ceilDiv(o.n, k.nr)
		rows := ceilDiv(pm, threads) * pn
		cols := 0
		for jc := 0; jc < o.n; jc += t.nc {
			cols += ceilDiv(ceilDiv(min(t.nc, o.n-jc), k.nr), threads)
		}
		cols *= pm
		t.byRows = cols*100 >= rows*97
		// Claiming the work as it goes keeps the threads together when one of them runs slower
		// (another process on its core, a busy sibling thread or virtual machine), where fixed
		// shares would leave the others waiting at every barrier. It needs a few claims per
		// thread.
		t.dynamic = t.byRows && pm >= 2*gemmMinClaim*threads
	}
}

// gemmMinClaim is the fewest micro-panels of A a thread claims at a time: each claim streams the
// packed block of B through the core once more.
const gemmMinClaim = 2

// gemmDepth is the depth of the slices a GEMM of depth k is cut into: as deep as the kernel's kc,
// evened out. 300 = 150 + 150, not 256 + 44, which would run the micro-kernel on a short loop
// with the same overhead.
func gemmDepth(k int, kern microKernel) int { return ceilDiv(k, ceilDiv(k, kern.kc)) }

func ceilDiv(a, b int) int { return (a + b - 1) / b }
func roundUp(a, b int) int { return ceilDiv(a, b) * b }

// share is thread i's part [lo, hi) of n items.
func (t *gemmTeam) share(i, n int) (lo, hi int) { return i * n / t.threads, (i + 1) * n / t.threads }

// work is thread i's part of the GEMM, with w's packing memory for A.
func (t *gemmTeam) work(i int, w *gemmWork) {
	o, k := t.o, t.k
	mr, nr := k.mr, k.nr
	// This thread's rows [m0, m1) of C, whole micro-panels but for the last, in blocks of mc
	// evened out as kc is (unless the threads take rows as they go).
	m0, m1 := 0, o.m
	if t.byRows && !t.dynamic {
		lo, hi := t.share(i, ceilDiv(o.m, mr))
		m0, m1 = lo*mr, min(hi*mr, o.m)
	}
	mc := 0
	if m1 > m0 {
		mc = roundUp(ceilDiv(m1-m0, ceilDiv(m1-m0, k.mc)), mr)
	}
	block := 0
	for jc := 0; jc < o.n; jc += t.nc {
		nb := min(t.nc, o.n-jc)
		panels := ceilDiv(nb, nr)
		lo, hi := t.share(i, panels)
		for pc := 0; pc < o.k; pc += t.kc {
			kb := min(t.kc, o.k-pc)
			beta := o.beta
			if pc > 0 {
				beta = 1 // the first slice has applied beta
			}
			if !t.byRows {
				// Only this thread reads the micro-panels it packs: no barrier.
				if hi == lo || m1 == m0 {
					continue
				}
				part := t.colsPart(t.kc, t.nc)
				bp := t.buf[i*part : (i+1)*part]
				j0, n := lo*nr, min(hi*nr, nb)-lo*nr
				o.packB(bp, &t.k, pc, kb, jc+j0, n)
				for ic := m0; ic < m1; ic += mc {
					mb := min(mc, m1-ic)
					w.macroKernel(o.blockA(w, ic, mb, pc, kb), mb, n, kb, bp, o.c[ic*o.ldc+jc+j0:], o.ldc, beta)
				}
				continue
			}
			bp := t.buf
			if t.threads > 1 {
				half := len(t.buf) / 2
				bp = t.buf[half*(block&1) : half*(block&1+1)]
				block++
			}
			if !t.dynamic {
				if hi > lo {
					o.packB(bp[lo*nr*kb:], &t.k, pc, kb, jc+lo*nr, min(hi*nr, nb)-lo*nr)
				}
			} else {
				// Pack micro-panels of B as they are claimed, a few at a time.
				claimB := &t.nextB[block&1]
				step := int64(max(panels/(4*t.threads), 1))
				for {
					lo := claimB.Add(step) - step
					if lo >= int64(panels) {
						break
					}
					hi := min(lo+step, int64(panels))
					j0 := int(lo) * nr
					o.packB(bp[j0*kb:], &t.k, pc, kb, jc+j0, min(int(hi)*nr, nb)-j0)
				}
			}
			next := &t.next[block&1]
			// The last to arrive readies the counters of this block's A and the next block's B:
			// nobody claims from them before this barrier, and their last users, two blocks ago,
			// are done.
			t.bar.wait(func() {
				next.Store(0)
				t.nextB[block&1^1].Store(0)
			})
			if !t.dynamic {
				for ic := m0; ic < m1; ic += mc {
					mb := min(mc, m1-ic)
					w.macroKernel(o.blockA(w, ic, mb, pc, kb), mb, nb, kb, bp, o.c[ic*o.ldc+jc:], o.ldc, beta)
				}
				continue
			}
			// Guided self-scheduling: claim a run of micro-panels of A, a share of what is left
			// that shrinks as the work runs out, so that the threads finish together however
			// fast each of them happens to run.
			pm := ceilDiv(o.m, mr)
			for {
				cur := next.Load()
				if cur >= int64(pm) {
					break
				}
				end := min(cur+min(max((int64(pm)-cur)/int64(2*t.threads), gemmMinClaim), int64(k.mc/mr)), int64(pm))
				if !next.CompareAndSwap(cur, end) {
					continue
				}
				ic := int(cur) * mr
				mb := min(int(end)*mr, o.m) - ic
				w.macroKernel(o.blockA(w, ic, mb, pc, kb), mb, nb, kb, bp, o.c[ic*o.ldc+jc:], o.ldc, beta)
			}
		}
	}
}

// barrier makes n goroutines wait for each other, again and again. It spins, yielding the
// processor, rather than parking the goroutine: the threads of a GEMM reach it within
// microseconds of each other, and waking a parked goroutine takes longer.
type barrier struct {
	n       int32
	arrived atomic.Int32
	phase   atomic.Uint32
}

// wait returns when all n goroutines have called it. The last to arrive calls last first, before
// any of them returns.
func (b *barrier) wait(last func()) {
	if b.n <= 1 {
		last()
		return
	}
	phase := b.phase.Load()
	if b.arrived.Add(1) == b.n {
		last()
		b.arrived.Store(0)
		b.phase.Add(1)
		return
	}
	for spin := 0; b.phase.Load() == phase; spin++ {
		if spin >= 64 {
			runtime.Gosched()
		}
	}
}

// blockA returns the packed block alpha * op(A)[i0:i0+mb, p0:p0+kb], i0 a multiple of mr: a
// piece of o.packed when A comes packed, else packed into w.a.
func (o *gemmOp) blockA(w *gemmWork, i0, mb, p0, kb int) []float32 {
	if o.packed != nil {
		return o.packed[roundUp(o.m, w.k.mr)*p0+i0*kb:][:roundUp(mb, w.k.mr)*kb]
	}
	o.packA(w.a, &w.k, i0, mb, p0, kb)
	return w.a
}

// prepackedSize is the length of alpha*op(A) packed by prepackA for kernel k.
func (o *gemmOp) prepackedSize(k microKernel) int { return roundUp(o.m, k.mr) * o.k }

// prepackA packs alpha*op(A) whole into dst (prepackedSize long), in the order every GEMM with
// this A and kernel k reads it: for each slice of depth gemmDepth, the micro-panels of all rows,
// so that the block of rows [i0, ...) of the slice at depth p0 starts at roundUp(m, mr)*p0 +
// i0*kb. The rows' panels are split over b's threads. o then reads A from dst: for a GEMM with
// one A and many Bs (a convolution's filters and its images), A is packed once instead of once
// per GEMM.
func (o *gemmOp) prepackA(b *Backend, k microKernel, dst []float32) {
	o.packed = dst[:o.prepackedSize(k)]
	if o.k == 0 {
		return // nothing to pack: the GEMM only scales C
	}
	kc, mp := gemmDepth(o.k, k), roundUp(o.m, k.mr)
	panels := mp / k.mr
	b.parallelFor(panels, k.mr*o.k, func(lo, hi int) {
		i0, mb := lo*k.mr, min(hi*k.mr, o.m)-lo*k.mr
		for pc := 0; pc < o.k; pc += kc {
			kb := min(kc, o.k-pc)
			o.packA(dst[mp*pc+i0*kb:], &k, i0, mb, pc, kb)
		}
	})
}

// packA packs alpha * op(A)[i0:i0+mb, p0:p0+kb] into dst as micro-panels of mr rows, each stored
// column by column (kb columns of mr values), the last one padded with zero rows.
func (o *gemmOp) packA(dst []float32, k *microKernel, i0, mb, p0, kb int) {
	alpha, mr := o.alpha, k.mr
	for ir := 0; ir < mb; ir += mr {
		panel := dst[ir*kb : (ir+mr)*kb]
		rows := min(mr, mb-ir)
		if o.transA {
			// op(A)[i][p] = a[p*lda+i]: each column of the panel is a contiguous run of A.
			if k.packAT6 != nil && rows == mr && mr%6 == 0 {
				a := o.a[p0*o.lda+i0+ir:]
				for i := 0; i < mr; i += 6 {
					k.packAT6(kb, a[i:], o.lda, panel[i:], mr, alpha)
				}
				continue
			}
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
		// op(A)[i][p] = a[i*lda+p]: each row of the panel is a contiguous run of A, read
		// six or three rows at a time.
		a := o.a[(i0+ir)*o.lda+p0:]
		i := 0
		for ; k.packA6 != nil && i+6 <= rows; i += 6 {
			k.packA6(kb, a[i*o.lda:], o.lda, panel[i:], mr, alpha)
		}
		for ; i+3 <= rows; i += 3 {
			packRows3(panel[i:], mr, a[i*o.lda:][:kb], a[(i+1)*o.lda:][:kb], a[(i+2)*o.lda:][:kb], alpha)
		}
		for ; i < rows; i++ {
			for p, v := range a[i*o.lda:][:kb] {
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

// packRows3 writes alpha times the rows r0, r1, r2 (of equal length) into columns 0-2 of d, a
// panel with row stride mr.
func packRows3(d []float32, mr int, r0, r1, r2 []float32, alpha float32) {
	r1, r2 = r1[:len(r0)], r2[:len(r0)]
	for p, v := range r0 {
		q := d[p*mr : p*mr+3 : p*mr+3]
		q[0], q[1], q[2] = alpha*v, alpha*r1[p], alpha*r2[p]
	}
}

// packB packs op(B)[p0:p0+kb, j0:j0+nb] into dst as micro-panels of nr columns, each stored row
// by row (kb rows of nr values), the last one padded with zero columns.
func (o *gemmOp) packB(dst []float32, k *microKernel, p0, kb, j0, nb int) {
	nr := k.nr
	if !o.transB && k.packB != nil && nb >= nr {
		// The whole micro-panels in one go, row by row; the partial one below.
		full := nb / nr
		k.packB(kb, full, o.b[p0*o.ldb+j0:], o.ldb, dst)
		dst, j0, nb = dst[full*nr*kb:], j0+full*nr, nb-full*nr
	}
	for jr := 0; jr < nb; jr += nr {
		panel := dst[jr*kb : (jr+nr)*kb]
		cols := min(nr, nb-jr)
		if !o.transB {
			// op(B)[p][j] = b[p*ldb+j]: each row of the panel is a contiguous run of B.
			b := o.b[p0*o.ldb+j0+jr:]
			for p := range kb {
				d := panel[p*nr : p*nr+nr]
				copy(d, b[p*o.ldb:][:cols])
				clear(d[cols:])
			}
			continue
		}
		// op(B)[p][j] = b[j*ldb+p]: each column of the panel is a contiguous run of B. Eight
		// columns at a time go through an 8x8 transpose in registers where the kernel has one.
		j8 := 0
		if k.packBT8 != nil {
			if kb8 := kb &^ 7; kb8 > 0 {
				for ; j8+8 <= cols; j8 += 8 {
					k.packBT8(kb8, o.b[(j0+jr+j8)*o.ldb+p0:], o.ldb, panel[j8:], nr)
				}
				for j := range j8 { // the rows of the depth's tail
					src := o.b[(j0+jr+j)*o.ldb+p0:][:kb]
					for p := kb8; p < kb; p++ {
						panel[p*nr+j] = src[p]
					}
				}
			}
		}
		for j := j8; j < cols; j++ {
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

// macroKernel multiplies the packed block of A in w (mb x kb) by the packed micro-panels of B in
// bp (kb x nb) into C: C = A*B + beta*C. Whole tiles go straight to C; edge tiles are computed in
// w.tile and only their valid part is merged, so the micro-kernel never needs to know about edges.
func (w *gemmWork) macroKernel(ap []float32, mb, nb, kb int, bp []float32, c []float32, ldc int, beta float32) {
	mr, nr, fn := w.k.mr, w.k.nr, w.k.fn
	for jr := 0; jr < nb; jr += nr {
		b := bp[jr*kb : (jr+nr)*kb]
		cols := min(nr, nb-jr)
		for ir := 0; ir < mb; ir += mr {
			a := ap[ir*kb : (ir+mr)*kb]
			rows := min(mr, mb-ir)
			if rows == mr && cols == nr {
				fn(kb, a, b, c[ir*ldc+jr:], ldc, beta)
				continue
			}
			fn(kb, a, b, w.tile, nr, 0)
			for i := range rows {
				dst := c[(ir+i)*ldc+jr:][:cols]
				src := w.tile[i*nr:][:cols]
				switch beta {
				case 0:
					copy(dst, src)
				case 1:
					for j, v := range src {
						dst[j] += v
					}
				default:
					for j, v := range src {
						dst[j] = beta*dst[j] + v
					}
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
func kernel4x8(kc int, a, b, c []float32, ldc int, beta float32) {
	for i := 0; i < goMR; i += 2 {
		for j := 0; j < goNR; j += 4 {
			kernel2x4(kc, a, b, i, j, c[i*ldc+j:], ldc, beta)
		}
	}
}

// kernel2x4 computes rows i, i+1 and columns j to j+3 of the packed product (strides goMR and
// goNR) into c.
func kernel2x4(kc int, a, b []float32, i, j int, c []float32, ldc int, beta float32) {
	var c00, c01, c02, c03, c10, c11, c12, c13 float32
	for p := range kc {
		// Three-index slices of constant length let the compiler drop the per-element bounds checks.
		ap := a[p*goMR+i : p*goMR+i+2 : p*goMR+i+2]
		bp := b[p*goNR+j : p*goNR+j+4 : p*goNR+j+4]
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
	r0, r1 := c[:4:4], c[ldc:ldc+4:ldc+4]
	if beta != 0 {
		c00 += beta * r0[0]
		c01 += beta * r0[1]
		c02 += beta * r0[2]
		c03 += beta * r0[3]
		c10 += beta * r1[0]
		c11 += beta * r1[1]
		c12 += beta * r1[2]
		c13 += beta * r1[3]
	}
	r0[0], r0[1], r0[2], r0[3] = c00, c01, c02, c03
	r1[0], r1[1], r1[2], r1[3] = c10, c11, c12, c13
}
