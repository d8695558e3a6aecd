//go:build cgo

package acl

import (
	"encoding/binary"
	"errors"
	"math"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/resnext/resnext/acl/testruntime"
)

func f32bytes(v ...float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

// TestWithTestRuntime drives the whole binding through the project's contract-checking test
// runtime (acl/testruntime): loading by CANN's library names, device, contexts, streams, events,
// memory, tensors, scalars and the two-phase calls of Add, Muls, Relu and Cast with their values
// checked, repeatable executors rebound to new addresses, the training kernels (testNNOps), the
// pooling, reduction, matrix, loss and in-place operators (testOps2), and the error path of a bad
// call. With RESNEXT_TESTRT_ABORT=1 the runtime aborts the test on any broken call.
func TestWithTestRuntime(t *testing.T) {
	t.Setenv("RESNEXT_TESTRT_ABORT", "1")
	l, err := LoadDir(testruntime.Build(t))
	if err != nil {
		t.Fatal(err)
	}
	if !l.CanReuseExecutors() || !l.Has("aclnnAdd") {
		t.Fatal("the test runtime's symbols are misreported")
	}
	if err := l.Init(); err != nil {
		t.Fatal(err)
	}
	if n, err := l.DeviceCount(); err != nil || n < 1 {
		t.Fatalf("DeviceCount %d %v", n, err)
	}
	d, err := l.OpenDevice(0)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	// Another context made current on this thread must not confuse the device's calls.
	other, err := l.CreateContext(0)
	if err != nil {
		t.Fatal(err)
	}
	s, err := d.NewStream()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Destroy()

	const n = 4
	x, _ := d.Malloc(4 * n)
	y, _ := d.Malloc(4 * n)
	out, _ := d.Malloc(4 * n)
	out2, _ := d.Malloc(4 * n)
	if err := d.CopyToDevice(x, f32bytes(1, -2, 3, -4)); err != nil {
		t.Fatal(err)
	}
	if err := d.CopyToDevice(y, f32bytes(10, 20, 30, 40)); err != nil {
		t.Fatal(err)
	}
	tx, _ := l.NewTensor(Float32, []int64{2, 2}, x)
	ty, _ := l.NewTensor(Float32, []int64{2, 2}, y)
	to, err := l.NewTensor(Float32, []int64{2, 2}, out)
	if err != nil {
		t.Fatal(err)
	}
	alpha, err := l.NewScalarFloat32(0.5)
	if err != nil {
		t.Fatal(err)
	}
	ws := NewStreamWorkspace(d)
	check := func(op string, p Ptr, want ...float32) {
		t.Helper()
		if err := s.Synchronize(); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, 4*n)
		if err := d.CopyToHost(got, p); err != nil {
			t.Fatal(err)
		}
		if string(got) != string(f32bytes(want...)) {
			t.Errorf("%s: got %v, want %v", op, got, f32bytes(want...))
		}
	}
	if err := other.SetCurrent(); err != nil {
		t.Fatal(err)
	}
	if err := d.Add(s, ws, tx, ty, alpha, to); err != nil {
		t.Fatal(err)
	}
	check("Add", out, 6, 8, 18, 16)
	if err := d.Muls(s, ws, tx, alpha, to); err != nil {
		t.Fatal(err)
	}
	check("Muls", out, 0.5, -1, 1.5, -2)
	if err := d.Relu(s, ws, tx, to); err != nil {
		t.Fatal(err)
	}
	check("Relu", out, 1, 0, 3, 0)

	// A repeatable executor, launched again with its output rebound.
	e, err := d.PrepareCast(tx, Float32, to)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.SetRepeatable(); err != nil {
		t.Fatal(err)
	}
	if err := e.Run(s, ws); err != nil {
		t.Fatal(err)
	}
	check("Cast", out, 1, -2, 3, -4)
	if err := e.SetOutputAddr(0, to, out2); err != nil {
		t.Fatal(err)
	}
	if err := e.Run(s, ws); err != nil {
		t.Fatal(err)
	}
	check("Cast rebound", out2, 1, -2, 3, -4)
	if err := e.Destroy(); err != nil {
		t.Fatal(err)
	}
	ws.Release()

	testNNOps(t, l, d, s)
	testOps2(t, l, d, s)

	// A bad call comes back as an *Error naming the op and the phase.
	t.Setenv("RESNEXT_TESTRT_ABORT", "")
	err = d.Add(s, nil, nil, ty, alpha, to)
	var ae *Error
	if !errors.As(err, &ae) || ae.Op != "aclnnAdd" || ae.Call != "aclnnAddGetWorkspaceSize" || ae.Code == 0 {
		t.Errorf("Add with a null tensor: %v", err)
	}

	// Device memory comes 512-byte aligned; a device-to-device copy needs both addresses 64-byte
	// aligned, as CANN's does.
	for _, p := range []Ptr{x, y, out, out2} {
		if p%512 != 0 {
			t.Errorf("aclrtMalloc gave %#x, not 512-byte aligned", p)
		}
	}
	big, _ := d.Malloc(1024)
	if err := s.MemcpyAsync(big, big+512, 64, DeviceToDevice); err != nil {
		t.Errorf("an aligned device-to-device copy: %v", err)
	}
	err = s.MemcpyAsync(big+32, big+512, 64, DeviceToDevice)
	if !errors.As(err, &ae) || !strings.Contains(ae.Error(), "64-byte aligned") {
		t.Errorf("a device-to-device copy to a 32-byte-aligned address: %v", err)
	}
	if err := s.Synchronize(); err != nil {
		t.Fatal(err)
	}
	if err := d.Free(big); err != nil {
		t.Error(err)
	}

	for _, o := range []interface{ Destroy() error }{tx, ty, to, alpha} {
		if err := o.Destroy(); err != nil {
			t.Error(err)
		}
	}
	for _, p := range []Ptr{x, y, out, out2} {
		if err := d.Free(p); err != nil {
			t.Error(err)
		}
	}
	if err := other.Destroy(); err != nil {
		t.Fatal(err)
	}
	// The destroyed context was current on this thread; the device's calls must set theirs again.
	if err := d.Synchronize(); err != nil {
		t.Fatalf("after destroying another context: %v", err)
	}
}

// aclInit once per process, aclFinalize once before it ends: Init after Finalize is refused by
// the binding, and a second aclInit after aclFinalize by the test runtime (as CANN does not
// support it). It runs in its own process, since finalising ends the runtime for the process.
func TestInitAfterFinalize(t *testing.T) {
	if os.Getenv("RESNEXT_TEST_FINALIZE") != "1" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestInitAfterFinalize$", "-test.v")
		cmd.Env = append(os.Environ(), "RESNEXT_TEST_FINALIZE=1", "RESNEXT_TESTRT_ABORT=")
		if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "--- PASS: TestInitAfterFinalize") {
			t.Fatalf("%v\n%s", err, out)
		}
		return
	}
	dir := testruntime.Build(t)
	l, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Init(); err != nil {
		t.Fatal(err)
	}
	if err := l.Finalize(); err != nil {
		t.Fatal(err)
	}
	if err := l.Finalize(); err != nil {
		t.Errorf("a second Finalize: %v", err)
	}
	if err := l.Init(); err == nil || !strings.Contains(err.Error(), "aclInit after aclFinalize") {
		t.Errorf("Init after Finalize: %v", err)
	}
	// Another Lib over the same runtime reaches aclInit itself: the runtime refuses it.
	other, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	err = other.Init()
	if err == nil || !strings.Contains(err.Error(), "aclInit after aclFinalize") {
		t.Errorf("the test runtime accepted aclInit after aclFinalize: %v", err)
	}
}
