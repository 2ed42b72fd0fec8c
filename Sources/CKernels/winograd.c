// Winograd's minimal filtering F(2×2, 3×3) (Lavin & Gray 2016) for stride-1 3×3 convolutions on
// NHWC tensors: each 2×2 block of outputs ("tile") comes from its 4×4 input window through
//   Y = Aᵀ · [(G·g·Gᵀ) ⊙ (Bᵀ·d·B)] · A,
// and summed over input channels the elementwise product becomes 16 matrix products
// M[ξ] = V[ξ]·U[ξ] (tiles × Cin by Cin × Cout), 2.25× fewer multiplications than the direct
// convolution. These are the three transforms; the products run on BLAS
// (Sources/DeepLearning/Ops/Convolution/Winograd.swift drives them). Channels are the innermost,
// contiguous axis, so every loop below runs along channels and vectorises.
#include "ckernels.h"

#include <stdlib.h>

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#define DL_WINOGRAD_X86 1
#define F(name) dl_wg_##name##_avx512
#define TARGET __attribute__((target("avx512f")))
#include "winograd_body.h"
#undef F
#undef TARGET
#define F(name) dl_wg_##name##_avx2
#define TARGET __attribute__((target("avx2,fma")))
#include "winograd_body.h"
#undef F
#undef TARGET
#endif
#define F(name) dl_wg_##name##_generic
#define TARGET
#include "winograd_body.h"
#undef F
#undef TARGET

void dl_winograd_input(int level, const float *x, int height, int width, int c, int pad_top, int pad_left,
                       int tiles_y, int tiles_x, long t0, long t1, float *v, long xi_stride) {
#ifdef DL_WINOGRAD_X86
    if (level >= 2) { dl_wg_input_avx512(x, height, width, c, pad_top, pad_left, tiles_y, tiles_x, t0, t1, v, xi_stride); return; }
    if (level == 1) { dl_wg_input_avx2(x, height, width, c, pad_top, pad_left, tiles_y, tiles_x, t0, t1, v, xi_stride); return; }
#endif
    dl_wg_input_generic(x, height, width, c, pad_top, pad_left, tiles_y, tiles_x, t0, t1, v, xi_stride);
}

void dl_winograd_output(int level, const float *m, long xi_stride, int out_height, int out_width, int cout,
                        int tiles_y, int tiles_x, long t0, long t1, const float *bias, float *y) {
#ifdef DL_WINOGRAD_X86
    if (level >= 2) { dl_wg_output_avx512(m, xi_stride, out_height, out_width, cout, tiles_y, tiles_x, t0, t1, bias, y); return; }
    if (level == 1) { dl_wg_output_avx2(m, xi_stride, out_height, out_width, cout, tiles_y, tiles_x, t0, t1, bias, y); return; }
#endif
    dl_wg_output_generic(m, xi_stride, out_height, out_width, cout, tiles_y, tiles_x, t0, t1, bias, y);
}

void dl_winograd_output_adjoint(int level, const float *dy, int out_height, int out_width, int cout, int tiles_y,
                                int tiles_x, long t0, long t1, float *dm, long xi_stride) {
#ifdef DL_WINOGRAD_X86
    if (level >= 2) { dl_wg_output_adjoint_avx512(dy, out_height, out_width, cout, tiles_y, tiles_x, t0, t1, dm, xi_stride); return; }
    if (level == 1) { dl_wg_output_adjoint_avx2(dy, out_height, out_width, cout, tiles_y, tiles_x, t0, t1, dm, xi_stride); return; }
#endif
    dl_wg_output_adjoint_generic(dy, out_height, out_width, cout, tiles_y, tiles_x, t0, t1, dm, xi_stride);
}

void dl_winograd_kernel(int level, const float *w, int cin, int cout, float *u) {
#ifdef DL_WINOGRAD_X86
    if (level >= 2) { dl_wg_kernel_avx512(w, cin, cout, u); return; }
    if (level == 1) { dl_wg_kernel_avx2(w, cin, cout, u); return; }
#endif
    dl_wg_kernel_generic(w, cin, cout, u);
}

void dl_winograd_kernel_adjoint(int level, const float *du, int cin, int cout, float *dw) {
#ifdef DL_WINOGRAD_X86
    if (level >= 2) { dl_wg_kernel_adjoint_avx512(du, cin, cout, dw); return; }
    if (level == 1) { dl_wg_kernel_adjoint_avx2(du, cin, cout, dw); return; }
#endif
    dl_wg_kernel_adjoint_generic(du, cin, cout, dw);
}
