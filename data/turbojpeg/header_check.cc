//go:build turbojpeg_headers && cgo

// header_check.cc: compile-time check of the hand-written prototypes and constants in shim.h against
// the real turbojpeg.h, and (header_check_test.go) of the iMCU widths. Run with
//
//	go test -tags turbojpeg_headers -run TestHeader ./data/turbojpeg
//
// with the header installed (Debian/Ubuntu: apt-get install libturbojpeg0-dev), or with
// CGO_CXXFLAGS=-I<dir holding turbojpeg.h> for another libjpeg-turbo. The tj3 functions and values are
// checked when the header is libjpeg-turbo 3's (it defines TJ_NUMINIT).

#define TJX_REAL_HEADERS 1
#include "shim.h"

#include <cstddef>
#include <type_traits>

#ifdef TJ_NUMINIT
#define TJX_CHECK_3(name) TJX_CHECK_2(name)
#else
#define TJX_CHECK_3(name)
#endif
#define TJX_CHECK_2(name)                                                                          \
    static_assert(std::is_same<tjx_##name##_t, decltype(&::name)>::value,                          \
                  "data/turbojpeg/shim.h: the prototype of " #name " differs from turbojpeg.h");
#define TJX_CHECK_ENTRY(name, api, ret, params) TJX_CHECK_##api(name)
TJX_SYMBOLS(TJX_CHECK_ENTRY)

// The structs passed by value and through pointers have turbojpeg.h's layout.
static_assert(sizeof(tjx_scalingfactor) == sizeof(tjscalingfactor) &&
                  offsetof(tjx_scalingfactor, num) == offsetof(tjscalingfactor, num) &&
                  offsetof(tjx_scalingfactor, denom) == offsetof(tjscalingfactor, denom),
              "tjscalingfactor layout");
static_assert(sizeof(tjx_region) == sizeof(tjregion) && offsetof(tjx_region, x) == offsetof(tjregion, x) &&
                  offsetof(tjx_region, y) == offsetof(tjregion, y) && offsetof(tjx_region, w) == offsetof(tjregion, w) &&
                  offsetof(tjx_region, h) == offsetof(tjregion, h),
              "tjregion layout");

// The values shim.h and the Go constants hard-code.
static_assert((int)TJX_PF_RGB == (int)TJPF_RGB, "TJPF_RGB");
static_assert(TJX_FLAG_STOPONWARNING == TJFLAG_STOPONWARNING, "TJFLAG_STOPONWARNING");
static_assert(TJX_FLAG_LIMITSCANS == TJFLAG_LIMITSCANS, "TJFLAG_LIMITSCANS");
static_assert(TJERR_WARNING == 0 && TJERR_FATAL == 1, "TJERR values (Error.Warning is code 0)");
static_assert(TJCS_RGB == 0 && TJCS_YCbCr == 1 && TJCS_GRAY == 2 && TJCS_CMYK == 3 && TJCS_YCCK == 4,
              "TJCS values (the Colorspace constants)");
static_assert(TJSAMP_444 == 0 && TJSAMP_422 == 1 && TJSAMP_420 == 2 && TJSAMP_GRAY == 3 && TJSAMP_440 == 4 &&
                  TJSAMP_411 == 5,
              "TJSAMP values (the Subsampling constants)");
#ifdef TJ_NUMINIT
static_assert(TJSAMP_441 == 6 && TJSAMP_UNKNOWN == -1 && TJ_NUMSAMP == 7, "TJSAMP values of libjpeg-turbo 3");
#define TJX_SAME(a, b) ((int)(a) == (int)(b))
static_assert(TJX_SAME(TJX_INIT_DECOMPRESS, TJINIT_DECOMPRESS), "TJINIT_DECOMPRESS");
static_assert(TJX_SAME(TJX_PARAM_STOPONWARNING, TJPARAM_STOPONWARNING) && TJX_SAME(TJX_PARAM_SUBSAMP, TJPARAM_SUBSAMP) &&
                  TJX_SAME(TJX_PARAM_JPEGWIDTH, TJPARAM_JPEGWIDTH) && TJX_SAME(TJX_PARAM_JPEGHEIGHT, TJPARAM_JPEGHEIGHT) &&
                  TJX_SAME(TJX_PARAM_PRECISION, TJPARAM_PRECISION) && TJX_SAME(TJX_PARAM_COLORSPACE, TJPARAM_COLORSPACE) &&
                  TJX_SAME(TJX_PARAM_SCANLIMIT, TJPARAM_SCANLIMIT) && TJX_SAME(TJX_PARAM_LOSSLESS, TJPARAM_LOSSLESS),
              "TJPARAM values");
#else
static_assert(TJ_NUMSAMP == 6, "TJSAMP values of libjpeg-turbo 2");
#endif

// tjMCUWidth is a const array, not usable in a constant expression: TestHeaderMCUWidth reads it.
extern "C" int tjx_header_mcu_width(int i) { return i >= 0 && i < TJ_NUMSAMP ? tjMCUWidth[i] : -1; }
