package rendezvous

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// start runs a server on a free local port for the test.
func start(t testing.TB) *Server {
	t.Helper()
	s, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// connect dials s for the test.
func connect(t testing.TB, s *Server) *Client {
	t.Helper()
	c, err := Dial(context.Background(), s.Addr(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// waiting reports how many keys have a request waiting for them on s.
func waiting(s *Server) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.waiters)
}

// untilWaiting waits until a request is waiting on s.
func untilWaiting(t *testing.T, s *Server) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); waiting(s) == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no request started waiting")
		}
	}
}

func TestSetGetAcrossClients(t *testing.T) {
	s := start(t)
	a, b := connect(t, s), connect(t, s)
	ctx := context.Background()
	big := bytes.Repeat([]byte("x"), 1<<20)
	for _, tc := range []struct {
		key   string
		value []byte
	}{
		{"hccl/root_info", []byte{0, 1, 2, 255}},
		{"empty", []byte{}},
		{"big", big},
		{strings.Repeat("k", MaxKey), []byte("longest key")},
	} {
		if err := a.Set(ctx, tc.key, tc.value); err != nil {
			t.Fatal(err)
		}
		got, err := b.Get(ctx, tc.key)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, tc.value) {
			t.Errorf("Get(%.20q) = %d bytes, want %d", tc.key, len(got), len(tc.value))
		}
	}
	if err := a.Set(ctx, "hccl/root_info", []byte("new")); err != nil {
		t.Fatal(err)
	}
	if got, _ := b.Get(ctx, "hccl/root_info"); string(got) != "new" {
		t.Errorf("Get after a second Set = %q, want %q", got, "new")
	}
}

func TestGetWaitsForLaterSet(t *testing.T) {
	s := start(t)
	a, b := connect(t, s), connect(t, s)
	got := make(chan []byte, 1)
	go func() {
		v, err := b.Get(context.Background(), "later")
		if err != nil {
			t.Error(err)
		}
		got <- v
	}()
	untilWaiting(t, s)
	// Another client is served while the Get waits.
	if err := a.Set(context.Background(), "other", []byte("1")); err != nil {
		t.Fatal(err)
	}
	if err := a.Set(context.Background(), "later", []byte("value")); err != nil {
		t.Fatal(err)
	}
	select {
	case v := <-got:
		if string(v) != "value" {
			t.Errorf("Get = %q, want %q", v, "value")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Get did not return after Set")
	}
}

func TestGetContextEnds(t *testing.T) {
	s := start(t)
	c := connect(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.Get(ctx, "never"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get past its deadline: %v, want DeadlineExceeded", err)
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel2)
	if _, err := c.Get(ctx2, "never"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Get cancelled: %v, want Canceled", err)
	}
	// The client is still usable.
	if err := c.Set(context.Background(), "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Get(context.Background(), "k"); err != nil || string(v) != "v" {
		t.Fatalf("Get after cancelled calls = %q, %v", v, err)
	}
}

func TestAddManyGoroutines(t *testing.T) {
	s := start(t)
	const clients, perGoroutine = 8, 50
	shared := connect(t, s)
	var wg sync.WaitGroup
	for i := range clients {
		c := shared
		if i%2 == 0 {
			c = connect(t, s)
		}
		wg.Go(func() {
			for range perGoroutine {
				if _, err := c.Add(context.Background(), "count", 1); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	n, err := shared.Add(context.Background(), "count", 0)
	if err != nil || n != clients*perGoroutine {
		t.Fatalf("count = %d, %v; want %d", n, err, clients*perGoroutine)
	}
	if v, _ := shared.Get(context.Background(), "count"); string(v) != fmt.Sprint(clients*perGoroutine) {
		t.Errorf("Get(count) = %q", v)
	}
	if n, err := shared.Add(context.Background(), "count", -400); err != nil || n != 0 {
		t.Errorf("Add(-400) = %d, %v; want 0", n, err)
	}
	// A value that is not an integer is an error, and the connection goes on.
	shared.Set(context.Background(), "text", []byte("abc"))
	if _, err := shared.Add(context.Background(), "text", 1); err == nil || !strings.Contains(err.Error(), "not an integer") {
		t.Errorf("Add to a non-integer: %v", err)
	}
	shared.Set(context.Background(), "max", []byte("9223372036854775807"))
	if _, err := shared.Add(context.Background(), "max", 1); err == nil || !strings.Contains(err.Error(), "overflows") {
		t.Errorf("Add overflowing: %v", err)
	}
	if _, err := shared.Add(context.Background(), "count", 1); err != nil {
		t.Errorf("Add after an error reply: %v", err)
	}
}

func TestWait(t *testing.T) {
	s := start(t)
	a, b := connect(t, s), connect(t, s)
	done := make(chan error, 1)
	go func() { done <- b.Wait(context.Background(), "x", "y", "z") }()
	for _, k := range []string{"z", "x"} {
		a.Set(context.Background(), k, nil)
	}
	select {
	case err := <-done:
		t.Fatalf("Wait returned %v before y was set", err)
	case <-time.After(50 * time.Millisecond):
	}
	a.Set(context.Background(), "y", []byte("last"))
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Wait did not return once every key was set")
	}
}

func TestJoin(t *testing.T) {
	s := start(t)
	const size = 4
	results := make([][]string, size)
	var wg sync.WaitGroup
	for rank := range size {
		c := connect(t, s)
		wg.Go(func() {
			addrs, err := Join(context.Background(), c, "", rank, size, fmt.Sprintf("10.0.0.%d:29500", rank), 5*time.Second)
			if err != nil {
				t.Error(err)
			}
			results[rank] = addrs
		})
	}
	wg.Wait()
	want := []string{"10.0.0.0:29500", "10.0.0.1:29500", "10.0.0.2:29500", "10.0.0.3:29500"}
	for rank, got := range results {
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("rank %d: Join = %v, want %v", rank, got, want)
		}
	}
}

func TestJoinTimeoutNamesMissingRanks(t *testing.T) {
	s := start(t)
	errs := make([]error, 4)
	var wg sync.WaitGroup
	for _, rank := range []int{0, 2} {
		c := connect(t, s)
		wg.Go(func() {
			_, errs[rank] = Join(context.Background(), c, "", rank, 4, "self", 200*time.Millisecond)
		})
	}
	wg.Wait()
	want := fmt.Sprintf("rendezvous at %s: ranks 1, 3 of 4 did not arrive within 200ms (cluster_time_out)", s.Addr())
	for _, rank := range []int{0, 2} {
		if errs[rank] == nil || errs[rank].Error() != want {
			t.Errorf("rank %d: %v\nwant %s", rank, errs[rank], want)
		}
	}
	// One missing rank.
	s2 := start(t)
	_, err := Join(context.Background(), connect(t, s2), "", 0, 2, "self", 100*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "rank 1 of 2 did not arrive within 100ms") {
		t.Errorf("one missing: %v", err)
	}
}

func TestJoinDuplicateRank(t *testing.T) {
	s := start(t)
	a, b := connect(t, s), connect(t, s)
	errs := make(chan error, 2)
	for _, c := range []*Client{a, b} {
		go func() {
			_, err := Join(context.Background(), c, "", 1, 2, "self", 300*time.Millisecond)
			errs <- err
		}()
	}
	var twice, timedOut int
	for range 2 {
		err := <-errs
		switch {
		case err != nil && strings.Contains(err.Error(), "rank 1 of 2 registered twice"):
			twice++
		case err != nil && strings.Contains(err.Error(), "rank 0 of 2 did not arrive"):
			timedOut++
		default:
			t.Errorf("unexpected: %v", err)
		}
	}
	if twice != 1 || timedOut != 1 {
		t.Errorf("%d duplicate errors and %d timeouts, want 1 and 1", twice, timedOut)
	}
}

func TestJoinSizeDisagreement(t *testing.T) {
	s := start(t)
	a, b := connect(t, s), connect(t, s)
	go Join(context.Background(), a, "", 0, 4, "self", time.Second)
	if _, err := b.Get(context.Background(), keySize); err != nil { // rank 0 has fixed the size
		t.Fatal(err)
	}
	_, err := Join(context.Background(), b, "", 1, 2, "self", time.Second)
	want := "ranks disagree on the job's size: rank 1 says 2, rank 0 (registered first) says 4"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Join = %v, want an error containing %q", err, want)
	}
	for _, tc := range []struct{ rank, size int }{{2, 2}, {-1, 4}, {0, 0}} {
		if _, err := Join(context.Background(), b, "", tc.rank, tc.size, "self", time.Second); err == nil {
			t.Errorf("Join(rank %d, size %d) succeeded", tc.rank, tc.size)
		}
	}
}

// freeAddr returns a local address nothing listens on.
func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestDialBeforeListen(t *testing.T) {
	addr := freeAddr(t)
	type result struct {
		c   *Client
		err error
	}
	done := make(chan result, 1)
	go func() {
		c, err := Dial(context.Background(), addr, 5*time.Second)
		done <- result{c, err}
	}()
	time.Sleep(150 * time.Millisecond)
	s, err := Listen(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	defer r.c.Close()
	if err := r.c.Set(context.Background(), "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
}

func TestDialTimeout(t *testing.T) {
	addr := freeAddr(t)
	start := time.Now()
	_, err := Dial(context.Background(), addr, 200*time.Millisecond)
	if err == nil {
		t.Fatal("Dial succeeded with no server")
	}
	if msg := err.Error(); !strings.Contains(msg, addr) || !strings.Contains(msg, "within 200ms") {
		t.Errorf("error %q names neither the address nor the timeout", msg)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Dial took %v", d)
	}
	// Something that accepts but does not speak the protocol is not a server.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			conn.Write([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"))
			conn.Close()
		}
	}()
	if _, err := Dial(context.Background(), ln.Addr().String(), 200*time.Millisecond); err == nil {
		t.Error("Dial accepted a server that does not speak the protocol")
	}
}

func TestCloseWhileGetWaits(t *testing.T) {
	s, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := connect(t, s)
	done := make(chan error, 1)
	go func() {
		_, err := c.Get(context.Background(), "never")
		done <- err
	}()
	untilWaiting(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), s.Addr()) {
			t.Fatalf("Get after Close: %v, want an error naming %s", err, s.Addr())
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Get hangs after the server closed")
	}
	// Later calls fail quickly too.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := c.Set(ctx, "k", nil); err == nil {
		t.Fatal("Set succeeded after the server closed")
	}
}

// header builds a request header.
func header(op byte, waitMs, keyLen, valueLen uint32) []byte {
	h := []byte{op}
	h = binary.BigEndian.AppendUint32(h, waitMs)
	h = binary.BigEndian.AppendUint32(h, keyLen)
	return binary.BigEndian.AppendUint32(h, valueLen)
}

// frame builds a whole request.
func frame(op byte, waitMs uint32, key string, value []byte) []byte {
	b := append(header(op, waitMs, uint32(len(key)), uint32(len(value))), key...)
	return append(b, value...)
}

func TestBadFrames(t *testing.T) {
	s := start(t)
	good := connect(t, s)
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"unknown op", frame(9, 0, "k", nil)},
		{"op 0", frame(0, 0, "k", nil)},
		{"key too long", header(opGet, 0, MaxKey+1, 0)},
		{"key length huge", header(opSet, 0, 0xffffffff, 0)},
		{"empty key", frame(opGet, 0, "", nil)},
		{"value too long", header(opSet, 0, 1, MaxValue+1)},
		{"value length huge", append(header(opSet, 0, 1, 0xffffffff), 'k')},
		{"add with 4 bytes", frame(opAdd, 0, "k", []byte{0, 0, 0, 1})},
		{"get with a value", frame(opGet, 0, "k", []byte("v"))},
		{"ping with a key", frame(opPing, 0, "k", nil)},
		{"good frame then garbage", append(frame(opSet, 0, "k", []byte("v")), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", s.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := conn.Write(tc.data); err != nil {
				t.Fatal(err)
			}
			conn.SetReadDeadline(time.Now().Add(2 * time.Second))
			// Whatever replies come to good frames, the connection must then be closed.
			_, err = io.Copy(io.Discard, conn)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("the server kept the connection open")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if err := good.Set(ctx, "alive", []byte(tc.name)); err != nil {
				t.Fatal(err)
			}
			if v, err := good.Get(ctx, "alive"); err != nil || string(v) != tc.name {
				t.Fatalf("Get = %q, %v", v, err)
			}
		})
	}
	// A frame cut short: the server waits for the rest, and drops it when the client leaves.
	conn, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	conn.Write(header(opSet, 0, 1, MaxValue)[:13])
	conn.Write([]byte("k partial value"))
	conn.Close()
	if err := good.Set(context.Background(), "still", nil); err != nil {
		t.Fatal(err)
	}
}

// TestJoinScopes: the ranks of a restarted job meet again in a scope of their own under the same
// scheduler, where the first attempt's registrations would make them duplicates.
func TestJoinScopes(t *testing.T) {
	s := start(t)
	for _, scope := range []string{"attempt/0/", "attempt/1/"} {
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for rank := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[rank] = Join(context.Background(), connect(t, s), scope, rank, 2, "self", 5*time.Second)
			}()
		}
		wg.Wait()
		for rank, err := range errs {
			if err != nil {
				t.Errorf("scope %q rank %d: %v", scope, rank, err)
			}
		}
	}
	if _, err := Join(context.Background(), connect(t, s), "attempt/1/", 0, 2, "self", time.Second); err == nil || !strings.Contains(err.Error(), "registered twice") {
		t.Errorf("a second rank 0 in the same scope: %v, want registered twice", err)
	}
}
