package opstest

import (
	"bytes"
	"math"
	"testing"

	"github.com/resnext/resnext/ops"
)

var allDTypes = []ops.DType{ops.Float32, ops.Float16, ops.BFloat16, ops.Int32, ops.Int64, ops.Uint8, ops.Bool}

// randBytes returns the bytes of n random elements of dt (Bool elements are 0 or 1; floating-point
// elements are finite, so no backend has a reason to touch them).
func (e *env) randBytes(dt ops.DType, n int) []byte {
	switch dt {
	case ops.Bool:
		out := make([]byte, n)
		for i := range out {
			out[i] = byte(e.rng.IntN(2))
		}
		return out
	case ops.Float32, ops.Float16, ops.BFloat16:
		out := make([]byte, 0, n*dt.Size())
		for _, v := range e.randnScaled(n, 0, 10) {
			var raw uint64
			switch dt {
			case ops.Float32:
				raw = uint64(math.Float32bits(v))
			case ops.Float16:
				raw = uint64(ops.Float16Bits(v))
			default:
				raw = uint64(ops.BFloat16Bits(v))
			}
			out = append(out, encode(dt, []uint64{raw})...)
		}
		return out
	}
	out := make([]byte, n*dt.Size())
	for i := range out {
		out[i] = byte(e.rng.Uint32())
	}
	return out
}

// sameBytes reports the first difference between got and want.
func (e *env) sameBytes(what string, got, want []byte) {
	e.t.Helper()
	if bytes.Equal(got, want) {
		return
	}
	if len(got) != len(want) {
		e.t.Errorf("%s: %d bytes, want %d", what, len(got), len(want))
		return
	}
	for i := range got {
		if got[i] != want[i] {
			e.t.Errorf("%s: byte %d is %#x, want %#x", what, i, got[i], want[i])
			return
		}
	}
}

var memShapes = []ops.Shape{{}, {1}, {3, 5, 7}, {2, 3, 4, 5}}

func testMemory(t *testing.T, b ops.Backend) {
	for _, dt := range allDTypes {
		for _, shape := range memShapes {
			run(t, b, "write_read/"+dt.String()+"/"+dims(shape), func(e *env) {
				x := e.alloc(dt, shape)
				if got := x.Shape(); !got.Equal(shape) || x.DType() != dt {
					e.t.Errorf("Alloc(%v, %v) gave a tensor %v %v", dt, shape, x.DType(), got)
				}
				data := e.randBytes(dt, shape.Numel())
				b.Write(x, data)
				e.sameBytes("read", e.readBytes(x), data)
				e.sync()
			})
		}
		run(t, b, "copy/"+dt.String(), func(e *env) {
			shape := ops.Shape{4, 33}
			data := e.randBytes(dt, shape.Numel())
			src, dst := e.alloc(dt, shape), e.alloc(dt, shape)
			b.Write(src, data)
			b.Write(dst, e.randBytes(dt, shape.Numel()))
			b.Copy(src, dst)
			e.sameBytes("dst", e.readBytes(dst), data)
			e.sameBytes("src", e.readBytes(src), data)
			e.sync()
		})
	}
	run(t, b, "write_read_large_float32", func(e *env) {
		shape := ops.Shape{100003}
		x := e.randn(shape.Numel())
		e.exact("read", e.read(e.tensor(shape, x)), f64(x))
	})
	run(t, b, "live_tensors_do_not_share_memory", func(e *env) {
		shape := ops.Shape{64}
		ts := make([]ops.Tensor, 8)
		data := make([][]byte, len(ts))
		for i := range ts {
			ts[i] = e.alloc(ops.Float32, shape)
			data[i] = e.randBytes(ops.Float32, shape.Numel())
			b.Write(ts[i], data[i])
		}
		for i, x := range ts {
			e.sameBytes("tensor", e.readBytes(x), data[i])
		}
	})
	run(t, b, "free_then_reuse", func(e *env) {
		// Alloc and Free in the pattern of a training step: the pool hands buffers back, and each
		// new tensor holds exactly what was last written to it.
		for i := range 50 {
			shape := ops.Shape{1 + i%7, 1 + i%5, 3}
			dt := allDTypes[i%len(allDTypes)]
			keep := e.alloc(dt, shape)
			keepData := e.randBytes(dt, shape.Numel())
			b.Write(keep, keepData)
			x := e.alloc(dt, shape)
			data := e.randBytes(dt, shape.Numel())
			b.Write(x, data)
			e.sameBytes("new tensor", e.readBytes(x), data)
			e.free(x)
			y := e.alloc(dt, shape)
			b.Fill(y, 1)
			e.sameBytes("tensor kept across a Free", e.readBytes(keep), keepData)
			e.free(keep, y)
		}
		e.sync()
	})
	for _, c := range fillCases {
		run(t, b, "fill/"+c.name, func(e *env) {
			shape := ops.Shape{3, 37}
			x := e.alloc(c.dt, shape)
			b.Write(x, e.randBytes(c.dt, shape.Numel()))
			b.Fill(x, c.v)
			for i, got := range decode(c.dt, e.readBytes(x)) {
				ok := got == c.want
				if isNaN(c.dt, c.want) {
					ok = isNaN(c.dt, got)
				}
				if !ok {
					e.t.Fatalf("Fill(%v, %v): element %d is %s, want %s", c.dt, c.v, i, rawString(c.dt, got), rawString(c.dt, c.want))
				}
			}
			e.sync()
		})
	}
}

// fillCases give the raw element Fill must write.
var fillCases = []struct {
	name string
	dt   ops.DType
	v    float64
	want uint64
}{
	{"float32_1.5", ops.Float32, 1.5, 0x3FC00000},
	{"float32_-0.1", ops.Float32, -0.1, 0xBDCCCCCD},
	{"float32_nan", ops.Float32, math.NaN(), 0x7FC00000},
	{"float16_0.1", ops.Float16, 0.1, 0x2E66},
	{"float16_-2", ops.Float16, -2, 0xC000},
	{"float16_nan", ops.Float16, math.NaN(), 0x7E00},
	{"bfloat16_0.1", ops.BFloat16, 0.1, 0x3DCD},
	{"bfloat16_1", ops.BFloat16, 1, 0x3F80},
	{"int32_-3", ops.Int32, -3, uint64(0xffffffff_fffffffd)},
	{"int32_123456", ops.Int32, 123456, 123456},
	{"int64_2^40", ops.Int64, 1 << 40, 1 << 40},
	{"uint8_200", ops.Uint8, 200, 200},
	{"bool_1", ops.Bool, 1, 1},
	{"bool_0", ops.Bool, 0, 0},
}

// testSync checks that a backend with nothing wrong reports no error. A failing runtime (the sticky
// error that Sync and Read must return once a device operation fails) cannot be provoked through
// the interface alone; each backend tests that with its own means (a fault-injecting runtime).
func testSync(t *testing.T, b ops.Backend) {
	run(t, b, "nil_after_work", func(e *env) {
		shape := ops.Shape{4, 9}
		x, y := e.tensor(shape, e.randn(36)), e.out(shape)
		b.Copy(x, y)
		b.Fill(x, 2)
		if err := b.Sync(); err != nil {
			e.t.Errorf("Sync: %v", err)
		}
		if err := b.Read(y, make([]byte, 36*4)); err != nil {
			e.t.Errorf("Read: %v", err)
		}
		if err := b.Sync(); err != nil {
			e.t.Errorf("second Sync: %v", err)
		}
	})
	run(t, b, "name_and_device", func(e *env) {
		if b.Name() == "" || b.Device() == "" {
			e.t.Errorf("Name %q and Device %q must not be empty", b.Name(), b.Device())
		}
	})
	run(t, b, "nil_with_nothing_queued", func(e *env) {
		if err := b.Sync(); err != nil {
			e.t.Errorf("Sync: %v", err)
		}
	})
	run(t, b, "nil_after_recovered_misuse", func(e *env) {
		// Misuse panics before any work is queued: it is not a runtime error and must not stick.
		x := e.tensor(ops.Shape{3}, []float32{1, 2, 3})
		catch(func() { b.Scale(x, e.out(ops.Shape{4}), 2) })
		if err := b.Sync(); err != nil {
			e.t.Errorf("Sync after a recovered misuse panic: %v", err)
		}
	})
}
