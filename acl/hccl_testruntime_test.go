//go:build cgo

package acl

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/resnext/resnext/acl/testruntime"
)

// The HCCL binding against the test runtime, one process per rank: the test re-runs its own binary
// as TestHCCLWorker once per rank, with the scenario, the rank and the directory of the runtime in
// the environment. Rank 0 writes its root info into a file the others wait for (the out-of-band
// exchange a launcher's rendezvous does). Each worker prints "OK <hex>" with what it read back, or
// "ERR <error>".

const (
	envHCCLScenario = "RESNEXT_TEST_HCCL_SCENARIO"
	envHCCLRank     = "RESNEXT_TEST_HCCL_RANK"
	envHCCLSize     = "RESNEXT_TEST_HCCL_SIZE"
	envHCCLDir      = "RESNEXT_TEST_HCCL_DIR" // the runtime's directory
	envHCCLShared   = "RESNEXT_TEST_HCCL_SHARED"
	envHCCLTable    = "RESNEXT_TEST_HCCL_TABLE" // the rank table of the "ranktable" scenario
)

// The workers' time limits (RESNEXT_TESTRT_HCCL_TIMEOUT_MS): a long one where the ranks must meet
// (process start-up on a loaded machine must not fail a test), a short one where a rank is missing.
const (
	hcclLongTimeout  = "RESNEXT_TESTRT_HCCL_TIMEOUT_MS=20000"
	hcclShortTimeout = "RESNEXT_TESTRT_HCCL_TIMEOUT_MS=1500"
)

type workerResult struct {
	rank int
	out  string // the worker's OK or ERR line, without the word
	ok   bool
	log  string
}

// runRanks runs size workers of scenario and returns their results by rank; env adds variables
// per rank.
func runRanks(t *testing.T, scenario string, size int, env func(rank int) []string) []workerResult {
	t.Helper()
	dir := hcclRuntime(t)
	shared := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res := make([]workerResult, size)
	var wg sync.WaitGroup
	for r := range size {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHCCLWorker$", "-test.v")
			cmd.Env = append(os.Environ(), envHCCLScenario+"="+scenario, envHCCLRank+"="+strconv.Itoa(r),
				envHCCLSize+"="+strconv.Itoa(size), envHCCLDir+"="+dir, envHCCLShared+"="+shared, hcclLongTimeout)
			if env != nil {
				cmd.Env = append(cmd.Env, env(r)...)
			}
			out, _ := cmd.CombinedOutput()
			res[r] = workerResult{rank: r, log: string(out)}
			for _, line := range strings.Split(string(out), "\n") {
				if v, ok := strings.CutPrefix(line, "OK "); ok {
					res[r].out, res[r].ok = v, true
				} else if v, ok := strings.CutPrefix(line, "ERR "); ok {
					res[r].out = v
				}
			}
		}()
	}
	wg.Wait()
	return res
}

var (
	hcclDirOnce sync.Once
	hcclDir     string
	hcclDirErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if hcclDir != "" {
		os.RemoveAll(hcclDir)
	}
	os.Exit(code)
}

// hcclRuntime builds the test runtime once for the HCCL tests of this binary.
func hcclRuntime(t *testing.T) string {
	t.Helper()
	if _, err := testruntime.Compiler(); err != nil {
		t.Skip(err)
	}
	hcclDirOnce.Do(func() {
		hcclDir, hcclDirErr = os.MkdirTemp("", "resnext-hccl-testrt-")
		if hcclDirErr == nil {
			_, hcclDirErr = testruntime.BuildInto(hcclDir)
		}
	})
	if hcclDirErr != nil {
		t.Fatal(hcclDirErr)
	}
	return hcclDir
}

// TestHCCLWorker is one rank of the tests below; it does nothing unless run by them.
func TestHCCLWorker(t *testing.T) {
	scenario := os.Getenv(envHCCLScenario)
	if scenario == "" {
		t.Skip("a worker of the HCCL tests")
	}
	rank, _ := strconv.Atoi(os.Getenv(envHCCLRank))
	size, _ := strconv.Atoi(os.Getenv(envHCCLSize))
	out, err := hcclWorker(scenario, rank, size)
	if err != nil {
		fmt.Printf("ERR %v\n", strings.ReplaceAll(err.Error(), "\n", " "))
		return
	}
	fmt.Printf("OK %s\n", hex.EncodeToString(out))
}

// shareRootInfo makes rank 0's root info and publishes it in the shared directory, or waits for it.
func shareRootInfo(d *Device, rank int) (*RootInfo, error) {
	path := filepath.Join(os.Getenv(envHCCLShared), "root_info")
	if rank == 0 {
		ri, err := d.HCCLRootInfo()
		if err != nil {
			return nil, err
		}
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, ri[:], 0o644); err != nil {
			return nil, err
		}
		return ri, os.Rename(tmp, path)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		b, err := os.ReadFile(path)
		if err == nil && len(b) == RootInfoBytes {
			ri := new(RootInfo)
			copy(ri[:], b)
			return ri, nil
		}
		if time.Now().After(deadline) {
			return nil, errors.New("no root info from rank 0")
		}
	}
}

// The values each rank contributes: n elements, rank-dependent.
func rankValues(rank, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rank+1) * float32(i+1) * 0.25
		if i%3 == 1 {
			v[i] = -v[i]
		}
	}
	return v
}

func halfBytes(v []float32, bf16 bool) []byte {
	b := make([]byte, 2*len(v))
	for i, x := range v {
		var h uint16
		if bf16 {
			h = uint16(math.Float32bits(x) >> 16) // exact for these values
		} else {
			h = float32ToHalf(x)
		}
		binary.LittleEndian.PutUint16(b[2*i:], h)
	}
	return b
}

// float32ToHalf converts the test's values (small multiples of 1/4) exactly.
func float32ToHalf(f float32) uint16 {
	bits := math.Float32bits(f)
	sign := uint16(bits>>16) & 0x8000
	if f == 0 {
		return sign
	}
	exp := int((bits>>23)&0xff) - 127 + 15
	return sign | uint16(exp)<<10 | uint16((bits>>13)&0x3ff)
}

const hcclN = 8

func hcclWorker(scenario string, rank, size int) ([]byte, error) {
	if scenario == "missing" && rank == 1 {
		return nil, errors.New("rank 1 stays away by design")
	}
	l, err := LoadDir(os.Getenv(envHCCLDir))
	if err != nil {
		return nil, err
	}
	if err := l.Init(); err != nil {
		return nil, err
	}
	devID := 0
	if scenario == "ranktable" {
		devID = rank // RESNEXT_TESTRT_DEVICES=size
	}
	d, err := l.OpenDevice(devID)
	if err != nil {
		return nil, err
	}
	var c *Comm
	if scenario == "ranktable" {
		c, err = d.NewCommRankTable(os.Getenv(envHCCLTable), rank)
	} else {
		var ri *RootInfo
		if ri, err = shareRootInfo(d, rank); err == nil {
			c, err = d.NewComm(size, ri, rank)
		}
	}
	if err != nil {
		return nil, err
	}
	if c.Rank() != rank || c.Size() != size {
		return nil, fmt.Errorf("communicator says rank %d of %d", c.Rank(), c.Size())
	}
	compute, err := d.NewStream()
	if err != nil {
		return nil, err
	}
	coll, err := d.NewStream()
	if err != nil {
		return nil, err
	}
	const n = hcclN
	f32, _ := d.Malloc(4 * n)
	f16, _ := d.Malloc(2 * n)
	b16, _ := d.Malloc(2 * n)
	bc, _ := d.Malloc(4 * n)
	vals := rankValues(rank, n)
	if err := d.CopyToDevice(f32, f32bytes(vals...)); err != nil {
		return nil, err
	}
	d.CopyToDevice(f16, halfBytes(vals, false))
	d.CopyToDevice(b16, halfBytes(vals, true))
	d.CopyToDevice(bc, f32bytes(vals...))

	switch scenario {
	case "count":
		count := uint64(n)
		if rank == 1 {
			count = 4
		}
		err = c.AllReduce(f32, f32, count, HCCLFloat32, HCCLSum, coll)
	case "dtype":
		dt := HCCLFloat32
		if rank == 1 {
			dt = HCCLFloat16
		}
		err = c.AllReduce(f32, f32, 4, dt, HCCLSum, coll)
	case "dead":
		if rank == 1 {
			os.Exit(0) // after joining, before the collective
		}
		err = c.AllReduce(f32, f32, n, HCCLFloat32, HCCLSum, coll)
	case "late":
		if rank == 1 {
			time.Sleep(1500 * time.Millisecond) // arrives after rank 0 gave up (HCCL_EXEC_TIMEOUT=1)
		}
		err = c.AllReduce(f32, f32, n, HCCLFloat32, HCCLSum, coll)
	default: // "ok", "ranktable": every collective, on a stream of their own ordered by events
		ready, _ := d.NewEvent()
		done, _ := d.NewEvent()
		steps := []func() error{
			func() error { return ready.Record(compute) },
			func() error { return coll.WaitEvent(ready) },
			func() error { return ready.Reset(coll) },
			func() error { return c.AllReduce(f32, f32, n, HCCLFloat32, HCCLSum, coll) },
			func() error { return c.AllReduce(f16, f16, n, HCCLFloat16, HCCLSum, coll) },
			func() error { return c.AllReduce(b16, b16, n, HCCLBFloat16, HCCLMax, coll) },
			func() error { return c.Broadcast(bc, n, HCCLFloat32, size-1, coll) },
			func() error { return c.Barrier(coll) },
			func() error { return done.Record(coll) },
			func() error { return compute.WaitEvent(done) },
			func() error { return done.Reset(compute) },
		}
		for _, s := range steps {
			if err = s(); err != nil {
				break
			}
		}
	}
	if err == nil {
		// Synchronizing the compute stream runs the collective stream through the wait.
		err = compute.Synchronize()
		if e := coll.Synchronize(); err == nil {
			err = e
		}
	}
	if err != nil {
		return nil, err
	}
	out := make([]byte, 4*n+2*n+2*n+4*n)
	d.CopyToHost(out[:4*n], f32)
	d.CopyToHost(out[4*n:6*n], f16)
	d.CopyToHost(out[6*n:8*n], b16)
	d.CopyToHost(out[8*n:], bc)
	if err := c.Destroy(); err != nil {
		return nil, err
	}
	return out, nil
}

// hcclExpected is what every rank of the "ok" scenario reads back.
func hcclExpected(size int) []byte {
	sum := make([]float32, hcclN)
	max := rankValues(0, hcclN)
	for r := range size {
		for i, v := range rankValues(r, hcclN) {
			sum[i] += v
			if v > max[i] {
				max[i] = v
			}
		}
	}
	var b []byte
	b = append(b, f32bytes(sum...)...)
	b = append(b, halfBytes(sum, false)...)
	b = append(b, halfBytes(max, true)...)
	b = append(b, f32bytes(rankValues(size-1, hcclN)...)...)
	return b
}

func checkSameResults(t *testing.T, res []workerResult, want []byte) {
	t.Helper()
	for _, r := range res {
		if !r.ok {
			t.Fatalf("rank %d: %s\n%s", r.rank, r.out, r.log)
		}
		got, _ := hex.DecodeString(r.out)
		if !bytes.Equal(got, want) {
			t.Errorf("rank %d read back\n%x\nwant\n%x", r.rank, got, want)
		}
	}
}

// TestHCCLCollectives: three processes meet through a root info and all-reduce float32 (sum),
// float16 (sum) and bfloat16 (max), broadcast from the last rank and meet at a barrier, on a stream
// of their own ordered by events; every rank reads back the same bits, the expected ones.
func TestHCCLCollectives(t *testing.T) {
	res := runRanks(t, "ok", 3, func(int) []string { return []string{"RESNEXT_TESTRT_ABORT=1"} })
	checkSameResults(t, res, hcclExpected(3))
}

// TestHCCLRankTable: two processes, one device each (devices 0 and 1), meet through a rank table
// (HcclCommInitClusterInfo), as MindSpore's RANK_TABLE_FILE does.
func TestHCCLRankTable(t *testing.T) {
	table := `{"status": "completed", "version": "1.0", "server_count": "1",
	  "server_list": [{"server_id": "127.0.0.1", "device": [
	    {"device_id": "0", "device_ip": "192.168.100.101", "rank_id": "0"},
	    {"device_id": "1", "device_ip": "192.168.100.102", "rank_id": "1"}]}]}`
	path := filepath.Join(t.TempDir(), "rank_table.json")
	if err := os.WriteFile(path, []byte(table), 0o644); err != nil {
		t.Fatal(err)
	}
	res := runRanks(t, "ranktable", 2, func(int) []string {
		return []string{"RESNEXT_TESTRT_ABORT=1", "RESNEXT_TESTRT_DEVICES=2", envHCCLTable + "=" + path}
	})
	checkSameResults(t, res, hcclExpected(2))
}

// TestHCCLMismatch: ranks that disagree on a collective's count or dtype: the synchronization of
// every rank fails with ACL_ERROR_RT_FFTS_PLUS_EXCEPTION and a message naming both ranks and values,
// and the runtime counts a violation (aborting under RESNEXT_TESTRT_ABORT=1).
func TestHCCLMismatch(t *testing.T) {
	for _, c := range []struct{ scenario, want string }{
		{"count", "rank 0 has count 8, rank 1 has count 4"},
		{"dtype", "rank 0 has dtype fp32, rank 1 has dtype fp16"},
	} {
		t.Run(c.scenario, func(t *testing.T) {
			res := runRanks(t, c.scenario, 2, nil)
			for _, r := range res {
				if r.ok || !strings.Contains(r.out, "ACL_ERROR_RT_FFTS_PLUS_EXCEPTION") || !strings.Contains(r.out, c.want) {
					t.Errorf("rank %d: %s\n%s", r.rank, r.out, r.log)
				}
			}
			res = runRanks(t, c.scenario, 2, func(int) []string { return []string{"RESNEXT_TESTRT_ABORT=1"} })
			for _, r := range res {
				if r.ok || !strings.Contains(r.log, "testrt: contract violation: ") || !strings.Contains(r.log, c.want) {
					t.Errorf("rank %d did not abort: %s\n%s", r.rank, r.out, r.log)
				}
			}
		})
	}
}

// TestHCCLPeerFailures: a rank whose process dies, a rank that arrives after the timeout and a rank
// that never joins: the others fail with an error naming it, within the timeout, and do not hang.
func TestHCCLPeerFailures(t *testing.T) {
	for _, c := range []struct {
		scenario string
		env      []string
		want     string // rank 0's error
	}{
		{"dead", nil, "rank 1 closed its connection"},
		// The meeting under the long limit, the collective under HCCL's own (the override unset).
		{"late", []string{"RESNEXT_TESTRT_HCCL_TIMEOUT_MS=", "HCCL_EXEC_TIMEOUT=1"},
			"rank 1 did not arrive within 1000 ms (HCCL_EXEC_TIMEOUT)"},
		{"missing", []string{hcclShortTimeout}, "rank(s) 1 did not connect within 1500 ms"},
	} {
		t.Run(c.scenario, func(t *testing.T) {
			start := time.Now()
			res := runRanks(t, c.scenario, 2, func(int) []string { return c.env })
			if !strings.Contains(res[0].out, c.want) || res[0].ok {
				t.Errorf("rank 0: %s\n%s", res[0].out, res[0].log)
			}
			if c.scenario == "late" && (!strings.Contains(res[1].out, "rank 0 closed its connection") || res[1].ok) {
				t.Errorf("rank 1: %s\n%s", res[1].out, res[1].log)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

// TestHCCLWithoutLibrary: without libhccl.so the rest of CANN loads and one device works; HCCL's
// calls say libhccl.so was not found and where the loader looked.
func TestHCCLWithoutLibrary(t *testing.T) {
	src := hcclRuntime(t)
	dir := t.TempDir()
	for _, name := range testruntime.LibNames[:3] {
		if err := os.Symlink(filepath.Join(src, testruntime.LibNames[0]), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	l, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	err = l.HCCL()
	if err == nil || !strings.Contains(err.Error(), "libhccl.so not found in "+dir) {
		t.Fatalf("HCCL without libhccl.so: %v", err)
	}
	if full, err := LoadDir(src); err != nil || full.HCCL() != nil {
		t.Fatalf("with libhccl.so: %v, %v", err, full.HCCL())
	}
	if err := l.Init(); err != nil {
		t.Fatal(err)
	}
	d, err := l.OpenDevice(0)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.HCCLRootInfo(); err == nil || !strings.Contains(err.Error(), "libhccl.so not found") {
		t.Fatalf("HCCLRootInfo without libhccl.so: %v", err)
	}
}
