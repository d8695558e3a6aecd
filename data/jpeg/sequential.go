package jpeg

import "errors"

// zigzag maps the zig-zag index of a coefficient to its natural (row-major) index.
var zigzag = [64]uint8{
	0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5,
	12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
	35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
	58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
}

var (
	errCorrupt   = errors.New("jpeg: corrupt entropy-coded data")
	errTruncated = errors.New("jpeg: entropy-coded data ends early (truncated file)")
)

// decodeBlocks decodes the blocks of scan s down to the last row the window needs, in MCU
// order (single blocks for a one-component scan). Sequential scans run the IDCT of the window's
// blocks as they come and, when they carry every component, convert the rows that are complete;
// progressive scans add to the coefficient store.
func (d *Decoder) decodeBlocks(s *scan) error {
	if s.n == 1 {
		c := &d.comps[s.comp[0]]
		for by := 0; by < c.by1; by++ {
			for bx := 0; bx < c.cbw; bx++ {
				if err := d.unit(s, by*c.cbw+bx, c, bx, by); err != nil {
					return err
				}
			}
			d.rowDone(s, by+1)
		}
		return nil
	}
	rows := 0
	for i := 0; i < s.n; i++ {
		c := &d.comps[s.comp[i]]
		rows = max(rows, ceilDiv(c.by1, c.v))
	}
	for my := 0; my < rows; my++ {
		for mx := 0; mx < d.mcusX; mx++ {
			for i := 0; i < s.n; i++ {
				c := &d.comps[s.comp[i]]
				for j := 0; j < c.v; j++ {
					for k := 0; k < c.h; k++ {
						mcu := my*d.mcusX + mx
						if i+j+k > 0 {
							mcu = -1 // not the MCU's first block: no restart check
						}
						if err := d.unit(s, mcu, c, mx*c.h+k, my*c.v+j); err != nil {
							return err
						}
					}
				}
			}
		}
		d.rowDone(s, my+1)
	}
	return nil
}

// unit decodes block (bx, by) of c; mcu is the number of the MCU it begins, or -1.
func (d *Decoder) unit(s *scan, mcu int, c *component, bx, by int) error {
	if mcu >= 0 {
		if err := d.restartCheck(s, mcu); err != nil {
			return err
		}
	}
	if d.progressive {
		return d.progressiveBlock(c, s, bx, by)
	}
	return d.sequentialBlock(c, bx, by)
}

// rowDone records that the scan's components are decoded down to MCU row rows and, for a
// sequential scan of every component, converts the output rows that are now complete.
func (d *Decoder) rowDone(s *scan, rows int) {
	if d.progressive {
		return
	}
	for i := 0; i < s.n; i++ {
		c := &d.comps[s.comp[i]]
		c.rowsDone = rows * c.v
		if s.n == 1 {
			c.rowsDone = rows
		}
	}
	if s.n == d.ncomp {
		d.convertRows(d.readyRows())
	}
}

// sequentialBlock decodes block (bx, by) of c and, when the window needs it, its IDCT.
func (d *Decoder) sequentialBlock(c *component, bx, by int) error {
	last := d.br.decodeBlock(&d.blk, &d.dc[c.dcT], &d.ac[c.acT], &c.q, &c.dcPred)
	if last < 0 {
		clear(d.blk[:])
		return errCorrupt
	}
	if d.br.overrun() {
		clear(d.blk[:])
		return errTruncated
	}
	if bx >= c.bx0 && bx < c.bx1 && by >= c.by0 && by < c.by1 {
		d.idctBlock(c, bx, by, last)
	}
	d.clearBlock(last)
	return nil
}

// clearBlock zeroes d.blk, whose non-zero coefficients are at zig-zag indices 0..last.
func (d *Decoder) clearBlock(last int) {
	if last > 16 {
		clear(d.blk[:])
		return
	}
	for k := 0; k <= last; k++ {
		d.blk[zigzag[k&63]&63] = 0
	}
}

// idctBlock runs the inverse DCT of d.blk (whose last non-zero coefficient in zig-zag order is at
// last) into block (bx, by) of c's plane.
func (d *Decoder) idctBlock(c *component, bx, by, last int) {
	dst := c.plane[(by*c.stride+bx)*c.bs:]
	switch {
	case last == 0:
		idctDC(d.blk[0], dst, c.stride, c.bs)
	case c.bs == 8 && last <= 9:
		idct8Low(&d.blk, dst, c.stride)
	case c.bs == 8:
		idct8(&d.blk, dst, c.stride)
	case c.bs == 4:
		idct4(&d.blk, dst, c.stride)
	case c.bs == 2:
		idct2(&d.blk, dst, c.stride)
	default:
		idct1(&d.blk, dst)
	}
}

// readyRows is the window row up to which every component's samples (with the neighbours the
// upsampling reads) have been decoded.
func (d *Decoder) readyRows() int {
	ready := d.win.Max.Y
	for i := 0; i < d.ncomp; i++ {
		c := &d.comps[i]
		rows := c.rowsDone * c.bs
		if rows >= c.dh {
			continue
		}
		if c.up == upH1V2 || c.up == upH2V2 {
			rows-- // the last row's lower neighbour is still to come
		}
		ready = min(ready, rows*c.fy)
	}
	return ready
}

// decodeBlock decodes one block of a sequential scan into blk (natural order, dequantized by q,
// which is in zig-zag order; blk must be zero on entry) and returns the zig-zag index of its last
// non-zero coefficient, or -1 for corrupt data. pred is the component's DC predictor.
func (br *bitReader) decodeBlock(blk *[64]int32, dc, ac *huffTable, q *[64]int32, pred *int32) int {
	if br.n < 32 {
		br.fill()
	}
	acc, n := br.acc, br.n
	// DC: a difference of size s, then s bits.
	var diff int32
	if e := dc.fast[acc>>(64-lutBits)]; e != 0 {
		l := uint(e) & 63
		acc <<= l
		n -= l
		diff = e >> 16
	} else {
		br.acc, br.n = acc, n
		s, err := br.decode(dc)
		if err != nil || s > 15 {
			return -1
		}
		diff = br.receiveExtend(uint(s))
		acc, n = br.acc, br.n
	}
	*pred += diff
	blk[0] = *pred * q[0]
	last := 0
	for k := 1; k < 64; {
		if n < 32 {
			br.acc, br.n = acc, n
			br.fill()
			acc, n = br.acc, br.n
		}
		peek := acc >> (64 - lutBits)
		if e := ac.fast[peek]; e != 0 {
			// Code and value in one lookup (or an end of block).
			l := uint(e) & 63 // total length; the mask spares the compiler's check for shifts >= 64
			acc <<= l
			n -= l
			k += int(e>>8) & 0xFF
			if k > 63 {
				if k >= 0x80 {
					break
				}
				return -1
			}
			blk[zigzag[k&63]&63] = (e >> 16) * q[k&63]
			last = k
			k++
			continue
		}
		var sym int
		if e := ac.lut[peek]; e != 0 {
			l := uint(e>>8) & 63
			acc <<= l
			n -= l
			sym = int(e & 0xFF)
		} else {
			br.acc, br.n = acc, n
			s, err := br.decodeSlow(ac)
			if err != nil {
				return -1
			}
			acc, n = br.acc, br.n
			sym = int(s)
		}
		r, s := sym>>4, uint(sym&15)
		if s == 0 {
			if r != 15 {
				break // end of block
			}
			k += 16
			continue
		}
		k += r
		if k > 63 {
			return -1
		}
		raw := int32(acc >> (64 - s))
		acc <<= s
		n -= s
		blk[zigzag[k&63]&63] = extend(raw, s) * q[k&63]
		last = k
		k++
	}
	br.acc, br.n = acc, n
	return last
}
