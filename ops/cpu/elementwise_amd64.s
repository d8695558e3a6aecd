//go:build !purego

#include "textflag.h"

// func reluAVX2(n int, x, y *float32)
// y[i] = max(x[i], 0) for i < n, n a multiple of 8. VMAXPS returns its second source when either is
// NaN or both are zeros, so x is the second source: NaN stays NaN and -0 stays -0, as in the
// portable loop.
TEXT ·reluAVX2(SB), NOSPLIT, $0-24
	MOVQ n+0(FP), CX
	MOVQ x+8(FP), SI
	MOVQ y+16(FP), DI
	VXORPS Y0, Y0, Y0

relu32:
	CMPQ CX, $32
	JL   relu8
	VMOVUPS (SI), Y1
	VMOVUPS 32(SI), Y2
	VMOVUPS 64(SI), Y3
	VMOVUPS 96(SI), Y4
	VMAXPS  Y1, Y0, Y1
	VMAXPS  Y2, Y0, Y2
	VMAXPS  Y3, Y0, Y3
	VMAXPS  Y4, Y0, Y4
	VMOVUPS Y1, (DI)
	VMOVUPS Y2, 32(DI)
	VMOVUPS Y3, 64(DI)
	VMOVUPS Y4, 96(DI)
	ADDQ    $128, SI
	ADDQ    $128, DI
	SUBQ    $32, CX
	JMP     relu32

relu8:
	CMPQ CX, $8
	JL   reluDone
	VMOVUPS (SI), Y1
	VMAXPS  Y1, Y0, Y1
	VMOVUPS Y1, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	SUBQ    $8, CX
	JMP     relu8

reluDone:
	VZEROUPPER
	RET

// func reluGradAVX2(n int, dy, y, dx *float32)
// dx[i] = dy[i] unless y[i] <= 0, else 0, for i < n, n a multiple of 8: the mask is "not less
// than or equal" with unordered true (predicate 6, NLE_US), so a NaN in y passes dy.
TEXT ·reluGradAVX2(SB), NOSPLIT, $0-32
	MOVQ n+0(FP), CX
	MOVQ dy+8(FP), SI
	MOVQ y+16(FP), DX
	MOVQ dx+24(FP), DI
	VXORPS Y0, Y0, Y0

grad16:
	CMPQ CX, $16
	JL   grad8
	VMOVUPS (DX), Y1
	VMOVUPS 32(DX), Y2
	VCMPPS  $6, Y0, Y1, Y1
	VCMPPS  $6, Y0, Y2, Y2
	VANDPS  (SI), Y1, Y1
	VANDPS  32(SI), Y2, Y2
	VMOVUPS Y1, (DI)
	VMOVUPS Y2, 32(DI)
	ADDQ    $64, SI
	ADDQ    $64, DX
	ADDQ    $64, DI
	SUBQ    $16, CX
	JMP     grad16

grad8:
	CMPQ CX, $8
	JL   gradDone
	VMOVUPS (DX), Y1
	VCMPPS  $6, Y0, Y1, Y1
	VANDPS  (SI), Y1, Y1
	VMOVUPS Y1, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, DI
	SUBQ    $8, CX
	JMP     grad8

gradDone:
	VZEROUPPER
	RET

// func addAVX2(n int, a, b, y *float32, alpha float32)
// y[i] = a[i] + alpha*b[i] for i < n, n a multiple of 8, the product rounded and then the sum, as
// the portable loop does at the default GOAMD64 (v3 fuses them). y may be a or b: each vector is
// read before it is written.
TEXT ·addAVX2(SB), NOSPLIT, $0-36
	MOVQ         n+0(FP), CX
	MOVQ         a+8(FP), SI
	MOVQ         b+16(FP), DX
	MOVQ         y+24(FP), DI
	VBROADCASTSS alpha+32(FP), Y0

add32:
	CMPQ    CX, $32
	JL      add8
	VMULPS  (DX), Y0, Y1
	VMULPS  32(DX), Y0, Y2
	VMULPS  64(DX), Y0, Y3
	VMULPS  96(DX), Y0, Y4
	VADDPS  (SI), Y1, Y1
	VADDPS  32(SI), Y2, Y2
	VADDPS  64(SI), Y3, Y3
	VADDPS  96(SI), Y4, Y4
	VMOVUPS Y1, (DI)
	VMOVUPS Y2, 32(DI)
	VMOVUPS Y3, 64(DI)
	VMOVUPS Y4, 96(DI)
	ADDQ    $128, SI
	ADDQ    $128, DX
	ADDQ    $128, DI
	SUBQ    $32, CX
	JMP     add32

add8:
	CMPQ    CX, $8
	JL      addDone
	VMULPS  (DX), Y0, Y1
	VADDPS  (SI), Y1, Y1
	VMOVUPS Y1, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, DI
	SUBQ    $8, CX
	JMP     add8

addDone:
	VZEROUPPER
	RET
