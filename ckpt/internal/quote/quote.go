// Package quote formats text taken from checkpoint files for error messages, bounded in length, so
// that a hostile or damaged file (a name of megabytes, a huge integer) cannot make an error line of
// megabytes.
package quote

import (
	"fmt"
	"unicode/utf8"
)

// Max is how many bytes of file content a message quotes.
const Max = 64

// String returns s quoted as %q does, cut to its first Max bytes (at a character boundary) followed
// by "..." and its length when it is longer.
func String(s string) string { return text(s) }

// Bytes is String for a byte slice.
func Bytes(b []byte) string { return text(b) }

func text[T string | []byte](s T) string {
	if len(s) <= Max {
		return fmt.Sprintf("%q", s)
	}
	cut := Max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%q... (%d bytes)", s[:cut], len(s))
}

// Clip cuts already formatted text to at most 4*Max bytes, marking the cut with "...".
func Clip(s string) string {
	if len(s) <= 4*Max {
		return s
	}
	cut := 4 * Max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s... (%d bytes)", s[:cut], len(s))
}

// Ints formats a list of integers as %v does, showing at most 8 of them.
func Ints[T ~int | ~int64 | ~uint64](v []T) string {
	if len(v) <= 8 {
		return fmt.Sprint(v)
	}
	return fmt.Sprintf("%v... (%d items)", v[:8], len(v))
}
