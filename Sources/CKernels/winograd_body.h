// The input and output transforms of Winograd F(2×2, 3×3), compiled by winograd.c once per
// instruction set (TARGET, F(name)) like pointwise_body.h; the loops run along the contiguous
// channel axis, and `assume_safety` states what the layout guarantees: the transforms read one
// buffer and write another, so the compiler need not check for overlap before vectorising.

TARGET static void F(input)(const float *restrict x, int height, int width, int c, int pad_top, int pad_left, int tiles_y,
                       int tiles_x, long t0, long t1, float *restrict v, long xi_stride) {
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
        float *restrict out = v + (t - t0) * c;
#pragma clang loop vectorize(assume_safety)
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

TARGET static void F(output)(const float *restrict m, long xi_stride, int out_height, int out_width, int cout, int tiles_y,
                        int tiles_x, long t0, long t1, const float *restrict bias, float *restrict y) {
    const long per_image = (long)tiles_y * tiles_x;
    for (long t = t0; t < t1; t++) {
        const long image = t / per_image, within = t % per_image;
        const int oy = (int)(within / tiles_x) * 2, ox = (int)(within % tiles_x) * 2;
        const float *restrict in = m + (t - t0) * cout;
        float *restrict row0 = y + ((image * out_height + oy) * (long)out_width + ox) * cout;
        float *restrict row1 = row0 + (long)out_width * cout;
        const int second_row = oy + 1 < out_height, second_column = ox + 1 < out_width;
#pragma clang loop vectorize(assume_safety)
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

TARGET static void F(output_adjoint)(const float *restrict dy, int out_height, int out_width, int cout, int tiles_y,
                                     int tiles_x, long t0, long t1, float *restrict dm, long xi_stride) {
    const long per_image = (long)tiles_y * tiles_x;
    for (long t = t0; t < t1; t++) {
        const long image = t / per_image, within = t % per_image;
        const int oy = (int)(within / tiles_x) * 2, ox = (int)(within % tiles_x) * 2;
        const float *restrict row0 = dy + ((image * out_height + oy) * (long)out_width + ox) * cout;
        const float *restrict row1 = row0 + (long)out_width * cout;
        const int second_row = oy + 1 < out_height, second_column = ox + 1 < out_width;
        float *restrict out = dm + (t - t0) * cout;
#pragma clang loop vectorize(assume_safety)
        for (int k = 0; k < cout; k++) {
            // A = [1 0; 1 1; 1 −1; 0 −1] (the output transform's Aᵀ, transposed): A·∂Y·Aᵀ.
            const float y00 = row0[k], y01 = second_column ? row0[cout + k] : 0.0f;
            const float y10 = second_row ? row1[k] : 0.0f;
            const float y11 = second_row && second_column ? row1[cout + k] : 0.0f;
            const float t[4][2] = {{y00, y01}, {y00 + y10, y01 + y11}, {y00 - y10, y01 - y11}, {-y10, -y11}};
            for (int i = 0; i < 4; i++) {
                float *o = out + (long)(i * 4) * xi_stride + k;
                o[0] = t[i][0];
                o[xi_stride] = t[i][0] + t[i][1];
                o[2 * xi_stride] = t[i][0] - t[i][1];
                o[3 * xi_stride] = -t[i][1];
            }
        }
    }
}

TARGET static void F(kernel)(const float *restrict w, int cin, int cout, float *restrict u) {
    // G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]; U[i·4 + j] = Σ G[i][a]·g[a][b]·G[j][b], per (ci, co),
    // along the contiguous output channels.
    const long plane = (long)cin * cout;
    const float G[4][3] = {{1, 0, 0}, {0.5f, 0.5f, 0.5f}, {0.5f, -0.5f, 0.5f}, {0, 0, 1}};
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

TARGET static void F(kernel_adjoint)(const float *restrict du, int cin, int cout, float *restrict dw) {
    // ∂g[a][b] = Σ G[i][a]·∂U[i·4 + j]·G[j][b], per (ci, co), along the output channels.
    const long plane = (long)cin * cout;
    const float G[4][3] = {{1, 0, 0}, {0.5f, 0.5f, 0.5f}, {0.5f, -0.5f, 0.5f}, {0, 0, 1}};
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
