//go:build cgo

/*
 * shim.c: the C side of package turbojpeg. Each wrapper calls TurboJPEG through the symbol table of a
 * loaded library. Messages that live in thread-local storage (dlerror, a failed tjInitDecompress) are
 * copied in the same C call, since a goroutine may change threads between two cgo calls.
 */
#include <dlfcn.h>
#include <string.h>

#include "shim.h"

#define TJX_FN(L, name) ((tjx_##name##_t)(L)->sym[TJX_SYM_##name])

#define TJX_NAME_ENTRY(name, api, ret, params) #name,
static const char *const tjx_names[TJX_NSYM] = {TJX_SYMBOLS(TJX_NAME_ENTRY)};
#undef TJX_NAME_ENTRY

#define TJX_API_ENTRY(name, api, ret, params) api,
static const int tjx_apis[TJX_NSYM] = {TJX_SYMBOLS(TJX_API_ENTRY)};
#undef TJX_API_ENTRY

const char *tjx_sym_name(int i) { return tjx_names[i]; }
int tjx_sym_api(int i) { return tjx_apis[i]; }

static void tjx_copy(char *dst, size_t len, const char *src) {
    if (len == 0) {
        return;
    }
    dst[0] = 0;
    if (src != NULL) {
        strncpy(dst, src, len - 1);
        dst[len - 1] = 0;
    }
}

void *tjx_dlopen(const char *path, char *err, size_t errlen) {
    dlerror();
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        tjx_copy(err, errlen, dlerror());
    }
    return h;
}

void *tjx_dlsym(void *handle, const char *name, char *err, size_t errlen) {
    dlerror();
    void *p = dlsym(handle, name);
    if (p == NULL) {
        tjx_copy(err, errlen, dlerror());
    }
    return p;
}

int tjx_scaling_factors(const tjx_lib *L, int *nums, int *denoms, int n) {
    int count = 0;
    tjscalingfactor *sf = TJX_FN(L, tjGetScalingFactors)(&count);
    if (sf == NULL) {
        return -1;
    }
    for (int i = 0; i < count && i < n; i++) {
        nums[i] = sf[i].num;
        denoms[i] = sf[i].denom;
    }
    return count;
}

tjhandle tjx_init(const tjx_lib *L, char *err, size_t errlen) {
    if (L->api == 2) {
        tjhandle h = TJX_FN(L, tjInitDecompress)();
        if (h == NULL) {
            tjx_copy(err, errlen, TJX_FN(L, tjGetErrorStr2)(NULL));
        }
        return h;
    }
    tjhandle h = TJX_FN(L, tj3Init)(TJX_INIT_DECOMPRESS);
    if (h == NULL) {
        tjx_copy(err, errlen, TJX_FN(L, tj3GetErrorStr)(NULL));
        return NULL;
    }
    if (TJX_FN(L, tj3Set)(h, TJX_PARAM_STOPONWARNING, 1) != 0 ||
        TJX_FN(L, tj3Set)(h, TJX_PARAM_SCANLIMIT, TJX_SCAN_LIMIT) != 0) {
        tjx_copy(err, errlen, TJX_FN(L, tj3GetErrorStr)(h));
        TJX_FN(L, tj3Destroy)(h);
        return NULL;
    }
    return h;
}

void tjx_destroy(const tjx_lib *L, tjhandle h) {
    if (L->api == 2) {
        TJX_FN(L, tjDestroy)(h);
    } else {
        TJX_FN(L, tj3Destroy)(h);
    }
}

int tjx_error(const tjx_lib *L, tjhandle h, char *buf, size_t len) {
    if (L->api == 2) {
        tjx_copy(buf, len, TJX_FN(L, tjGetErrorStr2)(h));
        return TJX_FN(L, tjGetErrorCode)(h);
    }
    tjx_copy(buf, len, TJX_FN(L, tj3GetErrorStr)(h));
    return TJX_FN(L, tj3GetErrorCode)(h);
}

tjx_header tjx_read_header(const tjx_lib *L, tjhandle h, const unsigned char *buf, size_t size) {
    tjx_header r;
    memset(&r, 0, sizeof r);
    r.precision = 8;
    if (L->api == 2) {
        r.rc = TJX_FN(L, tjDecompressHeader3)(h, buf, (unsigned long)size, &r.width, &r.height, &r.subsamp,
                                              &r.colorspace);
        return r;
    }
    /* A tables-only datastream returns 0 without setting the parameters, which would keep the
     * previous picture's. Precision 2 (a value only lossless pictures can have) marks them unset. */
    if (TJX_FN(L, tj3Set)(h, TJX_PARAM_PRECISION, 2) != 0) {
        r.rc = -1;
        return r;
    }
    r.rc = TJX_FN(L, tj3DecompressHeader)(h, buf, size);
    if (r.rc != 0) {
        return r;
    }
    tjx_tj3Get_t get = TJX_FN(L, tj3Get);
    if (get(h, TJX_PARAM_PRECISION) == 2 && get(h, TJX_PARAM_LOSSLESS) != 1) {
        return r; /* width 0: no picture */
    }
    r.width = get(h, TJX_PARAM_JPEGWIDTH);
    r.height = get(h, TJX_PARAM_JPEGHEIGHT);
    r.subsamp = get(h, TJX_PARAM_SUBSAMP);
    r.colorspace = get(h, TJX_PARAM_COLORSPACE);
    r.precision = get(h, TJX_PARAM_PRECISION);
    r.lossless = get(h, TJX_PARAM_LOSSLESS);
    return r;
}

int tjx_decode(const tjx_lib *L, tjhandle h, const unsigned char *buf, size_t size, unsigned char *dst,
               int pitch, int scale, int width, int height, int x, int y, int w, int hgt) {
    if (L->api == 2) {
        return TJX_FN(L, tjDecompress2)(h, buf, (unsigned long)size, dst, width, pitch, height, TJX_PF_RGB,
                                        TJX_FLAG_STOPONWARNING | TJX_FLAG_LIMITSCANS);
    }
    /* The cropping region is checked against the header the handle last read: read buf's. */
    if (TJX_FN(L, tj3DecompressHeader)(h, buf, size) != 0) {
        return -1;
    }
    tjscalingfactor sf;
    sf.num = 1;
    sf.denom = scale;
    if (TJX_FN(L, tj3SetScalingFactor)(h, sf) != 0) {
        return -1;
    }
    tjregion region;
    region.x = x;
    region.y = y;
    region.w = w;
    region.h = hgt;
    if (TJX_FN(L, tj3SetCroppingRegion)(h, region) != 0) {
        return -1;
    }
    return TJX_FN(L, tj3Decompress8)(h, buf, size, dst, pitch, TJX_PF_RGB);
}
