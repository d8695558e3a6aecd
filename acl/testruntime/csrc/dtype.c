/* dtype.c: element types: sizes, names, half and bfloat16 conversion, loads and stores. */
#include "internal.h"

#include <math.h>
#include <string.h>

size_t tr_dtype_size(aclDataType dt) {
    switch (dt) {
    case ACL_FLOAT: case ACL_INT32: case ACL_UINT32: return 4;
    case ACL_FLOAT16: case ACL_BF16: case ACL_INT16: case ACL_UINT16: return 2;
    case ACL_INT8: case ACL_UINT8: case ACL_BOOL: return 1;
    case ACL_INT64: case ACL_UINT64: case ACL_DOUBLE: return 8;
    default: return 0;
    }
}

const char *tr_dtype_name(aclDataType dt) {
    switch (dt) {
    case ACL_FLOAT: return "float32";
    case ACL_FLOAT16: return "float16";
    case ACL_BF16: return "bfloat16";
    case ACL_INT8: return "int8";
    case ACL_UINT8: return "uint8";
    case ACL_INT16: return "int16";
    case ACL_UINT16: return "uint16";
    case ACL_INT32: return "int32";
    case ACL_UINT32: return "uint32";
    case ACL_INT64: return "int64";
    case ACL_UINT64: return "uint64";
    case ACL_DOUBLE: return "float64";
    case ACL_BOOL: return "bool";
    default: return "unknown dtype";
    }
}

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

float tr_half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    if (exp == 0x1f) return bits_f32(sign | 0x7f800000u | (man << 13));
    if (exp == 0) {
        float v = (float)man / 16777216.0f;
        return sign ? -v : v;
    }
    return bits_f32(sign | ((exp + 112) << 23) | (man << 13));
}

/* Round to nearest even, with overflow to infinity and gradual underflow. */
uint16_t tr_float_to_half(float f) {
    uint32_t u = f32_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    uint32_t a = u & 0x7fffffffu;
    if (a >= 0x7f800000u) return (uint16_t)(sign | 0x7c00 | (a > 0x7f800000u ? 0x200 : 0));
    if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00); /* rounds to >= 65520: infinity */
    if (a < 0x38800000u) {                                  /* below the smallest normal half */
        float v = bits_f32(a);
        float q = v * 16777216.0f; /* in units of 2^-24, exact */
        uint32_t n = (uint32_t)q;
        float frac = q - (float)n;
        if (frac > 0.5f || (frac == 0.5f && (n & 1))) n++;
        return (uint16_t)(sign | n);
    }
    uint32_t exp = (a >> 23) - 112;
    uint32_t man = a & 0x7fffff;
    uint32_t h = (exp << 10) | (man >> 13);
    uint32_t rest = man & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) h++;
    return (uint16_t)(sign | h);
}

float tr_bf16_to_float(uint16_t h) { return bits_f32((uint32_t)h << 16); }

uint16_t tr_float_to_bf16(float f) {
    uint32_t u = f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fff + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

double tr_load(const aclTensor *t, int64_t idx) {
    const char *p = (const char *)t->data + idx * (int64_t)tr_dtype_size(t->dtype);
    switch (t->dtype) {
    case ACL_FLOAT: { float v; memcpy(&v, p, 4); return v; }
    case ACL_FLOAT16: { uint16_t v; memcpy(&v, p, 2); return tr_half_to_float(v); }
    case ACL_BF16: { uint16_t v; memcpy(&v, p, 2); return tr_bf16_to_float(v); }
    case ACL_DOUBLE: { double v; memcpy(&v, p, 8); return v; }
    case ACL_INT8: return *(const int8_t *)p;
    case ACL_UINT8: return *(const uint8_t *)p;
    case ACL_BOOL: return *(const uint8_t *)p != 0;
    case ACL_INT16: { int16_t v; memcpy(&v, p, 2); return v; }
    case ACL_UINT16: { uint16_t v; memcpy(&v, p, 2); return v; }
    case ACL_INT32: { int32_t v; memcpy(&v, p, 4); return v; }
    case ACL_UINT32: { uint32_t v; memcpy(&v, p, 4); return v; }
    case ACL_INT64: { int64_t v; memcpy(&v, p, 8); return (double)v; }
    case ACL_UINT64: { uint64_t v; memcpy(&v, p, 8); return (double)v; }
    default: return NAN;
    }
}

/* Integer stores truncate toward zero, as a cast does; NaN stores 0. */
static int64_t to_int(double v) { return isnan(v) ? 0 : (int64_t)v; }

void tr_store(const aclTensor *t, int64_t idx, double v) {
    char *p = (char *)t->data + idx * (int64_t)tr_dtype_size(t->dtype);
    switch (t->dtype) {
    case ACL_FLOAT: { float x = (float)v; memcpy(p, &x, 4); break; }
    case ACL_FLOAT16: { uint16_t x = tr_float_to_half((float)v); memcpy(p, &x, 2); break; }
    case ACL_BF16: { uint16_t x = tr_float_to_bf16((float)v); memcpy(p, &x, 2); break; }
    case ACL_DOUBLE: memcpy(p, &v, 8); break;
    case ACL_INT8: *(int8_t *)p = (int8_t)to_int(v); break;
    case ACL_UINT8: *(uint8_t *)p = (uint8_t)to_int(v); break;
    case ACL_BOOL: *(uint8_t *)p = v != 0; break;
    case ACL_INT16: { int16_t x = (int16_t)to_int(v); memcpy(p, &x, 2); break; }
    case ACL_UINT16: { uint16_t x = (uint16_t)to_int(v); memcpy(p, &x, 2); break; }
    case ACL_INT32: { int32_t x = (int32_t)to_int(v); memcpy(p, &x, 4); break; }
    case ACL_UINT32: { uint32_t x = (uint32_t)to_int(v); memcpy(p, &x, 4); break; }
    case ACL_INT64: { int64_t x = to_int(v); memcpy(p, &x, 8); break; }
    case ACL_UINT64: { uint64_t x = (uint64_t)to_int(v); memcpy(p, &x, 8); break; }
    default: break;
    }
}

/* The value v becomes when stored as dt (used to round scalar attributes the way the device would). */
double tr_round_to(aclDataType dt, double v) {
    switch (dt) {
    case ACL_FLOAT: return (float)v;
    case ACL_FLOAT16: return tr_half_to_float(tr_float_to_half((float)v));
    case ACL_BF16: return tr_bf16_to_float(tr_float_to_bf16((float)v));
    default: return v;
    }
}
