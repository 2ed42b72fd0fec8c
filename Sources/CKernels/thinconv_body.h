// Direct stride-1 unpadded convolutions with at most 4 output channels, written once for a
// vector of VW floats and compiled twice by thinconv.c (AVX-512F: VW 16, AVX2 + FMA: VW 8) like
// skinny_body.h. Channels (the contiguous axis) are split into vectors; the kernel is repacked
// as wt[tap][4][c] with zero rows past the real output channels, so every loop has fixed bounds.

typedef float F(tvec) __attribute__((vector_size(VW * 4), aligned(4)));
#define TV F(tvec)
#define TINLINE static inline __attribute__((always_inline)) TARGET

TINLINE TV F(tload)(const float *p) { TV v; memcpy(&v, p, sizeof v); return v; }
TINLINE void F(tstore)(float *p, TV v) { memcpy(p, &v, sizeof v); }
TINLINE float F(tsum)(TV v) {
    float s = 0;
    for (int i = 0; i < VW; i++) s += v[i];
    return s;
}

/// P output pixels of one line starting at `ox`: y[p][o] = Σ_taps Σ_c x·wt + bias.
TINLINE void F(forward_pixels)(int P, const float *x, int width, int c, int kh, int kw, const float *wt,
                               int cout, const float *bias, float *y, int ox) {
    TV acc[4][4] = {{{0}}};
    for (int i = 0; i < kh; i++) {
        for (int j = 0; j < kw; j++) {
            const float *base = x + ((long)i * width + ox + j) * c, *w = wt + (long)(i * kw + j) * 4 * c;
            for (int cv = 0; cv < c; cv += VW) {
                const TV w0 = F(tload)(w + cv), w1 = F(tload)(w + c + cv), w2 = F(tload)(w + 2 * c + cv),
                         w3 = F(tload)(w + 3 * c + cv);
                for (int p = 0; p < P; p++) {
                    const TV xv = F(tload)(base + (long)p * c + cv);
                    acc[p][0] += xv * w0;
                    acc[p][1] += xv * w1;
                    acc[p][2] += xv * w2;
                    acc[p][3] += xv * w3;
                }
            }
        }
    }
    for (int p = 0; p < P; p++)
        for (int o = 0; o < cout; o++) y[(long)(ox + p) * cout + o] = F(tsum)(acc[p][o]) + (bias ? bias[o] : 0.0f);
}

TARGET static void F(thin_forward)(const float *x, int height, int width, int c, int kh, int kw, const float *wt,
                                   int cout, const float *bias, float *y, int out_height, int out_width, long line0,
                                   long line1) {
    for (long line = line0; line < line1; line++) {
        const long n = line / out_height, oy = line % out_height;
        const float *row = x + (n * height + oy) * (long)width * c;
        float *out = y + line * (long)out_width * cout;
        int ox = 0;
        for (; ox + 4 <= out_width; ox += 4) F(forward_pixels)(4, row, width, c, kh, kw, wt, cout, bias, out, ox);
        for (; ox < out_width; ox++) F(forward_pixels)(1, row, width, c, kh, kw, wt, cout, bias, out, ox);
    }
}

/// P input pixels of one line starting at `ix`, channels cv..<cv + 2·VW: the full correlation of
/// the zero-padded ∂y (4 channels) with the rotated kernel.
TINLINE void F(input_gradient_pixels)(int P, const float *dyp, int padded_width, int kh, int kw, const float *wt,
                                      int c, int cv, float *dx, int ix) {
    TV acc[4][2] = {{{0}}};
    for (int i = 0; i < kh; i++) {
        for (int j = 0; j < kw; j++) {
            // dx[iy][ix] gets dy[iy − i][ix − j]: row kh − 1 − i, column ix + kw − 1 − j of dyp.
            const float *d = dyp + ((long)(kh - 1 - i) * padded_width + ix + kw - 1 - j) * 4;
            const float *w = wt + (long)(i * kw + j) * 4 * c + cv;
            TV w0[4], w1[4];
            for (int o = 0; o < 4; o++) {
                w0[o] = F(tload)(w + (long)o * c);
                w1[o] = F(tload)(w + (long)o * c + VW);
            }
            for (int p = 0; p < P; p++) {
                for (int o = 0; o < 4; o++) {
                    const float g = d[p * 4 + o];
                    acc[p][0] += g * w0[o];
                    acc[p][1] += g * w1[o];
                }
            }
        }
    }
    for (int p = 0; p < P; p++) {
        F(tstore)(dx + (long)(ix + p) * c + cv, acc[p][0]);
        F(tstore)(dx + (long)(ix + p) * c + cv + VW, acc[p][1]);
    }
}

TARGET static void F(thin_input_gradient)(const float *dyp, int padded_height, int padded_width, int kh, int kw,
                                          const float *wt, int c, float *dx, int height, int width, long line0,
                                          long line1) {
    for (long line = line0; line < line1; line++) {
        const long n = line / height, iy = line % height;
        const float *rows = dyp + (n * padded_height + iy) * (long)padded_width * 4;
        float *out = dx + line * (long)width * c;
        for (int cv = 0; cv < c; cv += 2 * VW) {
            int ix = 0;
            for (; ix + 4 <= width; ix += 4)
                F(input_gradient_pixels)(4, rows, padded_width, kh, kw, wt, c, cv, out, ix);
            for (; ix < width; ix++) F(input_gradient_pixels)(1, rows, padded_width, kh, kw, wt, c, cv, out, ix);
        }
    }
}

TARGET static void F(thin_kernel_gradient)(const float *x, int height, int width, int c, int kh, int kw,
                                           const float *dy4, int out_height, int out_width, long line0, long line1,
                                           float *dwt) {
    for (long line = line0; line < line1; line++) {
        const long n = line / out_height, oy = line % out_height;
        const float *d = dy4 + line * (long)out_width * 4;
        for (int i = 0; i < kh; i++) {
            const float *row = x + ((n * height + oy + i) * (long)width) * c;
            for (int j = 0; j < kw; j++) {
                float *w = dwt + (long)(i * kw + j) * 4 * c;
                for (int cv = 0; cv < c; cv += 2 * VW) {
                    TV acc[4][2];
                    for (int o = 0; o < 4; o++) {
                        acc[o][0] = F(tload)(w + (long)o * c + cv);
                        acc[o][1] = F(tload)(w + (long)o * c + cv + VW);
                    }
                    for (int ox = 0; ox < out_width; ox++) {
                        const float *xp = row + (long)(ox + j) * c + cv;
                        const TV x0 = F(tload)(xp), x1 = F(tload)(xp + VW);
                        for (int o = 0; o < 4; o++) {
                            const float g = d[ox * 4 + o];
                            acc[o][0] += g * x0;
                            acc[o][1] += g * x1;
                        }
                    }
                    for (int o = 0; o < 4; o++) {
                        F(tstore)(w + (long)o * c + cv, acc[o][0]);
                        F(tstore)(w + (long)o * c + cv + VW, acc[o][1]);
                    }
                }
            }
        }
    }
}

#undef TV
#undef TINLINE
