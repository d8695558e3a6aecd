package jpeg

import "fmt"

// progressiveBlock decodes the part of block (bx, by) of c that scan s carries.
func (d *Decoder) progressiveBlock(c *component, s *scan, bx, by int) error {
	blk := (*[64]int16)(c.coef[64*(by*c.bw+bx):])
	var err error
	switch {
	case s.ss == 0 && s.ah == 0:
		err = d.dcFirst(c, blk, s.al)
	case s.ss == 0:
		if d.br.bit() {
			blk[0] |= 1 << s.al
		}
	case s.ah == 0:
		err = d.acFirst(c, blk, s)
	default:
		err = d.acRefine(c, blk, s)
	}
	if err != nil {
		return err
	}
	if d.br.overrun() {
		return errTruncated
	}
	return nil
}

// dcFirst decodes the first approximation of a DC coefficient.
func (d *Decoder) dcFirst(c *component, blk *[64]int16, al int) error {
	s, err := d.br.decode(&d.dc[c.dcT])
	if err != nil {
		return err
	}
	if s > 15 {
		return fmt.Errorf("jpeg: corrupt entropy-coded data (DC difference of %d bits)", s)
	}
	c.dcPred += d.br.receiveExtend(uint(s))
	blk[0] = int16(c.dcPred << al)
	return nil
}

// acFirst decodes the first approximation of the AC coefficients ss..se of a block.
func (d *Decoder) acFirst(c *component, blk *[64]int16, s *scan) error {
	if d.eobrun > 0 {
		d.eobrun--
		return nil
	}
	t := &d.ac[c.acT]
	for k := s.ss; k <= s.se; k++ {
		sym, err := d.br.decode(t)
		if err != nil {
			return err
		}
		r, size := int(sym>>4), uint(sym&15)
		if size == 0 {
			if r < 15 {
				d.eobrun = 1<<r - 1
				if r > 0 {
					d.eobrun += int(d.br.bits(uint(r)))
				}
				break
			}
			k += 15
			continue
		}
		k += r
		if k > s.se {
			return errCorrupt
		}
		blk[k] = int16(d.br.receiveExtend(size) << s.al)
	}
	return nil
}

// acRefine decodes a refinement pass over the AC coefficients ss..se of a block: one correction
// bit for each coefficient already non-zero, and newly non-zero coefficients of magnitude 1<<al.
func (d *Decoder) acRefine(c *component, blk *[64]int16, s *scan) error {
	p1 := int16(1) << s.al
	k := s.ss
	if d.eobrun == 0 {
		t := &d.ac[c.acT]
		for ; k <= s.se; k++ {
			sym, err := d.br.decode(t)
			if err != nil {
				return err
			}
			r, size := int(sym>>4), sym&15
			var v int16
			switch {
			case size == 1:
				v = -p1
				if d.br.bit() {
					v = p1
				}
			case size != 0:
				return errCorrupt
			case r < 15:
				d.eobrun = 1 << r
				if r > 0 {
					d.eobrun += int(d.br.bits(uint(r)))
				}
			}
			if d.eobrun > 0 {
				break
			}
			// Refine the non-zero coefficients in the way and skip r zero ones.
			for ; k <= s.se; k++ {
				if blk[k] != 0 {
					d.refine(&blk[k], p1)
					continue
				}
				if r == 0 {
					break
				}
				r--
			}
			if v != 0 {
				if k > s.se {
					return errCorrupt
				}
				blk[k] = v
			}
		}
	}
	if d.eobrun > 0 {
		for ; k <= s.se; k++ {
			if blk[k] != 0 {
				d.refine(&blk[k], p1)
			}
		}
		d.eobrun--
	}
	return nil
}

// refine applies a correction bit to an already non-zero coefficient.
func (d *Decoder) refine(c *int16, p1 int16) {
	if d.br.bit() && *c&p1 == 0 {
		if *c >= 0 {
			*c += p1
		} else {
			*c -= p1
		}
	}
}

// idctProgressive dequantizes and transforms the window's blocks after the last scan.
func (d *Decoder) idctProgressive() {
	for i := 0; i < d.ncomp; i++ {
		c := &d.comps[i]
		for by := c.by0; by < c.by1; by++ {
			for bx := c.bx0; bx < c.bx1; bx++ {
				coef := (*[64]int16)(c.coef[64*(by*c.bw+bx):])
				last := 0
				for k, v := range coef {
					if v != 0 {
						d.blk[zigzag[k]] = int32(v) * c.q[k]
						last = k
					}
				}
				d.idctBlock(c, bx, by, last)
				d.clearBlock(last)
			}
		}
	}
}
