package tcp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/resnext/resnext/ops"
)

// listen opens size loopback listeners and returns them with their addresses.
func listen(tb testing.TB, size int) ([]net.Listener, []string) {
	tb.Helper()
	ls := make([]net.Listener, size)
	addrs := make([]string, size)
	for i := range ls {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { l.Close() })
		ls[i], addrs[i] = l, l.Addr().String()
	}
	return ls, addrs
}

// newRings connects size ranks in goroutines.
func newRings(tb testing.TB, size int, opts Options) []*Ring {
	tb.Helper()
	ls, addrs := listen(tb, size)
	rings := make([]*Ring, size)
	errs := onEach(size, func(i int) (err error) {
		rings[i], err = New(context.Background(), i, size, ls[i], addrs, opts)
		return err
	})
	for i, err := range errs {
		if err != nil {
			tb.Fatalf("New rank %d: %v", i, err)
		}
	}
	tb.Cleanup(func() {
		for _, r := range rings {
			r.Close()
		}
	})
	return rings
}

// onEach runs f for every rank at once and returns the errors by rank.
func onEach(size int, f func(rank int) error) []error {
	errs := make([]error, size)
	var wg sync.WaitGroup
	for i := range size {
		wg.Go(func() { errs[i] = f(i) })
	}
	wg.Wait()
	return errs
}

func mustAll(t *testing.T, errs []error) {
	t.Helper()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("rank %d: %v", i, err)
		}
	}
}

// segmentOf returns the segment that holds element i of n split over size ranks.
func segmentOf(i, n, size int) int {
	base, rem := n/size, n%size
	if i < rem*(base+1) {
		return i / (base + 1)
	}
	return rem + (i-rem*(base+1))/base
}

// lengths are the buffer lengths every all-reduce test runs for size ranks.
func lengths(size, large int) []int {
	return []int{0, 1, 7, size - 1, 1009, large / shrink}
}

// shrink divides the large buffers and the chunks of the tests under the race detector, keeping the
// number of chunks.
var shrink = map[bool]int{false: 1, true: 16}[raceEnabled]

func TestAllReduceFloat32(t *testing.T) {
	const large = 10 << 20 / 4 // 10 MB: several 1 MiB chunks per segment
	for size := 1; size <= 4; size++ {
		rings := newRings(t, size, Options{ChunkBytes: 1 << 20 / shrink, Timeout: 10 * time.Second})
		for _, n := range lengths(size, large) {
			for _, mean := range []bool{false, true} {
				t.Run(fmt.Sprintf("size%d/len%d/mean=%v", size, n, mean), func(t *testing.T) {
					rng := rand.New(rand.NewPCG(uint64(n), uint64(size)))
					in := make([][]float32, size)
					for r := range in {
						in[r] = make([]float32, n)
						for i := range in[r] {
							in[r][i] = float32(rng.NormFloat64() * math.Ldexp(1, rng.IntN(20)-10))
						}
					}
					// The reference: segment j summed from rank j around the ring.
					want := make([]float32, n)
					for i := range want {
						j := segmentOf(i, n, size)
						acc := in[j][i]
						for k := 1; k < size; k++ {
							acc = acc + in[(j+k)%size][i]
						}
						if mean {
							acc = acc / float32(size)
						}
						want[i] = acc
					}
					bufs := make([][]float32, size)
					for r := range bufs {
						bufs[r] = append([]float32(nil), in[r]...)
					}
					mustAll(t, onEach(size, func(r int) error { return rings[r].AllReduceFloat32(bufs[r], mean) }))
					for r := range bufs {
						for i := range want {
							if math.Float32bits(bufs[r][i]) != math.Float32bits(want[i]) {
								t.Fatalf("rank %d element %d: got %v (%#x), want %v (%#x)", r, i, bufs[r][i], math.Float32bits(bufs[r][i]), want[i], math.Float32bits(want[i]))
							}
						}
					}
				})
			}
		}
	}
}

func TestAllReduceOddChunk(t *testing.T) {
	// A chunk that is not a whole number of elements is rounded down to one.
	rings := newRings(t, 3, Options{ChunkBytes: 6})
	bufs := make([][]float32, 3)
	for r := range bufs {
		bufs[r] = make([]float32, 101)
		for i := range bufs[r] {
			bufs[r][i] = float32(i*(r+1)) + 0.5
		}
	}
	mustAll(t, onEach(3, func(r int) error { return rings[r].AllReduceFloat32(bufs[r], false) }))
	for r := range bufs {
		for i, v := range bufs[r] {
			if want := float32(6*i) + 1.5; v != want {
				t.Fatalf("rank %d element %d: got %v, want %v", r, i, v, want)
			}
		}
	}
}

func TestAllReduceFloat16(t *testing.T) {
	for size := 1; size <= 4; size++ {
		rings := newRings(t, size, Options{ChunkBytes: 64 << 10 / shrink})
		for _, n := range lengths(size, 1<<20) {
			for _, mean := range []bool{false, true} {
				t.Run(fmt.Sprintf("size%d/len%d/mean=%v", size, n, mean), func(t *testing.T) {
					rng := rand.New(rand.NewPCG(uint64(n), uint64(size)))
					bufs := make([][]uint16, size)
					exact := make([]float64, n)
					sumAbs := make([]float64, n)
					for r := range bufs {
						bufs[r] = make([]uint16, n)
						for i := range bufs[r] {
							h := ops.Float16Bits(float32(rng.NormFloat64() * 4))
							bufs[r][i] = h
							v := float64(ops.Float16Value(h))
							exact[i] += v
							sumAbs[i] += math.Abs(v)
						}
					}
					mustAll(t, onEach(size, func(r int) error { return rings[r].AllReduceFloat16(bufs[r], mean) }))
					for i := range exact {
						want, scale := exact[i], sumAbs[i]
						if mean {
							want, scale = want/float64(size), scale/float64(size)
						}
						// One half-precision rounding (2^-11 relative, 2^-25 absolute for
						// subnormals) per addition and for the mean.
						tol := float64(size) * (scale*0x1p-11 + 0x1p-25)
						got := float64(ops.Float16Value(bufs[0][i]))
						if math.Abs(got-want) > tol {
							t.Fatalf("element %d: got %v, want %v within %v", i, got, want, tol)
						}
						for r := 1; r < size; r++ {
							if bufs[r][i] != bufs[0][i] {
								t.Fatalf("element %d: rank %d has %#x, rank 0 has %#x", i, r, bufs[r][i], bufs[0][i])
							}
						}
					}
				})
			}
		}
	}
}

func TestBroadcast(t *testing.T) {
	for size := 1; size <= 4; size++ {
		rings := newRings(t, size, Options{ChunkBytes: 1 << 20})
		for root := range size {
			for _, n := range []int{0, 1, 7, 3<<20 + 5} {
				t.Run(fmt.Sprintf("size%d/root%d/len%d", size, root, n), func(t *testing.T) {
					bufs := make([][]byte, size)
					for r := range bufs {
						bufs[r] = make([]byte, n)
						for i := range bufs[r] {
							bufs[r][i] = byte(i*7 + r*31)
						}
					}
					want := append([]byte(nil), bufs[root]...)
					mustAll(t, onEach(size, func(r int) error { return rings[r].Broadcast(bufs[r], root) }))
					for r := range bufs {
						if string(bufs[r]) != string(want) {
							t.Fatalf("rank %d differs from root %d", r, root)
						}
					}
				})
			}
		}
	}
}

func TestBarrier(t *testing.T) {
	for size := 1; size <= 4; size++ {
		rings := newRings(t, size, Options{})
		const rounds = 5
		var arrived [rounds]atomic.Int32
		errs := onEach(size, func(r int) error {
			for k := range rounds {
				time.Sleep(time.Duration((r*3+k)%4) * 5 * time.Millisecond)
				arrived[k].Add(1)
				if err := rings[r].Barrier(); err != nil {
					return err
				}
				if got := arrived[k].Load(); got != int32(size) {
					return fmt.Errorf("round %d: left the barrier with %d of %d ranks arrived", k, got, size)
				}
			}
			return nil
		})
		mustAll(t, errs)
	}
}

func TestLengthMismatch(t *testing.T) {
	for size := 2; size <= 3; size++ {
		rings := newRings(t, size, Options{Timeout: 10 * time.Second})
		start := time.Now()
		errs := onEach(size, func(r int) error {
			n := 11
			if r == 1 {
				n = 10
			}
			return rings[r].AllReduceFloat32(make([]float32, n), false)
		})
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("size %d: the ranks took %v to fail", size, d)
		}
		// Rank 1 or the rank after it (whichever reads the other's header first; the first to
		// notice closes its connections) must name both ranks and lengths.
		after := 2 % size
		wants := []string{
			fmt.Sprintf("tcp ring: rank 1: length mismatch in all-reduce float32 #1: rank 0 (%s) has length 11, rank 1 has 10", rings[1].addrs[0]),
			fmt.Sprintf("tcp ring: rank %d: length mismatch in all-reduce float32 #1: rank 1 (%s) has length 10, rank %d has 11", after, rings[1].addrs[1], after),
		}
		found := false
		for r, err := range errs {
			if err == nil {
				t.Fatalf("size %d rank %d: no error", size, r)
			}
			for _, w := range wants {
				found = found || strings.Contains(err.Error(), w)
			}
		}
		if !found {
			t.Errorf("size %d: no error names both lengths: %v", size, errs)
		}
		// The ring stays broken.
		if err := rings[0].Barrier(); err == nil || !strings.Contains(err.Error(), "earlier error") {
			t.Errorf("Barrier after the failure: %v", err)
		}
	}
}

func TestPeerCloses(t *testing.T) {
	for size := 2; size <= 3; size++ {
		rings := newRings(t, size, Options{Timeout: 20 * time.Second})
		closer := size - 1 // rank 0 receives from it
		start := time.Now()
		go func() {
			time.Sleep(100 * time.Millisecond)
			rings[closer].Close()
		}()
		errs := onEach(size-1, func(r int) error { return rings[r].AllReduceFloat32(make([]float32, 1<<20), false) })
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("size %d: took %v to fail", size, d)
		}
		want := fmt.Sprintf("rank %d (%s)", closer, rings[0].addrs[closer])
		if errs[0] == nil || !strings.Contains(errs[0].Error(), want) || !strings.Contains(errs[0].Error(), "tcp ring: rank 0: ") {
			t.Errorf("size %d: rank 0 got %v, want an error naming %s", size, errs[0], want)
		}
		if err := rings[closer].Barrier(); err == nil {
			t.Errorf("Barrier on a closed ring: no error")
		}
	}
}

func TestPeerStalls(t *testing.T) {
	for _, n := range []int{16, 4 << 20} { // the latter fills the socket buffers, so sending stalls too
		rings := newRings(t, 2, Options{Timeout: 300 * time.Millisecond})
		start := time.Now()
		err := rings[0].AllReduceFloat32(make([]float32, n), true) // rank 1 never joins
		d := time.Since(start)
		if d < 300*time.Millisecond || d > 3*time.Second {
			t.Errorf("len %d: failed after %v, want about 300ms", n, d)
		}
		want := fmt.Sprintf("rank 1 (%s): i/o timeout after 300ms", rings[0].addrs[1])
		if err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("len %d: got %v, want an error containing %q", n, err, want)
		}
	}
}

func TestHandshakeRefusesStrangers(t *testing.T) {
	const size = 2
	ls, addrs := listen(t, size)
	token := jobToken(size, addrs)
	cases := []struct {
		name   string
		hello  []byte
		reason uint32
	}{
		{"token", hello{kind: helloConnect, from: 0, to: 1, size: size, token: token + 1}.encode(), 6},
		{"from", hello{kind: helloConnect, from: 5, to: 1, size: size, token: token}.encode(), 3},
		{"to", hello{kind: helloConnect, from: 0, to: 0, size: size, token: token}.encode(), 4},
		{"size", hello{kind: helloConnect, from: 0, to: 1, size: 3, token: token}.encode(), 5},
		{"magic", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n....."), 1},
	}
	// The strangers connect first, so rank 1 meets them before rank 0.
	conns := make([]net.Conn, len(cases))
	for i, c := range cases {
		conn, err := net.Dial("tcp", addrs[1])
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := conn.Write(c.hello); err != nil {
			t.Fatal(err)
		}
		conns[i] = conn
	}
	rings := make([]*Ring, size)
	mustAll(t, onEach(size, func(r int) (err error) {
		rings[r], err = New(context.Background(), r, size, ls[r], addrs, Options{Timeout: 5 * time.Second})
		return err
	}))
	defer rings[0].Close()
	defer rings[1].Close()
	for i, c := range cases {
		var b [helloLen]byte
		conns[i].SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(conns[i], b[:]); err != nil {
			t.Fatalf("%s: reading the answer: %v", c.name, err)
		}
		h, ok := decodeHello(b[:])
		if !ok || h.kind != helloRefuse || h.reason != c.reason {
			t.Errorf("%s: got %+v, want a refusal with reason %d", c.name, h, c.reason)
		}
	}
	bufs := [][]float32{{1, 2}, {3, 4}}
	mustAll(t, onEach(size, func(r int) error { return rings[r].AllReduceFloat32(bufs[r], false) }))
	if bufs[0][0] != 4 || bufs[1][1] != 6 {
		t.Errorf("after refusing strangers: got %v", bufs)
	}
}

func TestHandshakeTokenMismatch(t *testing.T) {
	// Rank 0 never dials its own address, so a different spelling of it only changes rank 0's token.
	ls, addrs := listen(t, 2)
	other := append([]string(nil), addrs...)
	other[0] = "rank0.invalid:1"
	start := time.Now()
	errs := onEach(2, func(r int) error {
		a := addrs
		if r == 0 {
			a = other
		}
		// A rank may wait out its timeout: when its peer has given up before it dials it, it only has
		// the connection it refused to go on (it waits for the right peer, by design).
		_, err := New(context.Background(), r, 2, ls[r], a, Options{Timeout: 2 * time.Second})
		return err
	})
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v to fail", d)
	}
	// Every rank fails; at least one says why. The other may only see its peer stop answering, when
	// that peer gave up before it was dialled.
	why := 0
	for r, err := range errs {
		if err == nil {
			t.Errorf("rank %d: New succeeded with a different job token", r)
		} else if strings.Contains(err.Error(), "the job token differs") {
			why++
		}
	}
	if why == 0 {
		t.Errorf("no rank says the job token differs: %v", errs)
	}
}

func TestNewArguments(t *testing.T) {
	l, addrs := listen(t, 1)
	cases := []struct {
		rank, size int
		addrs      []string
		want       string
	}{
		{-1, 2, []string{"a", "b"}, "the rank must be in [0, size)"},
		{2, 2, []string{"a", "b"}, "the rank must be in [0, size)"},
		{0, 0, nil, "the size at least 1"},
		{0, 2, []string{"a"}, "1 addresses for 2 ranks"},
	}
	for _, c := range cases {
		_, err := New(context.Background(), c.rank, c.size, l[0], c.addrs, Options{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New(%d, %d, %v): got %v, want %q", c.rank, c.size, c.addrs, err, c.want)
		}
	}
	r, err := New(context.Background(), 0, 1, nil, addrs, Options{})
	if err != nil || r.Rank() != 0 || r.Size() != 1 {
		t.Fatalf("size 1: %v %v", r, err)
	}
	if err := r.Broadcast([]byte{1}, 1); err == nil {
		t.Errorf("Broadcast from root 1 of 1: no error")
	}
}
