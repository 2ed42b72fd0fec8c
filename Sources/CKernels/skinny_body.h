// The skinny-product kernels, written once for a vector of VW floats and compiled twice by
// skinny.c: for AVX-512F (VW 16) and for AVX2 + FMA (VW 8). Expects VW, NN_KB (rows of B held
// in registers by the NN kernel), NT_MB (rows of A per NT tile), F(name) (adds the level's
// suffix) and TARGET (the function attribute that enables the instruction set).

typedef float F(vec) __attribute__((vector_size(VW * 4), aligned(4)));
typedef float F(alignedvec) __attribute__((vector_size(VW * 4)));
#define V F(vec)
#define INLINE static inline __attribute__((always_inline)) TARGET

INLINE V F(load)(const float *p) { V v; memcpy(&v, p, sizeof v); return v; }
INLINE void F(store)(float *p, V v) { memcpy(p, &v, sizeof v); }
INLINE V F(splat)(float x) { return (V){} + x; }
INLINE V F(fma)(V a, V b, V c) { return __builtin_elementwise_fma(a, b, c); }

// The sums of four vectors in lanes 0…3 (a, b, c, d), by a shuffle tree instead of four
// sequential horizontal sums.
#if VW == 16
INLINE V F(sum4)(V a, V b, V c, V d) {
    V ab = __builtin_shufflevector(a, b, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23)
         + __builtin_shufflevector(a, b, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
    V cd = __builtin_shufflevector(c, d, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23)
         + __builtin_shufflevector(c, d, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
    // ab holds a's partial sums in lanes 0–7 and b's in 8–15; likewise cd.
    V x = __builtin_shufflevector(ab, cd, 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27)
        + __builtin_shufflevector(ab, cd, 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31);
    // x: a in 0–3, b in 4–7, c in 8–11, d in 12–15.
    V y = x + __builtin_shufflevector(x, x, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13);
    V z = y + __builtin_shufflevector(y, y, 1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14);
    return __builtin_shufflevector(z, z, 0, 4, 8, 12, 0, 4, 8, 12, 0, 4, 8, 12, 0, 4, 8, 12);
}
#else
INLINE V F(sum4)(V a, V b, V c, V d) {
    V ab = __builtin_shufflevector(a, b, 0, 1, 2, 3, 8, 9, 10, 11) + __builtin_shufflevector(a, b, 4, 5, 6, 7, 12, 13, 14, 15);
    V cd = __builtin_shufflevector(c, d, 0, 1, 2, 3, 8, 9, 10, 11) + __builtin_shufflevector(c, d, 4, 5, 6, 7, 12, 13, 14, 15);
    // ab: a in 0–3, b in 4–7.
    V x = __builtin_shufflevector(ab, cd, 0, 1, 4, 5, 8, 9, 12, 13) + __builtin_shufflevector(ab, cd, 2, 3, 6, 7, 10, 11, 14, 15);
    // x: a in 0–1, b in 2–3, c in 4–5, d in 6–7.
    V y = x + __builtin_shufflevector(x, x, 1, 0, 3, 2, 5, 4, 7, 6);
    return __builtin_shufflevector(y, y, 0, 2, 4, 6, 0, 2, 4, 6);
}
#endif

TARGET void F(nn_partial)(int M, int N, int k0, int k1, const float *A, int lda, const float *B, int ldb,
                          float *P, int ldp, float *apack) {
    const int K = k1 - k0;
    // A's block as [K][M]: the broadcasts of one k step are adjacent, and A's rows (often a
    // power-of-two stride apart) no longer fight for the same cache sets.
    for (int k = 0; k < K; k++)
        for (int m = 0; m < M; m++) apack[(size_t)k * M + m] = A[(size_t)m * lda + k0 + k];
    for (int m = 0; m < M; m++) memset(P + (size_t)m * ldp, 0, (size_t)N * sizeof(float));
    int k = 0;
    for (; k + NN_KB <= K; k += NN_KB) {
        const float *rows = B + (size_t)(k0 + k) * ldb, *a = apack + (size_t)k * M;
        int j = 0;
        for (; j + 2 * VW <= N; j += 2 * VW) {
            V b0[NN_KB], b1[NN_KB];
            for (int i = 0; i < NN_KB; i++) {
                b0[i] = F(load)(rows + (size_t)i * ldb + j);
                b1[i] = F(load)(rows + (size_t)i * ldb + j + VW);
                // The next block of rows, one line per row and step: the hardware prefetcher
                // alone ramps up too slowly on rows this short.
                if (k + 2 * NN_KB <= K) __builtin_prefetch(rows + (size_t)(NN_KB + i) * ldb + j);
            }
            for (int m = 0; m < M; m++) {
                float *p = P + (size_t)m * ldp + j;
                V s0 = F(load)(p), s1 = F(load)(p + VW);
                for (int i = 0; i < NN_KB; i++) {
                    V x = F(splat)(a[i * M + m]);
                    s0 = F(fma)(x, b0[i], s0);
                    s1 = F(fma)(x, b1[i], s1);
                }
                F(store)(p, s0);
                F(store)(p + VW, s1);
            }
        }
        for (; j < N; j += VW) {
            V b0[NN_KB];
            for (int i = 0; i < NN_KB; i++) b0[i] = F(load)(rows + (size_t)i * ldb + j);
            for (int m = 0; m < M; m++) {
                float *p = P + (size_t)m * ldp + j;
                V s = F(load)(p);
                for (int i = 0; i < NN_KB; i++) s = F(fma)(F(splat)(a[i * M + m]), b0[i], s);
                F(store)(p, s);
            }
        }
    }
    for (; k < K; k++) {
        const float *row = B + (size_t)(k0 + k) * ldb;
        for (int j = 0; j < N; j += VW) {
            V b = F(load)(row + j);
            for (int m = 0; m < M; m++) {
                float *p = P + (size_t)m * ldp + j;
                F(store)(p, F(fma)(F(splat)(apack[(size_t)k * M + m]), b, F(load)(p)));
            }
        }
    }
}

TARGET void F(nt)(int M, int n0, int n1, int K, const float *A, int lda, const float *B, int ldb,
                  float beta, float *C, int ldc) {
    int n = n0;
    for (; n + 4 <= n1; n += 4) {
        const float *w0 = B + (size_t)n * ldb, *w1 = w0 + ldb, *w2 = w1 + ldb, *w3 = w2 + ldb;
        const int prefetchNext = n + 8 <= n1;
        for (int m0 = 0; m0 < M; m0 += NT_MB) {
            const int rows = M - m0 < NT_MB ? M - m0 : NT_MB;
            const float *a[NT_MB];
            // Rows past M repeat the last one (computed, never stored): one loop for all tiles.
            for (int r = 0; r < NT_MB; r++) a[r] = A + (size_t)(m0 + (r < rows ? r : rows - 1)) * lda;
            V s[NT_MB][4];
            for (int r = 0; r < NT_MB; r++)
                for (int q = 0; q < 4; q++) s[r][q] = F(splat)(0);
            for (int k = 0; k < K; k += VW) {
                V x0 = F(load)(w0 + k), x1 = F(load)(w1 + k), x2 = F(load)(w2 + k), x3 = F(load)(w3 + k);
                if (m0 == 0 && prefetchNext) {
                    __builtin_prefetch(w0 + 4 * (size_t)ldb + k);
                    __builtin_prefetch(w1 + 4 * (size_t)ldb + k);
                    __builtin_prefetch(w2 + 4 * (size_t)ldb + k);
                    __builtin_prefetch(w3 + 4 * (size_t)ldb + k);
                }
                for (int r = 0; r < NT_MB; r++) {
                    V y = F(load)(a[r] + k);
                    s[r][0] = F(fma)(y, x0, s[r][0]);
                    s[r][1] = F(fma)(y, x1, s[r][1]);
                    s[r][2] = F(fma)(y, x2, s[r][2]);
                    s[r][3] = F(fma)(y, x3, s[r][3]);
                }
            }
            for (int r = 0; r < rows; r++) {
                V sums = F(sum4)(s[r][0], s[r][1], s[r][2], s[r][3]);
                float *c = C + (size_t)(m0 + r) * ldc + n;
                for (int q = 0; q < 4; q++) c[q] = beta == 0 ? sums[q] : beta * c[q] + sums[q];
            }
        }
    }
    for (; n < n1; n++) {
        const float *w = B + (size_t)n * ldb;
        for (int m = 0; m < M; m++) {
            V s = F(splat)(0);
            for (int k = 0; k < K; k += VW) s = F(fma)(F(load)(A + (size_t)m * lda + k), F(load)(w + k), s);
            float sum = F(sum4)(s, s, s, s)[0], *c = C + (size_t)m * ldc + n;
            *c = beta == 0 ? sum : beta * *c + sum;
        }
    }
}

TARGET void F(tn)(int m0, int m1, int N, int K, const float *A, int lda, const float *B, int ldb,
                  float *C, int ldc) {
    const int streaming = ((size_t)C % sizeof(V)) == 0 && ((size_t)ldc * sizeof(float)) % sizeof(V) == 0;
    int m = m0;
    // Two rows of C at a time, four vectors each: eight independent sums per k.
    for (; m + 2 <= m1; m += 2) {
        float *c0 = C + (size_t)m * ldc, *c1 = c0 + ldc;
        int j = 0;
        for (; j + 4 * VW <= N; j += 4 * VW) {
            V s[2][4];
            for (int r = 0; r < 2; r++)
                for (int q = 0; q < 4; q++) s[r][q] = F(splat)(0);
            for (int k = 0; k < K; k++) {
                const float *b = B + (size_t)k * ldb + j;
                V y0 = F(splat)(A[(size_t)k * lda + m]), y1 = F(splat)(A[(size_t)k * lda + m + 1]);
                for (int q = 0; q < 4; q++) {
                    V x = F(load)(b + q * VW);
                    s[0][q] = F(fma)(y0, x, s[0][q]);
                    s[1][q] = F(fma)(y1, x, s[1][q]);
                }
            }
            // Whole lines, one row after the other, so the write-combining buffers fill.
            for (int r = 0; r < 2; r++) {
                float *c = (r == 0 ? c0 : c1) + j;
                for (int q = 0; q < 4; q++) {
                    if (streaming) __builtin_nontemporal_store((F(alignedvec))s[r][q], (F(alignedvec) *)(c + q * VW));
                    else F(store)(c + q * VW, s[r][q]);
                }
            }
        }
        for (; j < N; j += VW) {
            V s0 = F(splat)(0), s1 = F(splat)(0);
            for (int k = 0; k < K; k++) {
                V x = F(load)(B + (size_t)k * ldb + j);
                s0 = F(fma)(F(splat)(A[(size_t)k * lda + m]), x, s0);
                s1 = F(fma)(F(splat)(A[(size_t)k * lda + m + 1]), x, s1);
            }
            F(store)(c0 + j, s0);
            F(store)(c1 + j, s1);
        }
    }
    for (; m < m1; m++) {
        float *c = C + (size_t)m * ldc;
        for (int j = 0; j < N; j += VW) {
            V s = F(splat)(0);
            for (int k = 0; k < K; k++) s = F(fma)(F(splat)(A[(size_t)k * lda + m]), F(load)(B + (size_t)k * ldb + j), s);
            F(store)(c + j, s);
        }
    }
}

#undef V
#undef INLINE
