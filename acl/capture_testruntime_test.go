//go:build cgo

package acl

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/resnext/resnext/acl/testruntime"
)

// captureSoCs are the chips TestCapture runs as: the first-generation 910, which has no graph
// capture, and a 910B, which has. A process has one chip (the test runtime reads
// RESNEXT_TESTRT_SOC once), so the test runs here as the chip this process has and again, in a
// child process of the test binary, as each other one.
var captureSoCs = []string{"Ascend910A", "Ascend910B1"}

// envCaptureChild marks the child processes of TestCapture.
const envCaptureChild = "RESNEXT_TEST_CAPTURE_CHILD"

// TestCapture: on a 910B, a memcpy-async into a tensor, an Add and a Relu with a repeatable executor
// captured into a graph (nothing runs), then replayed three times with new input copied in between
// replays, each result checked, and a graph destroyed with a replay queued; on the first-generation
// 910, BeginCapture fails with ACL_ERROR_RT_FEATURE_NOT_SUPPORT (not a contract violation: the
// runtime aborts the test on any).
func TestCapture(t *testing.T) {
	t.Setenv("RESNEXT_TESTRT_ABORT", "1")
	l, err := LoadDir(testruntime.Build(t))
	if err != nil {
		t.Fatal(err)
	}
	if !l.CanCapture() {
		t.Fatal("the test runtime has the capture symbols, CanCapture says not")
	}
	if err := l.Init(); err != nil {
		t.Fatal(err)
	}
	d, err := l.OpenDevice(0)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	s, err := d.NewStream()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Destroy()
	soc := l.SocName()
	t.Logf("as %s", soc)
	// The first generation: Ascend910A, ..., and "Ascend910B" without a digit.
	firstGen := !strings.HasPrefix(soc, "Ascend910_93") &&
		!(strings.HasPrefix(soc, "Ascend910B") && len(soc) > 10 && soc[10] >= '0' && soc[10] <= '9')
	if firstGen {
		err := s.BeginCapture(CaptureGlobal)
		var ae *Error
		if !errors.As(err, &ae) || ae.Code != ErrRTFeatureNotSupport || ae.Call != "aclmdlRICaptureBegin" ||
			!strings.Contains(ae.Msg, "not supported on "+soc) ||
			!strings.Contains(err.Error(), "ACL_ERROR_RT_FEATURE_NOT_SUPPORT (207000)") {
			t.Errorf("BeginCapture on the first-generation 910: %v", err)
		}
	} else {
		testCaptureReplay(t, l, d, s)
	}

	if os.Getenv(envCaptureChild) != "" {
		return
	}
	for _, other := range captureSoCs {
		if other == soc {
			continue
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestCapture$", "-test.v")
		cmd.Env = append(os.Environ(), envCaptureChild+"=1", "RESNEXT_TESTRT_SOC="+other)
		if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "--- PASS: TestCapture") {
			t.Errorf("TestCapture as %s: %v\n%s", other, err, out)
		}
	}
}

func testCaptureReplay(t *testing.T, l *Lib, d *Device, s *Stream) {
	const n = 4
	bias := []float32{10, -20, 30, -40}
	pinned, err := d.MallocHost(4 * n)
	if err != nil {
		t.Fatal(err)
	}
	defer d.FreeHost(pinned)
	mem := make([]Ptr, 5)
	for i := range mem {
		if mem[i], err = d.Malloc(4 * n); err != nil {
			t.Fatal(err)
		}
	}
	src, x, b, y, z := mem[0], mem[1], mem[2], mem[3], mem[4]
	if err := d.CopyToDevice(b, f32bytes(bias...)); err != nil {
		t.Fatal(err)
	}
	var tensors []*Tensor
	tensor := func(p Ptr) *Tensor {
		tt, err := l.NewTensor(Float32, []int64{n}, p)
		if err != nil {
			t.Fatal(err)
		}
		tensors = append(tensors, tt)
		return tt
	}
	tx, tb, ty, tz := tensor(x), tensor(b), tensor(y), tensor(z)
	alpha, err := l.NewScalarFloat32(1)
	if err != nil {
		t.Fatal(err)
	}
	add, err := d.PrepareAdd(tx, tb, alpha, ty)
	if err != nil {
		t.Fatal(err)
	}
	relu, err := d.PrepareRelu(ty, tz)
	if err != nil {
		t.Fatal(err)
	}
	if err := relu.SetRepeatable(); err != nil {
		t.Fatal(err)
	}
	// The workspace is allocated before the capture and kept until the graph is destroyed.
	ws, err := d.Malloc(max(add.WorkspaceSize(), relu.WorkspaceSize(), 512))
	if err != nil {
		t.Fatal(err)
	}

	if err := s.BeginCapture(CaptureGlobal); err != nil {
		t.Fatal(err)
	}
	if err := s.MemcpyAsync(x, src, 4*n, DeviceToDevice); err != nil {
		t.Fatal(err)
	}
	if err := add.Launch(s, ws); err != nil {
		t.Fatal(err)
	}
	if err := relu.Launch(s, ws); err != nil {
		t.Fatal(err)
	}
	g, err := s.EndCapture()
	if err != nil {
		t.Fatal(err)
	}
	// Captured, not run: z still holds the runtime's fill of fresh memory.
	if err := s.Synchronize(); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 4*n)
	if err := d.CopyToHost(got, z); err != nil {
		t.Fatal(err)
	}
	if string(got) != strings.Repeat("\xff", 4*n) {
		t.Errorf("the captured work ran at capture: z = %v", got)
	}

	replay := func(in ...float32) {
		t.Helper()
		copy(HostBytes(pinned, 4*n), f32bytes(in...))
		if err := s.MemcpyAsync(src, pinned, 4*n, HostToDevice); err != nil {
			t.Fatal(err)
		}
		if err := g.Launch(s); err != nil {
			t.Fatal(err)
		}
	}
	check := func(in ...float32) {
		t.Helper()
		if err := s.Synchronize(); err != nil {
			t.Fatal(err)
		}
		if err := d.CopyToHost(got, z); err != nil {
			t.Fatal(err)
		}
		want := make([]float32, n)
		for i := range want {
			want[i] = max(in[i]+bias[i], 0)
		}
		if string(got) != string(f32bytes(want...)) {
			t.Errorf("replay of %v: got %v, want %v", in, got, f32bytes(want...))
		}
	}
	for _, in := range [][]float32{{1, 2, 3, 4}, {-11, 25, -31, 39}, {0.5, 19.5, -30, 100}} {
		replay(in...)
		check(in...)
	}
	// Destroying the graph with a replay queued: the replay still runs.
	replay(-10, 21, -29, 41)
	if err := g.Destroy(); err != nil {
		t.Fatal(err)
	}
	check(-10, 21, -29, 41)
	if err := g.Destroy(); err != nil {
		t.Errorf("a second Destroy: %v", err)
	}
	if err := (*Graph)(nil).Destroy(); err != nil {
		t.Errorf("Destroy of a nil Graph: %v", err)
	}
	if err := g.Launch(s); err == nil || !strings.Contains(err.Error(), "destroyed") {
		t.Errorf("Launch of a destroyed graph: %v", err)
	}

	// The default stream cannot be captured; the binding refuses it without a call.
	var none *Stream
	if err := none.BeginCapture(CaptureGlobal); err == nil || !strings.Contains(err.Error(), "default stream") {
		t.Errorf("BeginCapture of the default stream: %v", err)
	}

	if err := relu.Destroy(); err != nil {
		t.Error(err)
	}
	for _, tt := range tensors {
		if err := tt.Destroy(); err != nil {
			t.Error(err)
		}
	}
	if err := alpha.Destroy(); err != nil {
		t.Error(err)
	}
	for _, p := range append(mem, ws) {
		if err := d.Free(p); err != nil {
			t.Error(err)
		}
	}
}

// Without the capture symbols (CANN 8.0.RC2), each call fails with an error wrapping ErrUnsupported
// that names its symbol, before any C call.
func TestCaptureUnsupported(t *testing.T) {
	l := &Lib{optional: map[string]bool{}}
	for _, name := range []string{symCaptureBegin, symCaptureEnd, symGraphLaunch, symGraphDestroy} {
		l.optional[name] = false
	}
	if l.CanCapture() {
		t.Error("CanCapture without the symbols")
	}
	d := &Device{ctx: Context{lib: l}}
	s := &Stream{dev: d}
	g := &Graph{dev: d}
	_, endErr := s.EndCapture()
	for name, err := range map[string]error{
		symCaptureBegin: s.BeginCapture(CaptureRelaxed),
		symCaptureEnd:   endErr,
		symGraphLaunch:  g.Launch(s),
	} {
		if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
