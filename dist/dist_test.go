package dist

import (
	"context"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/resnext/resnext/dist/launch"
	"github.com/resnext/resnext/dist/rendezvous"
	"github.com/resnext/resnext/dist/tcp"
	"github.com/resnext/resnext/ops"
	"github.com/resnext/resnext/ops/cpu"
)

// job starts a scheduler and returns the environment of each of size ranks.
func job(t *testing.T, size int, timeout time.Duration) []launch.Env {
	t.Helper()
	s, err := rendezvous.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	host, port, _ := net.SplitHostPort(s.Addr())
	p, _ := strconv.Atoi(port)
	envs := make([]launch.Env, size)
	for r := range envs {
		envs[r] = launch.Env{Rank: r, Size: size, LocalRank: r, LocalSize: size, MasterAddr: host, MasterPort: p,
			Launcher: "msrun", ClusterTimeout: timeout}
	}
	return envs
}

// TestJoinTCP: three ranks meet through the scheduler and all-reduce, broadcast and meet at a
// barrier over CPU backend tensors; every rank ends with the same values.
func TestJoinTCP(t *testing.T) {
	const size = 3
	envs := job(t, size, 10*time.Second)
	var wg sync.WaitGroup
	results := make([][]float32, size)
	errs := make([]error, size)
	for r := range size {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := cpu.New(cpu.Options{Threads: 1})
			defer b.Close()
			c, err := JoinTCP(context.Background(), b, envs[r], "127.0.0.1", tcp.Options{Timeout: 10 * time.Second})
			if err != nil {
				errs[r] = err
				return
			}
			defer c.Close()
			x := ops.FromFloat32(b, ops.Float32, ops.Shape{2, 3}, []float32{1, 2, 3, 4, 5, float32(r)})
			defer b.Free(x)
			if errs[r] = c.AllReduce(x, false); errs[r] != nil {
				return
			}
			y := ops.FromFloat32(b, ops.Float32, ops.Shape{2}, []float32{float32(10 * r), -1})
			defer b.Free(y)
			if errs[r] = c.Broadcast(y, 2); errs[r] != nil {
				return
			}
			if errs[r] = c.Barrier(); errs[r] != nil {
				return
			}
			vx, _ := ops.ToFloat32(b, x)
			vy, _ := ops.ToFloat32(b, y)
			results[r] = append(vx, vy...)
		}()
	}
	wg.Wait()
	want := []float32{3, 6, 9, 12, 15, 0 + 1 + 2, 20, -1}
	for r := range size {
		if errs[r] != nil {
			t.Fatalf("rank %d: %v", r, errs[r])
		}
		for i := range want {
			if results[r][i] != want[i] {
				t.Fatalf("rank %d: %v, want %v", r, results[r], want)
			}
		}
	}
}

// TestJoinTCPTimeout: a rank whose peer never arrives fails after the cluster timeout, naming it.
func TestJoinTCPTimeout(t *testing.T) {
	envs := job(t, 2, 300*time.Millisecond)
	b := cpu.New(cpu.Options{Threads: 1})
	defer b.Close()
	_, err := JoinTCP(context.Background(), b, envs[0], "127.0.0.1", tcp.Options{})
	if err == nil || !strings.Contains(err.Error(), "1 of 2 did not arrive") {
		t.Fatalf("JoinTCP without rank 1: %v", err)
	}
}
