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

void dl_winograd_kernel(const float *w, int cin, int cout, int flip, float *u) {
    // U[ξ][r][s] with (r, s) = (ci, co), or (co, ci) for the input gradient's flipped kernel.
    const long rows = flip ? cout : cin, columns = flip ? cin : cout, plane = rows * columns;
    for (long r = 0; r < rows; r++) {
        for (long s = 0; s < columns; s++) {
            const long ci = flip ? s : r, co = flip ? r : s;
            float g[3][3];
            for (int a = 0; a < 3; a++)
                for (int b = 0; b < 3; b++) {
                    const int ka = flip ? 2 - a : a, kb = flip ? 2 - b : b;
                    g[a][b] = w[((long)(ka * 3 + kb) * cin + ci) * cout + co];
                }
            // G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]: t = G·g (4×3), then t·Gᵀ (4×4).
            float t[4][3];
            for (int b = 0; b < 3; b++) {
                t[0][b] = g[0][b];
                t[1][b] = 0.5f * (g[0][b] + g[1][b] + g[2][b]);
                t[2][b] = 0.5f * (g[0][b] - g[1][b] + g[2][b]);
                t[3][b] = g[2][b];
            }
            for (int i = 0; i < 4; i++) {
                float *out = u + (long)(i * 4) * plane + r * columns + s;
                out[0] = t[i][0];
                out[plane] = 0.5f * (t[i][0] + t[i][1] + t[i][2]);
                out[2 * plane] = 0.5f * (t[i][0] - t[i][1] + t[i][2]);
                out[3 * plane] = t[i][2];
            }
        }
    }
}

void dl_winograd_input(const float *x, int height, int width, int c, int pad_top, int pad_left, int tiles_y,
                       int tiles_x, long t0, long t1, float *v, long xi_stride) {
    float *zeros = calloc((size_t)c, sizeof(float));
    const long per_image = (long)tiles_y * tiles_x;
    for (long t = t0; t < t1; t++) {
        const long image = t / per_image, within = t % per_image;
        const int y0 = (int)(within / tiles_x) * 2 - pad_top, x0 = (int)(within % tiles_x) * 2 - pad_left;
        const float *d[4][4];
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++) {
                const int y = y0 + i, xx = x0 + j;
                d[i][j] = (y < 0 || y >= height || xx < 0 || xx >= width)
                              ? zeros
                              : x + ((image * height + y) * (long)width + xx) * c;
            }
        float *out = v + (t - t0) * c;
        for (int k = 0; k < c; k++) {
            // Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1] on the rows, then on the columns.
            float r[4][4];
            for (int j = 0; j < 4; j++) {
                const float a0 = d[0][j][k], a1 = d[1][j][k], a2 = d[2][j][k], a3 = d[3][j][k];
                r[0][j] = a0 - a2;
                r[1][j] = a1 + a2;
                r[2][j] = a2 - a1;
                r[3][j] = a1 - a3;
            }
            for (int i = 0; i < 4; i++) {
                float *o = out + (long)(i * 4) * xi_stride + k;
                o[0] = r[i][0] - r[i][2];
                o[xi_stride] = r[i][1] + r[i][2];
                o[2 * xi_stride] = r[i][2] - r[i][1];
                o[3 * xi_stride] = r[i][1] - r[i][3];
            }
        }
    }
    free(zeros);
}

void dl_winograd_output(const float *m, long xi_stride, int out_height, int out_width, int cout, int tiles_y,
                        int tiles_x, long t0, long t1, const float *bias, float *y) {
    const long per_image = (long)tiles_y * tiles_x;
    for (long t = t0; t < t1; t++) {
        const long image = t / per_image, within = t % per_image;
        const int oy = (int)(within / tiles_x) * 2, ox = (int)(within % tiles_x) * 2;
        const float *in = m + (t - t0) * cout;
        float *row0 = y + ((image * out_height + oy) * (long)out_width + ox) * cout;
        float *row1 = row0 + (long)out_width * cout;
        const int second_row = oy + 1 < out_height, second_column = ox + 1 < out_width;
        for (int k = 0; k < cout; k++) {
            // Aᵀ = [1 1 1 0; 0 1 −1 −1] on the rows, then on the columns.
            float s[2][4];
            for (int j = 0; j < 4; j++) {
                const float a0 = in[(long)j * xi_stride + k], a1 = in[(long)(4 + j) * xi_stride + k];
                const float a2 = in[(long)(8 + j) * xi_stride + k], a3 = in[(long)(12 + j) * xi_stride + k];
                s[0][j] = a0 + a1 + a2;
                s[1][j] = a1 - a2 - a3;
            }
            const float b = bias ? bias[k] : 0.0f;
            row0[k] = s[0][0] + s[0][1] + s[0][2] + b;
            if (second_column) row0[cout + k] = s[0][1] - s[0][2] - s[0][3] + b;
            if (second_row) {
                row1[k] = s[1][0] + s[1][1] + s[1][2] + b;
                if (second_column) row1[cout + k] = s[1][1] - s[1][2] - s[1][3] + b;
            }
        }
    }
}
