package ops

import (
	"fmt"
	"strconv"
	"strings"
)

// Shape is the size of each dimension of a tensor, outermost first (NCHW for images).
// The empty shape is a scalar with one element.
type Shape []int

// Numel is the number of elements: the product of the dimensions (1 for a scalar).
func (s Shape) Numel() int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// Rank is the number of dimensions.
func (s Shape) Rank() int { return len(s) }

// Equal reports whether s and o have the same dimensions.
func (s Shape) Equal(o Shape) bool {
	if len(s) != len(o) {
		return false
	}
	for i := range s {
		if s[i] != o[i] {
			return false
		}
	}
	return true
}

// Clone returns a copy of s that shares no memory with it.
func (s Shape) Clone() Shape { return append(Shape(nil), s...) }

// Valid reports whether every dimension is positive.
func (s Shape) Valid() bool {
	for _, d := range s {
		if d <= 0 {
			return false
		}
	}
	return true
}

// String formats s as PyTorch does: [2, 3, 224, 224].
func (s Shape) String() string {
	var b strings.Builder
	b.WriteByte('[')
	for i, d := range s {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(d))
	}
	b.WriteByte(']')
	return b.String()
}

// NCHW returns the four dimensions of a rank-4 shape, panicking with op's name when s is not rank 4.
func (s Shape) NCHW(op string) (n, c, h, w int) {
	if len(s) != 4 {
		Misuse(op, "want a 4-D NCHW tensor, got shape %v", s)
	}
	return s[0], s[1], s[2], s[3]
}

// Misuse panics with a message that names the operation: the way every kernel reports wrong shapes,
// dtypes or arguments. Misuse is a programming error, not a runtime failure.
func Misuse(op, format string, args ...any) {
	panic(fmt.Sprintf("ops.%s: %s", op, fmt.Sprintf(format, args...)))
}
