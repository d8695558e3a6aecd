//go:build turbojpeg_headers && cgo

package turbojpeg

/*
int tjx_header_mcu_width(int i);
*/
import "C"

// headerMCUWidth is turbojpeg.h's tjMCUWidth[i], or -1 past its end.
func headerMCUWidth(i int) int { return int(C.tjx_header_mcu_width(C.int(i))) }
