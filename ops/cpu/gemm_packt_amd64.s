//go:build !purego

#include "textflag.h"

// func sgemmPackBT8(kb int, b *float32, ldb int, dst *float32, stride int)
// Packs eight columns of a transposed B: dst[p*stride+j] = b[j*ldb+p] for j < 8 and p < kb, kb a
// multiple of 8. Each step loads an 8x8 block (eight runs of B, one per column of op(B)),
// transposes it in registers (unpack, shuffle, lane permute) and stores eight rows of the panel.
TEXT ·sgemmPackBT8(SB), NOSPLIT, $0-40
	MOVQ kb+0(FP), CX
	MOVQ b+8(FP), SI
	MOVQ ldb+16(FP), R8
	MOVQ dst+24(FP), DI
	MOVQ stride+32(FP), R10
	SHLQ $2, R8          // ldb in bytes
	SHLQ $2, R10         // stride in bytes
	LEAQ (R8)(R8*2), R9  // 3*ldb
	LEAQ (R10)(R10*2), R11 // 3*stride

loop:
	CMPQ CX, $8
	JL   done
	LEAQ (SI)(R8*4), DX  // rows 4-7
	VMOVUPS (SI), Y0
	VMOVUPS (SI)(R8*1), Y1
	VMOVUPS (SI)(R8*2), Y2
	VMOVUPS (SI)(R9*1), Y3
	VMOVUPS (DX), Y4
	VMOVUPS (DX)(R8*1), Y5
	VMOVUPS (DX)(R8*2), Y6
	VMOVUPS (DX)(R9*1), Y7

	VUNPCKLPS Y1, Y0, Y8
	VUNPCKHPS Y1, Y0, Y9
	VUNPCKLPS Y3, Y2, Y10
	VUNPCKHPS Y3, Y2, Y11
	VUNPCKLPS Y5, Y4, Y12
	VUNPCKHPS Y5, Y4, Y13
	VUNPCKLPS Y7, Y6, Y14
	VUNPCKHPS Y7, Y6, Y15

	VSHUFPS $0x44, Y10, Y8, Y0
	VSHUFPS $0xEE, Y10, Y8, Y1
	VSHUFPS $0x44, Y11, Y9, Y2
	VSHUFPS $0xEE, Y11, Y9, Y3
	VSHUFPS $0x44, Y14, Y12, Y4
	VSHUFPS $0xEE, Y14, Y12, Y5
	VSHUFPS $0x44, Y15, Y13, Y6
	VSHUFPS $0xEE, Y15, Y13, Y7

	VPERM2F128 $0x20, Y4, Y0, Y8
	VPERM2F128 $0x20, Y5, Y1, Y9
	VPERM2F128 $0x20, Y6, Y2, Y10
	VPERM2F128 $0x20, Y7, Y3, Y11
	VPERM2F128 $0x31, Y4, Y0, Y12
	VPERM2F128 $0x31, Y5, Y1, Y13
	VPERM2F128 $0x31, Y6, Y2, Y14
	VPERM2F128 $0x31, Y7, Y3, Y15

	LEAQ (DI)(R10*4), DX // rows 4-7 of the panel
	VMOVUPS Y8, (DI)
	VMOVUPS Y9, (DI)(R10*1)
	VMOVUPS Y10, (DI)(R10*2)
	VMOVUPS Y11, (DI)(R11*1)
	VMOVUPS Y12, (DX)
	VMOVUPS Y13, (DX)(R10*1)
	VMOVUPS Y14, (DX)(R10*2)
	VMOVUPS Y15, (DX)(R11*1)

	ADDQ $32, SI
	LEAQ (DX)(R10*4), DI
	SUBQ $8, CX
	JMP  loop

done:
	VZEROUPPER
	RET
