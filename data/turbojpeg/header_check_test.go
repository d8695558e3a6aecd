//go:build turbojpeg_headers && cgo

package turbojpeg

import "testing"

// TestHeaderMCUWidth compares mcuWidth with turbojpeg.h's tjMCUWidth (the prototypes and the other
// constants are checked when header_check.cc compiles).
func TestHeaderMCUWidth(t *testing.T) {
	n := 0
	for ; headerMCUWidth(n) >= 0; n++ {
		if headerMCUWidth(n) != mcuWidth[n] {
			t.Errorf("tjMCUWidth[%d] = %d, mcuWidth has %d", n, headerMCUWidth(n), mcuWidth[n])
		}
	}
	if n != 6 && n != len(mcuWidth) {
		t.Errorf("turbojpeg.h has %d subsamplings; mcuWidth has %d", n, len(mcuWidth))
	}
	t.Logf("%d iMCU widths checked", n)
}
