// Runtime dispatch between the AVX-512 and AVX2 builds of thinconv_body.h (see skinny.c for why
// instruction sets are enabled per function): direct convolutions for layers with at most 4
// output channels, whose patch-matrix GEMMs have N ≤ 4 and run at a tenth of sgemm's speed.
#include "ckernels.h"
#include <string.h>

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#define DL_THIN_X86 1
#define VW 16
#define F(name) dl_tc_##name##_avx512
#define TARGET __attribute__((target("avx512f")))
#include "thinconv_body.h"
#undef VW
#undef F
#undef TARGET
#define VW 8
#define F(name) dl_tc_##name##_avx2
#define TARGET __attribute__((target("avx2,fma")))
#include "thinconv_body.h"
#undef VW
#undef F
#undef TARGET
#endif

void dl_thin_conv_pack(const float *w, int taps, int c, int cout, float *wt) {
    for (long tap = 0; tap < taps; tap++)
        for (int o = 0; o < 4; o++)
            for (long ci = 0; ci < c; ci++) wt[(tap * 4 + o) * c + ci] = o < cout ? w[(tap * c + ci) * cout + o] : 0.0f;
}

void dl_thin_conv_unpack(const float *wt, int taps, int c, int cout, float *w) {
    for (long tap = 0; tap < taps; tap++)
        for (long ci = 0; ci < c; ci++)
            for (int o = 0; o < cout; o++) w[(tap * c + ci) * cout + o] = wt[(tap * 4 + o) * c + ci];
}

void dl_thin_conv_forward(int level, const float *x, int height, int width, int c, int kh, int kw, const float *wt,
                          int cout, const float *bias, float *y, int out_height, int out_width, long line0,
                          long line1) {
#ifdef DL_THIN_X86
    if (level >= 2) dl_tc_thin_forward_avx512(x, height, width, c, kh, kw, wt, cout, bias, y, out_height, out_width, line0, line1);
    else if (level == 1) dl_tc_thin_forward_avx2(x, height, width, c, kh, kw, wt, cout, bias, y, out_height, out_width, line0, line1);
#endif
}

void dl_thin_conv_input_gradient(int level, const float *dyp, int padded_height, int padded_width, int kh, int kw,
                                 const float *wt, int c, float *dx, int height, int width, long line0, long line1) {
#ifdef DL_THIN_X86
    if (level >= 2) dl_tc_thin_input_gradient_avx512(dyp, padded_height, padded_width, kh, kw, wt, c, dx, height, width, line0, line1);
    else if (level == 1) dl_tc_thin_input_gradient_avx2(dyp, padded_height, padded_width, kh, kw, wt, c, dx, height, width, line0, line1);
#endif
}

void dl_thin_conv_kernel_gradient(int level, const float *x, int height, int width, int c, int kh, int kw,
                                  const float *dy4, int out_height, int out_width, long line0, long line1,
                                  float *dwt) {
#ifdef DL_THIN_X86
    if (level >= 2) dl_tc_thin_kernel_gradient_avx512(x, height, width, c, kh, kw, dy4, out_height, out_width, line0, line1, dwt);
    else if (level == 1) dl_tc_thin_kernel_gradient_avx2(x, height, width, c, kh, kw, dy4, out_height, out_width, line0, line1, dwt);
#endif
}
