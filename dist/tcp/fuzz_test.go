package tcp

import (
	"context"
	"io"
	"net"
	"testing"
	"time"
)

// FuzzRingWire feeds arbitrary bytes to a rank as if they came from the rank before it in the ring,
// during an all-reduce, a broadcast or a barrier (the first byte chooses), and to the handshake of
// an accepted connection: the rank returns (an error or a result) within its timeout and never
// panics or allocates by what a header claims.
func FuzzRingWire(f *testing.F) {
	good := func(h header, payload int) []byte {
		h.payload = uint64(payload)
		b := h.encode()
		return append(b[:], make([]byte, payload)...)
	}
	for _, seed := range [][]byte{
		append([]byte{0}, good(header{op: opAllReduceFloat32, step: 0, total: 8}, 16)...),
		append([]byte{1}, good(header{op: opBroadcast, total: 16, arg: 1}, 16)...),
		append([]byte{2}, good(header{op: opBarrier}, 0)...),
		append([]byte{0}, good(header{op: opAllReduceFloat32, total: 8, payload: 1 << 62}, 0)...),
		append([]byte{3}, hello{kind: helloConnect, from: 1, to: 0, size: 2, token: 7}.encode()...),
		append([]byte{3}, hello{kind: helloConnect, from: 5, to: 9, size: 1 << 31}.encode()...),
		{0}, {1, 'R', 'X'}, {},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		mode, data := data[0]%4, data[1:]
		prevIn, prevOut := net.Pipe()
		nextIn, nextOut := net.Pipe()
		r := &Ring{rank: 0, size: 2, addrs: []string{"a", "b"}, timeout: time.Second, chunk: 8, next: nextIn, prev: prevOut}
		defer r.Close()
		defer prevIn.Close()
		defer nextOut.Close()
		go io.Copy(io.Discard, nextOut) // rank 1 swallows what rank 0 sends
		go io.Copy(io.Discard, prevIn)  // and the answers to its handshake
		go func() {
			prevIn.Write(data)
			prevIn.Close()
		}()
		done := make(chan struct{})
		go func() {
			defer close(done)
			switch mode {
			case 0:
				r.AllReduceFloat32(make([]float32, 8), true)
			case 1:
				r.Broadcast(make([]byte, 16), 1)
			case 2:
				r.Barrier()
			case 3:
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				r.helloAccept(ctx, prevOut, 1, 7)
			}
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("mode %d: still running after 5 s on %d bytes", mode, len(data))
		}
	})
}
