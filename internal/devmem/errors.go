package devmem

import (
	"errors"
	"fmt"
	"strings"
)

// ErrOutOfMemory is matched (errors.Is) by every *OutOfMemoryError.
var ErrOutOfMemory = errors.New("devmem: out of memory")

// OutOfMemoryError is Alloc's failure for lack of memory. Its figures are those after the cache was
// released for the second try.
type OutOfMemoryError struct {
	Name    string // Options.Name
	Asked   uint64 // bytes asked for
	Rounded uint64 // the size class of Asked (Asked itself when it has none)
	InUse   uint64
	Cached  uint64
	Held    uint64
	Limit   uint64 // Options.Limit; 0: none

	// DeviceFree and DeviceTotal are Options.Free's answer, when HaveDevice.
	DeviceFree, DeviceTotal uint64
	HaveDevice              bool

	Err        error // Raw.Malloc's error; nil when the limit left no room
	ReleaseErr error // the failure to release the cache before the second try, if any
}

// Error reads like
//
//	devmem: device 0: out of memory: asked 1.50 GiB (1610612736 bytes); held 14.2 GiB (in use 14.0 GiB,
//	cached 0.2 GiB); limit 15.0 GiB; device free 0.8 GiB of 32.0 GiB
//
// followed by Raw's error, if any.
func (e *OutOfMemoryError) Error() string {
	var b strings.Builder
	b.WriteString("devmem: ")
	if e.Name != "" {
		b.WriteString(e.Name + ": ")
	}
	fmt.Fprintf(&b, "out of memory: asked %s (%d bytes", FormatBytes(e.Asked), e.Asked)
	if e.Rounded != e.Asked {
		fmt.Fprintf(&b, ", rounded up to %s", FormatBytes(e.Rounded))
	}
	held := formatGroup(e.Held, e.InUse, e.Cached)
	fmt.Fprintf(&b, "); held %s (in use %s, cached %s)", held[0], held[1], held[2])
	if e.Limit > 0 {
		fmt.Fprintf(&b, "; limit %s", FormatBytes(e.Limit))
	}
	if e.HaveDevice {
		dev := formatGroup(e.DeviceTotal, e.DeviceFree)
		fmt.Fprintf(&b, "; device free %s of %s", dev[1], dev[0])
	}
	if e.ReleaseErr != nil {
		fmt.Fprintf(&b, "; the cache could not be released: %v", e.ReleaseErr)
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrOutOfMemory) true.
func (e *OutOfMemoryError) Is(target error) bool { return target == ErrOutOfMemory }

// Unwrap returns Raw's error and the release error, those that are set.
func (e *OutOfMemoryError) Unwrap() []error {
	var errs []error
	for _, err := range []error{e.Err, e.ReleaseErr} {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// oom builds the error for a request of asked bytes rounded to rounded.
func (a *Allocator) oom(asked, rounded uint64, err, relErr error) *OutOfMemoryError {
	e := &OutOfMemoryError{
		Name: a.opts.Name, Asked: asked, Rounded: rounded,
		InUse: a.stats.InUse, Cached: a.stats.Cached, Held: a.stats.Held, Limit: a.opts.Limit,
		Err: err, ReleaseErr: relErr,
	}
	if a.opts.Free != nil {
		if free, total, ferr := a.opts.Free(); ferr == nil {
			e.DeviceFree, e.DeviceTotal, e.HaveDevice = free, total, true
		}
	}
	return e
}

var units = [...]string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}

// scale returns the unit in which n reads best (the largest power of 1024 not above it) and the
// decimals that give three significant digits there.
func scale(n uint64) (unit, decimals int) {
	for v := n; v >= 1024; v /= 1024 {
		unit++
	}
	if unit == 0 {
		return 0, 0
	}
	switch v := float64(n) / float64(uint64(1)<<(10*unit)); {
	case v < 10:
		return unit, 2
	case v < 100:
		return unit, 1
	}
	return unit, 0
}

// formatIn writes n in the given unit with the given decimals; a non-zero n too small to show reads
// "<0.1 GiB" (for one decimal).
func formatIn(n uint64, unit, decimals int) string {
	if unit == 0 {
		return fmt.Sprintf("%d B", n)
	}
	v := float64(n) / float64(uint64(1)<<(10*unit))
	s := fmt.Sprintf("%.*f", decimals, v)
	if n > 0 && strings.Trim(s, "0.") == "" {
		step := "1"
		if decimals > 0 {
			step = "0." + strings.Repeat("0", decimals-1) + "1"
		}
		return "<" + step + " " + units[unit]
	}
	return s + " " + units[unit]
}

// FormatBytes writes n bytes for people, in binary units with three significant digits:
// "512 B", "1.50 KiB", "14.2 GiB", "100 MiB".
func FormatBytes(n uint64) string {
	u, d := scale(n)
	return formatIn(n, u, d)
}

// formatGroup writes figures that are read together (a total and its parts) in the unit and
// decimals of the first, which is the largest: "14.2 GiB", "14.0 GiB", "0.2 GiB".
func formatGroup(ns ...uint64) []string {
	u, d := scale(ns[0])
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = formatIn(n, u, d)
	}
	return out
}
