// Package readn reads a payload whose size a file's header declares, without trusting the header:
// the buffer grows with the data actually read, so a header that asks for more than the stream
// holds costs at most about twice what the stream holds, never what the header says.
package readn

import (
	"errors"
	"fmt"
	"io"
	"math/bits"
)

// firstChunk is the buffer allocated before any data is read; it doubles as the data arrives.
const firstChunk = 64 << 10

// ErrShort is wrapped by Read's error when the stream ends before n bytes.
var ErrShort = errors.New("the data ends early")

// Read reads exactly n bytes from r. When r ends first the error wraps ErrShort and says how many
// bytes it held.
func Read(r io.Reader, n int64) ([]byte, error) {
	if n < 0 {
		return nil, fmt.Errorf("negative size %d", n)
	}
	buf := make([]byte, 0, min(n, firstChunk))
	for int64(len(buf)) < n {
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), min(n, 2*int64(cap(buf))))
			copy(grown, buf)
			buf = grown
		}
		m, err := io.ReadFull(r, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if err != nil && int64(len(buf)) < n {
			return nil, fmt.Errorf("%w: %d bytes wanted, %d read: truncated", ErrShort, n, len(buf))
		}
	}
	return buf, nil
}

// Product is the product of dims times unit, or ok false when it overflows an int64 or exceeds
// limit. Negative dimensions are not ok.
func Product(dims []int, unit, limit int64) (n int64, ok bool) {
	n = unit
	for _, d := range dims {
		if d < 0 {
			return 0, false
		}
		hi, lo := bits.Mul64(uint64(n), uint64(d))
		if hi != 0 || lo > uint64(limit) {
			return 0, false
		}
		n = int64(lo)
	}
	return n, n <= limit
}
