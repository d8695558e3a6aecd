package rendezvous

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// FuzzServerFrames writes arbitrary bytes to a live server, then checks that it still serves a
// normal client.
func FuzzServerFrames(f *testing.F) {
	delta := binary.BigEndian.AppendUint64(nil, 3)
	for _, seed := range [][]byte{
		frame(opPing, 0, "", nil),
		frame(opSet, 0, "k", []byte("value")),
		frame(opSet, 0, "hccl/root_info", make([]byte, 4108)),
		frame(opGet, 0, "k", nil),
		frame(opGet, 1, "unset", nil),
		frame(opWait, 0, "unset", nil),
		frame(opAdd, 0, "n", delta),
		append(frame(opSet, 0, "n", []byte("x")), frame(opAdd, 0, "n", delta)...),
		append(frame(opSet, 0, "a", nil), frame(opGet, 0, "a", nil)...),
		header(opSet, 0, 1, MaxValue+1),
		header(opGet, 0, MaxKey+1, 0),
		frame(7, 0, "k", nil),
		frame(opAdd, 0, "n", []byte{1}),
		{},
		{opSet},
	} {
		f.Add(seed)
	}
	s := start(f)
	good := connect(f, s)
	var n atomic.Int64
	f.Fuzz(func(t *testing.T, data []byte) {
		conn, err := net.Dial("tcp", s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(time.Second))
		conn.Write(data)
		// Read replies briefly (so the server is not held up writing them), then leave.
		conn.SetReadDeadline(time.Now().Add(5 * time.Millisecond))
		io.Copy(io.Discard, conn)
		conn.Close()

		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		key := fmt.Sprintf("fuzz/check/%d", n.Add(1))
		if err := good.Set(ctx, key, data); err != nil {
			t.Fatalf("the server stopped serving: %v", err)
		}
		if v, err := good.Get(ctx, key); err != nil || string(v) != string(data) {
			t.Fatalf("Get after the fuzzed connection = %d bytes, %v", len(v), err)
		}
	})
}
