//go:build cgo

package acl

/*
#include <stdint.h>
static void *rx_host_ptr(uintptr_t p) { return (void *)p; }
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// HostBytes views n bytes of pinned host memory from MallocHost at p as a byte slice, for filling a
// staging buffer before an asynchronous copy or reading one after it. The slice is valid until the
// memory is freed.
func HostBytes(p Ptr, n int) []byte {
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(C.rx_host_ptr(C.uintptr_t(p))), n)
}

// NewScalar is aclCreateScalar of one element of type dt given by its little-endian bytes (exactly
// dt.Size() of them), so any value of any type passes without conversion.
func (l *Lib) NewScalar(dt DataType, raw []byte) (*Scalar, error) {
	if dt.Size() == 0 || len(raw) != dt.Size() {
		return nil, fmt.Errorf("acl: aclCreateScalar: %d bytes for one %v", len(raw), dt)
	}
	var buf [8]byte // aligned storage for the value, whatever the type
	copy(buf[:], raw)
	return l.newScalar(unsafe.Pointer(&buf[0]), dt)
}
