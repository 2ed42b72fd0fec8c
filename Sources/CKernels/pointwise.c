// Runtime dispatch between the AVX-512 and AVX2 builds of pointwise_body.h (see skinny.c for
// why instruction sets are enabled per function).
#include "ckernels.h"
#include <math.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#define DL_POINTWISE_X86 1

#define VW 16
#define F(name) dl_pw_##name##_avx512
#define TARGET __attribute__((target("avx512f")))
#include "pointwise_body.h"
#undef VW
#undef F
#undef TARGET

#define VW 8
#define F(name) dl_pw_##name##_avx2
#define TARGET __attribute__((target("avx2,fma")))
#include "pointwise_body.h"
#undef VW
#undef F
#undef TARGET
#endif

void dl_softmax_row(int level, const float *x, float *y, int n, int logarithm) {
#ifdef DL_POINTWISE_X86
    if (level >= 2) dl_pw_softmax_row_avx512(x, y, n, logarithm);
    else if (level == 1) dl_pw_softmax_row_avx2(x, y, n, logarithm);
#endif
}

void dl_softmax_gradient_row(int level, const float *dy, const float *y, float *dx, int n, int logarithm) {
#ifdef DL_POINTWISE_X86
    if (level >= 2) dl_pw_softmax_gradient_row_avx512(dy, y, dx, n, logarithm);
    else if (level == 1) dl_pw_softmax_gradient_row_avx2(dy, y, dx, n, logarithm);
#endif
}

long dl_unary_vectors(int level, int op, const float *x, const float *dy, float *out, long count) {
#ifdef DL_POINTWISE_X86
    if (level >= 2) return dl_pw_unary_avx512(op, x, dy, out, count);
    if (level == 1) return dl_pw_unary_avx2(op, x, dy, out, count);
#endif
    return 0;
}

#ifdef DL_POINTWISE_X86
#define DL_PICK(name, args) \
    do { if (level >= 2) dl_pw_##name##_avx512 args; else if (level == 1) dl_pw_##name##_avx2 args; } while (0)
#else
#define DL_PICK(name, args) do { (void)level; } while (0)
#endif

void dl_layer_norm_rows(int level, const float *x, float *y, long rows, int n, const float *gamma,
                        const float *beta, float epsilon, float *mean, float *inverse) {
    DL_PICK(layer_norm_rows, (x, y, rows, n, gamma, beta, epsilon, mean, inverse));
}

void dl_layer_norm_gradient_rows(int level, const float *dy, const float *x, float *dx, long rows, int n,
                                 const float *gamma, const float *mean, const float *inverse, float *dgamma,
                                 float *dbeta) {
    DL_PICK(layer_norm_gradient_rows, (dy, x, dx, rows, n, gamma, mean, inverse, dgamma, dbeta));
}

void dl_channel_sums(int level, int mode, const float *x, long pixels, int channels, const float *mean,
                     float *sums) {
    DL_PICK(channel_sums, (mode, x, pixels, channels, mean, sums));
}

void dl_channel_affine(int level, const float *dy, const float *x, float *out, long pixels, int channels,
                       const float *a, const float *slope, const float *offset) {
    DL_PICK(channel_affine, (dy, x, out, pixels, channels, a, slope, offset));
}

void dl_channel_gradient_sums(int level, const float *dy, const float *x, long pixels, int channels,
                              const float *mean, float *sumDy, float *sumDyX) {
    DL_PICK(channel_gradient_sums, (dy, x, pixels, channels, mean, sumDy, sumDyX));
}
