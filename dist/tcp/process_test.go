package tcp

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The 2-process test re-runs the test binary as rank 1 with these variables set.
const (
	childEnv = "RESNEXT_TCP_TEST_CHILD_ADDRS" // the ranks' addresses, comma-separated
	procLen  = 100_000_000 / 4                // 100 MB of float32
	procReps = 3                              // timed all-reduces after one warm-up
)

// procRank runs one rank of the 2-process test and returns its length and the best time of the timed
// all-reduces.
func procRank(t *testing.T, rank int, l net.Listener, addrs []string) (n int, best time.Duration) {
	r, err := New(context.Background(), rank, 2, l, addrs, Options{Timeout: 60 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	n = procLen
	if raceEnabled {
		n /= 10
	}
	buf := make([]float32, n)
	best = time.Duration(1 << 62)
	for rep := range procReps + 1 {
		for i := range buf {
			buf[i] = float32(i%7 + rank)
		}
		start := time.Now()
		if err := r.AllReduceFloat32(buf, false); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); rep > 0 {
			best = min(best, d)
		}
		for i := 0; i < len(buf); i += 4099 {
			if want := float32(2*(i%7) + 1); buf[i] != want {
				t.Fatalf("rank %d element %d: got %v, want %v", rank, i, buf[i], want)
			}
		}
	}
	return n, best
}

// TestTwoProcesses runs a 100 MB float32 all-reduce between this process and a child over loopback
// and logs the bandwidth (the buffer's bytes over the best time of 3).
func TestTwoProcesses(t *testing.T) {
	if addrs := os.Getenv(childEnv); addrs != "" {
		l, err := net.FileListener(os.NewFile(3, "listener"))
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		procRank(t, 1, l, strings.Split(addrs, ","))
		return
	}
	if testing.Short() {
		t.Skip("moves 100 MB between two processes")
	}
	ls, addrs := listen(t, 2)
	f, err := ls[1].(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestTwoProcesses$", "-test.v")
	cmd.Env = append(os.Environ(), childEnv+"="+strings.Join(addrs, ","))
	cmd.ExtraFiles = []*os.File{f}
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ls[1].Close()
	n, best := procRank(t, 0, ls[0], addrs)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("rank 1: %v\n%s", err, out.String())
	}
	t.Logf("2 processes, %d MB float32 all-reduce over loopback: %.2f GB/s (%v)", 4*n/1e6, float64(4*n)/best.Seconds()/1e9, best)
}
