/*
 * shim.h: hand-written prototypes of the TurboJPEG functions package turbojpeg binds, and the C
 * wrappers the Go side calls.
 *
 * The library is found at run time (dlopen), so turbojpeg.h is not needed to build. Every bound
 * symbol is one line of TJX_SYMBOLS: its name, the API generation it belongs to (2: present in every
 * libturbojpeg since 1.4; 3: the tj3 functions of libjpeg-turbo 3.0 and later), its return type and
 * its parameters. From that list come the symbol table the loader fills with dlsym, a function-pointer
 * typedef per symbol and (under the turbojpeg_headers build tag, in header_check.cc) a static_assert
 * per symbol comparing the typedef with the declaration in the real turbojpeg.h.
 *
 * With TJX_REAL_HEADERS defined (C++ only, header_check.cc) the real turbojpeg.h supplies tjhandle,
 * tjscalingfactor and tjregion; otherwise they are defined here with the same layout, which
 * header_check.cc also asserts.
 */
#ifndef RESNEXT_TURBOJPEG_SHIM_H
#define RESNEXT_TURBOJPEG_SHIM_H

#include <stddef.h>

/* Mirrors of turbojpeg.h's two structs, always defined so header_check.cc can compare layouts. */
typedef struct {
    int num;
    int denom;
} tjx_scalingfactor;

typedef struct {
    int x;
    int y;
    int w;
    int h;
} tjx_region;

#ifdef TJX_REAL_HEADERS
#include <turbojpeg.h>
#else
typedef void *tjhandle;
typedef tjx_scalingfactor tjscalingfactor;
typedef tjx_region tjregion;
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The values this package uses, from turbojpeg.h (checked by header_check.cc). */
enum {
    TJX_PF_RGB = 0,               /* TJPF_RGB */
    TJX_FLAG_STOPONWARNING = 8192, /* TJFLAG_STOPONWARNING */
    TJX_FLAG_LIMITSCANS = 32768,  /* TJFLAG_LIMITSCANS (libjpeg-turbo 2.1+; older versions ignore it) */
    TJX_INIT_DECOMPRESS = 1,      /* TJINIT_DECOMPRESS */
    TJX_PARAM_STOPONWARNING = 0,  /* TJPARAM_STOPONWARNING */
    TJX_PARAM_SUBSAMP = 4,        /* TJPARAM_SUBSAMP */
    TJX_PARAM_JPEGWIDTH = 5,      /* TJPARAM_JPEGWIDTH */
    TJX_PARAM_JPEGHEIGHT = 6,     /* TJPARAM_JPEGHEIGHT */
    TJX_PARAM_PRECISION = 7,      /* TJPARAM_PRECISION */
    TJX_PARAM_COLORSPACE = 8,     /* TJPARAM_COLORSPACE */
    TJX_PARAM_SCANLIMIT = 13,     /* TJPARAM_SCANLIMIT */
    TJX_PARAM_LOSSLESS = 15,      /* TJPARAM_LOSSLESS */
    TJX_SCAN_LIMIT = 500          /* the scan limit TJFLAG_LIMITSCANS sets */
};

/* TJX_SYMBOLS(X): X(name, API generation, return type, (parameters)). */
#define TJX_SYMBOLS(X)                                                                             \
    X(tjInitDecompress, 2, tjhandle, (void))                                                       \
    X(tjDecompressHeader3, 2, int,                                                                 \
      (tjhandle handle, const unsigned char *jpegBuf, unsigned long jpegSize, int *width,          \
       int *height, int *jpegSubsamp, int *jpegColorspace))                                        \
    X(tjGetScalingFactors, 2, tjscalingfactor *, (int *numScalingFactors))                         \
    X(tjDecompress2, 2, int,                                                                       \
      (tjhandle handle, const unsigned char *jpegBuf, unsigned long jpegSize,                      \
       unsigned char *dstBuf, int width, int pitch, int height, int pixelFormat, int flags))       \
    X(tjDestroy, 2, int, (tjhandle handle))                                                        \
    X(tjGetErrorStr2, 2, char *, (tjhandle handle))                                                \
    X(tjGetErrorCode, 2, int, (tjhandle handle))                                                   \
    X(tj3Init, 3, tjhandle, (int initType))                                                        \
    X(tj3Destroy, 3, void, (tjhandle handle))                                                      \
    X(tj3GetErrorStr, 3, char *, (tjhandle handle))                                                \
    X(tj3GetErrorCode, 3, int, (tjhandle handle))                                                  \
    X(tj3Set, 3, int, (tjhandle handle, int param, int value))                                     \
    X(tj3Get, 3, int, (tjhandle handle, int param))                                                \
    X(tj3DecompressHeader, 3, int, (tjhandle handle, const unsigned char *jpegBuf, size_t jpegSize)) \
    X(tj3SetScalingFactor, 3, int, (tjhandle handle, tjscalingfactor scalingFactor))               \
    X(tj3SetCroppingRegion, 3, int, (tjhandle handle, tjregion croppingRegion))                    \
    X(tj3Decompress8, 3, int,                                                                      \
      (tjhandle handle, const unsigned char *jpegBuf, size_t jpegSize, unsigned char *dstBuf,      \
       int pitch, int pixelFormat))

#define TJX_ENUM_ENTRY(name, api, ret, params) TJX_SYM_##name,
enum { TJX_SYMBOLS(TJX_ENUM_ENTRY) TJX_NSYM };
#undef TJX_ENUM_ENTRY

#define TJX_TYPEDEF_ENTRY(name, api, ret, params) typedef ret(*tjx_##name##_t) params;
TJX_SYMBOLS(TJX_TYPEDEF_ENTRY)
#undef TJX_TYPEDEF_ENTRY

/* tjx_lib: the symbols of one loaded libturbojpeg (the tj3 ones NULL when api is 2). */
typedef struct tjx_lib {
    void *sym[TJX_NSYM];
    int api; /* 2 or 3: which functions the wrappers call */
} tjx_lib;

/* tjx_header: what tjx_read_header returns. rc is 0 on success, -1 on failure (then call
 * tjx_error). precision and lossless are known with api 3 only (8 and 0 otherwise). */
typedef struct tjx_header {
    int rc;
    int width;
    int height;
    int subsamp;
    int colorspace;
    int precision;
    int lossless;
} tjx_header;

/* Symbol table metadata. */
const char *tjx_sym_name(int i);
int tjx_sym_api(int i);

/* dlopen (RTLD_NOW | RTLD_LOCAL) and dlsym that copy dlerror's text into err in the same call. */
void *tjx_dlopen(const char *path, char *err, size_t errlen);
void *tjx_dlsym(void *handle, const char *name, char *err, size_t errlen);

/* tjx_scaling_factors copies up to n of the library's scaling factors into nums and denoms and
 * returns how many there are (-1 on failure). */
int tjx_scaling_factors(const tjx_lib *L, int *nums, int *denoms, int n);

/* tjx_init creates a decompressor that stops on warnings and limits progressive scans; on failure it
 * returns NULL with the library's message in err. */
tjhandle tjx_init(const tjx_lib *L, char *err, size_t errlen);
void tjx_destroy(const tjx_lib *L, tjhandle h);

/* tjx_error copies the handle's last error message into buf and returns its code (TJERR_WARNING 0,
 * TJERR_FATAL 1). */
int tjx_error(const tjx_lib *L, tjhandle h, char *buf, size_t len);

tjx_header tjx_read_header(const tjx_lib *L, tjhandle h, const unsigned char *buf, size_t size);

/* tjx_decode decodes buf at 1/scale into dst (pitch bytes a row, TJPF_RGB): with api 2 the whole
 * picture, whose scaled size is width x height; with api 3 the region (x, y, w, h) of the scaled
 * picture, or all of it when w is 0. Returns 0, or -1 (then call tjx_error). */
int tjx_decode(const tjx_lib *L, tjhandle h, const unsigned char *buf, size_t size, unsigned char *dst,
               int pitch, int scale, int width, int height, int x, int y, int w, int hgt);

#ifdef __cplusplus
}
#endif

#endif
