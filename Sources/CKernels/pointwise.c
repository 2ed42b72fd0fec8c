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
