package dist

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/resnext/resnext/acl"
	"github.com/resnext/resnext/acl/testruntime"
	"github.com/resnext/resnext/dist/launch"
	"github.com/resnext/resnext/dist/rendezvous"
	"github.com/resnext/resnext/ops"
	"github.com/resnext/resnext/ops/ascend"
)

// JoinHCCL with the Ascend backend on the test runtime (acl/testruntime), one process per rank:
// the test re-runs its binary as TestHCCLRankProcess once per rank, each opening its own backend,
// meeting the others through a scheduler the test runs, and printing what its tensors hold at the
// end ("OK <hex>") or its error ("ERR <error>").

const (
	envDistHCCLRank = "RESNEXT_TEST_DIST_HCCL_RANK"
	envDistHCCLSize = "RESNEXT_TEST_DIST_HCCL_SIZE"
	envDistHCCLAddr = "RESNEXT_TEST_DIST_HCCL_SCHEDULER"
	envDistHCCLRT   = "RESNEXT_TEST_DIST_HCCL_RUNTIME"
)

// openAscend opens a backend on device 0 of the test runtime in dir.
func openAscend(dir string) (ops.Backend, error) {
	lib, err := acl.LoadDir(dir)
	if err != nil {
		return nil, err
	}
	return ascend.New(ascend.Options{Device: 0, Lib: lib})
}

// hcclEnv is rank's view of a job whose scheduler is at addr.
func hcclEnv(t testing.TB, addr string, rank, size int, timeout time.Duration) launch.Env {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	return launch.Env{Rank: rank, Size: size, LocalRank: rank, LocalSize: size, MasterAddr: host, MasterPort: p,
		Launcher: "msrun", ClusterTimeout: timeout}
}

// TestHCCLRankProcess is one rank of TestJoinHCCL; it does nothing unless run by it.
func TestHCCLRankProcess(t *testing.T) {
	if os.Getenv(envDistHCCLRank) == "" {
		t.Skip("a rank of TestJoinHCCL")
	}
	rank, _ := strconv.Atoi(os.Getenv(envDistHCCLRank))
	size, _ := strconv.Atoi(os.Getenv(envDistHCCLSize))
	out, err := hcclRank(t, rank, size)
	if err != nil {
		fmt.Printf("ERR %s\n", strings.ReplaceAll(err.Error(), "\n", " "))
		return
	}
	fmt.Printf("OK %s\n", hex.EncodeToString(out))
}

// hcclValues are rank's contributions: small multiples of 1/4, exact in float16.
func hcclValues(rank, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32((rank+1)*(i+1)) * 0.25
		if i%2 == 1 {
			v[i] = -v[i]
		}
	}
	return v
}

// hcclRank is one rank: every collective of the Communicator on the backend's tensors, with
// kernels queued between a bucket's start and its wait; it returns the bytes of every tensor.
func hcclRank(t *testing.T, rank, size int) ([]byte, error) {
	b, err := openAscend(os.Getenv(envDistHCCLRT))
	if err != nil {
		return nil, err
	}
	defer b.Close()
	env := hcclEnv(t, os.Getenv(envDistHCCLAddr), rank, size, 10*time.Second)
	c, err := JoinHCCL(context.Background(), b, env, HCCLOptions{})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if c.Rank() != rank || c.Size() != size {
		return nil, fmt.Errorf("communicator says rank %d of %d", c.Rank(), c.Size())
	}
	x := ops.FromFloat32(b, ops.Float32, ops.Shape{2, 3}, hcclValues(rank, 6))
	a := ops.FromFloat32(b, ops.Float32, ops.Shape{5}, hcclValues(rank, 5))
	y := ops.FromFloat32(b, ops.Float32, ops.Shape{3, 2}, hcclValues(rank+1, 6))
	h1 := ops.FromFloat32(b, ops.Float16, ops.Shape{4}, hcclValues(rank, 4))
	h2 := ops.FromFloat32(b, ops.Float16, ops.Shape{2, 3}, hcclValues(rank+2, 6))
	h3 := ops.FromFloat32(b, ops.Float16, ops.Shape{3}, hcclValues(rank, 3))
	z := ops.FromFloat32(b, ops.Float32, ops.Shape{2}, []float32{float32(10 * rank), -1})
	other := b.Alloc(ops.Float32, ops.Shape{4})
	all := []ops.Tensor{x, a, y, h1, h2, h3, z, other}
	steps := []func() error{
		func() error { return c.AllReduce(x, false) },
		func() error { return c.StartAllReduce([]ops.Tensor{a, y}, true) }, // float32 mean, staged
		func() error { b.Fill(other, 7); return nil },                      // compute while it travels
		func() error { return c.StartAllReduce([]ops.Tensor{h1, h2}, false) },
		func() error { return c.StartAllReduce([]ops.Tensor{h3}, true) },
		c.Wait,
		func() error { return c.Broadcast(z, size-1) },
		c.Barrier,
	}
	for i, s := range steps {
		if err := s(); err != nil {
			return nil, fmt.Errorf("step %d: %w", i, err)
		}
	}
	var out []byte
	for _, t := range all {
		buf := make([]byte, t.Shape().Numel()*t.DType().Size())
		if err := b.Read(t, buf); err != nil {
			return nil, err
		}
		out = append(out, buf...)
		b.Free(t)
	}
	return out, nil
}

// hcclExpected is what every rank's tensors hold at the end of hcclRank: sums in rank order,
// means as the sum times float32(1/size) rounded to the type, root size-1's z.
func hcclExpected(size int) []byte {
	sum := func(off, n int) []float64 {
		s := make([]float32, n)
		for r := range size {
			for i, v := range hcclValues(r+off, n) {
				s[i] += v
			}
		}
		d := make([]float64, n)
		for i, v := range s {
			d[i] = float64(v)
		}
		return d
	}
	scale := float64(float32(1 / float64(size)))
	mean := func(v []float64) []float64 {
		m := make([]float64, len(v))
		for i, x := range v {
			m[i] = float64(float32(x * scale))
		}
		return m
	}
	enc := func(dt ops.DType, v []float64) []byte {
		b := make([]byte, 0, len(v)*dt.Size())
		for _, x := range v {
			bits := dt.Encode(x)
			for k := range dt.Size() {
				b = append(b, byte(bits>>(8*k)))
			}
		}
		return b
	}
	var out []byte
	out = append(out, enc(ops.Float32, sum(0, 6))...)
	out = append(out, enc(ops.Float32, mean(sum(0, 5)))...)
	out = append(out, enc(ops.Float32, mean(sum(1, 6)))...)
	out = append(out, enc(ops.Float16, sum(0, 4))...)
	out = append(out, enc(ops.Float16, sum(2, 6))...)
	out = append(out, enc(ops.Float16, mean(sum(0, 3)))...)
	out = append(out, enc(ops.Float32, []float64{float64(10 * (size - 1)), -1})...)
	out = append(out, enc(ops.Float32, []float64{7, 7, 7, 7})...)
	return out
}

// TestJoinHCCL: three processes, each with its own Ascend backend on the test runtime, join
// through a scheduler and all-reduce float32 and float16 tensors (sum and mean, single tensors and
// buckets started together and waited for once, with kernels queued in between), broadcast and
// meet at a barrier; every rank ends with the same bits, the expected ones, and the runtime's
// contract checks abort a rank on any broken call.
func TestJoinHCCL(t *testing.T) {
	const size = 3
	dir := testruntime.Build(t)
	if _, err := acl.LoadDir(dir); errors.Is(err, acl.ErrNoCgo) {
		t.Skip(err)
	}
	s, err := rendezvous.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	outs := make([]string, size)
	var wg sync.WaitGroup
	for r := range size {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHCCLRankProcess$", "-test.v")
			cmd.Env = append(os.Environ(), envDistHCCLRank+"="+strconv.Itoa(r), envDistHCCLSize+"="+strconv.Itoa(size),
				envDistHCCLAddr+"="+s.Addr(), envDistHCCLRT+"="+dir, "RESNEXT_TESTRT_ABORT=1",
				"RESNEXT_TESTRT_HCCL_TIMEOUT_MS=10000")
			out, _ := cmd.CombinedOutput()
			outs[r] = string(out)
		}()
	}
	wg.Wait()
	want := hcclExpected(size)
	for r, out := range outs {
		i := strings.Index(out, "OK ")
		if i < 0 {
			t.Fatalf("rank %d:\n%s", r, out)
		}
		got, _ := hex.DecodeString(strings.Fields(out[i+3:])[0])
		if !bytes.Equal(got, want) {
			t.Errorf("rank %d ends with\n%x\nwant\n%x", r, got, want)
		}
	}
}

// noCollectives has device collectives that are never reached.
type noCollectives struct{ ops.Backend }

func (noCollectives) CollectiveRootInfo() ([]byte, error) { return nil, errors.New("not reached") }
func (noCollectives) NewCollective([]byte, int, int) (ops.Collective, error) {
	return nil, errors.New("not reached")
}
func (noCollectives) NewCollectiveRankTable(string, int) (ops.Collective, error) {
	return nil, errors.New("not reached")
}

// TestJoinHCCLRankMissing: a rank whose peer never starts fails within the cluster timeout with an
// error naming the missing rank, before HCCL is reached.
func TestJoinHCCLRankMissing(t *testing.T) {
	s, err := rendezvous.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	_, err = JoinHCCL(context.Background(), noCollectives{}, hcclEnv(t, s.Addr(), 0, 2, 300*time.Millisecond), HCCLOptions{})
	if err == nil || !strings.Contains(err.Error(), "rank 1 of 2 did not arrive within 300ms") ||
		!strings.Contains(err.Error(), "dist: rank 0 of 2") {
		t.Fatalf("JoinHCCL without rank 1: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v with a 300ms timeout", d)
	}
}

// TestJoinHCCLOptions: a connect timeout HCCL does not take, and a backend that is not Ascend's.
func TestJoinHCCLOptions(t *testing.T) {
	env := launch.Env{Size: 1, MasterAddr: "127.0.0.1", MasterPort: 1}
	_, err := JoinHCCL(context.Background(), nil, env, HCCLOptions{ConnectTimeout: time.Minute})
	if err == nil || !strings.Contains(err.Error(), "from 120 s to 7200 s") {
		t.Errorf("a 1 min connect timeout: %v", err)
	}
	_, err = JoinHCCL(context.Background(), nil, env, HCCLOptions{})
	if err == nil || !strings.Contains(err.Error(), "needs a backend with device collectives (the Ascend one), not nil") {
		t.Errorf("without an Ascend backend: %v", err)
	}
}
