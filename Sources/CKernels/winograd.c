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

void dl_winograd_kernel(const float *restrict w, int cin, int cout, float *restrict u) {
    // G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]; U[i·4 + j] = Σ G[i][a]·g[a][b]·G[j][b], per (ci, co),
    // along the contiguous output channels.
    const long plane = (long)cin * cout;
    static const float G[4][3] = {{1, 0, 0}, {0.5f, 0.5f, 0.5f}, {0.5f, -0.5f, 0.5f}, {0, 0, 1}};
    for (long ci = 0; ci < cin; ci++) {
        const float *restrict taps[9];
        for (int tap = 0; tap < 9; tap++) taps[tap] = w + ((long)tap * cin + ci) * cout;
        for (int i = 0; i < 4; i++) {
            for (int j = 0; j < 4; j++) {
                float c[9];
                for (int a = 0; a < 3; a++)
                    for (int b = 0; b < 3; b++) c[a * 3 + b] = G[i][a] * G[j][b];
                float *restrict out = u + (long)(i * 4 + j) * plane + ci * cout;
#pragma clang loop vectorize(assume_safety)
                for (long co = 0; co < cout; co++) {
                    float sum = 0;
                    for (int tap = 0; tap < 9; tap++) sum += c[tap] * taps[tap][co];
                    out[co] = sum;
                }
            }
        }
    }
}

void dl_winograd_kernel_adjoint(const float *restrict du, int cin, int cout, float *restrict dw) {
    // ∂g[a][b] = Σ G[i][a]·∂U[i·4 + j]·G[j][b], per (ci, co), along the output channels.
    const long plane = (long)cin * cout;
    static const float G[4][3] = {{1, 0, 0}, {0.5f, 0.5f, 0.5f}, {0.5f, -0.5f, 0.5f}, {0, 0, 1}};
    for (long ci = 0; ci < cin; ci++) {
        for (int a = 0; a < 3; a++) {
            for (int b = 0; b < 3; b++) {
                float c[16];
                for (int i = 0; i < 4; i++)
                    for (int j = 0; j < 4; j++) c[i * 4 + j] = G[i][a] * G[j][b];
                float *restrict out = dw + ((long)(a * 3 + b) * cin + ci) * cout;
                const float *restrict in = du + ci * cout;
#pragma clang loop vectorize(assume_safety)
                for (long co = 0; co < cout; co++) {
                    float sum = 0;
                    for (int xi = 0; xi < 16; xi++) sum += c[xi] * in[xi * plane + co];
                    out[co] = sum;
                }
            }
        }
    }
}

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
