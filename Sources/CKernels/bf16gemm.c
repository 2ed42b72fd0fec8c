// bfloat16 matrix products with float32 accumulation, on AVX512_BF16's `vdpbf16ps` (each
// instruction multiplies 16 pairs of bf16 numbers and adds both products of a pair to one
// float32 lane). Both operands are rounded to bf16 (round to nearest even) while they are
// packed; products of two bf16 numbers are exact in float32, so the result is the float32 sum
// of exactly those products, only in another order than a float32 product would add them.
//
// Layout (see ckernels.h): op(B) is packed once for the whole product, in blocks of
// DL_BF16_KB values of k and panels of 32 columns, each k pair one 32-bit word per column;
// every thread packs its own rows of op(A) into micro-panels of 12 rows with a fixed stride of
// DL_BF16_KCP words per row, so the micro-kernel addresses them with constant offsets. The
// micro-kernel keeps a 12×32 float32 tile in 24 registers.
#include "ckernels.h"
#include <string.h>

#define KCP DL_BF16_KCP
#define MR 12
#define NR 32
#define MC 96

/// float32 → bf16 bits as `vcvtneps2bf16` rounds: to nearest even, NaN kept quiet, and
/// denormal inputs and outputs flushed to a signed zero (the instruction does both).
static inline unsigned bf16_bits(float x) {
    unsigned u;
    memcpy(&u, &x, 4);
    unsigned exponent = u & 0x7F800000u;
    if (exponent == 0x7F800000u) return (u & 0x007FFFFFu) ? ((u >> 16) | 0x0040u) : (u >> 16);
    if (exponent == 0) return (u >> 16) & 0x8000u;
    return (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
}

static inline unsigned pair_bits(float low, float high) { return bf16_bits(low) | (bf16_bits(high) << 16); }

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#define DL_BF16_X86 1
#define TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

static inline TARGET __mmask16 lanes_mask(long valid) {
    return valid >= 16 ? (__mmask16)0xFFFF : valid <= 0 ? (__mmask16)0 : (__mmask16)((1u << valid) - 1);
}

/// 16 words of pairs (low[i], high[i]) from two vectors.
static inline TARGET __m512i pair_words(__m512 low, __m512 high) {
    __m512i l = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(low));
    __m512i h = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(high));
    return _mm512_or_si512(l, _mm512_slli_epi32(h, 16));
}

/// 16 words of consecutive pairs from up to 32 contiguous floats (`valid` of them; the rest 0).
static inline TARGET __m512i contiguous_pairs(const float *source, long valid) {
    __m512 first = _mm512_maskz_loadu_ps(lanes_mask(valid), source);
    __m512 second = _mm512_maskz_loadu_ps(lanes_mask(valid - 16), source + 16);
    return (__m512i)_mm512_cvtne2ps_pbh(second, first);
}

TARGET static void round_vectors(const float *x, float *y, long count) {
    for (long i = 0; i < count; i += 16) {
        __mmask16 mask = lanes_mask(count - i);
        __m512i bits = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(mask, x + i)));
        _mm512_mask_storeu_ps(y + i, mask, (__m512)_mm512_slli_epi32(bits, 16));
    }
}

TARGET static void pack_b_panel(int K, int N, int panel, const float *B, long rs, long cs, unsigned *bp,
                                int panels) {
    int blocks = (K + DL_BF16_KB - 1) / DL_BF16_KB;
    int n0 = panel * NR, width = N - n0 < NR ? N - n0 : NR;
    for (int p = 0; p < blocks; p++) {
        int k0 = p * DL_BF16_KB, kc = K - k0 < DL_BF16_KB ? K - k0 : DL_BF16_KB, qn = (kc + 1) / 2;
        unsigned *dest = bp + ((long)p * panels + panel) * KCP * NR;
        if (cs == 1) {
            for (int q = 0; q < qn; q++) {
                const float *row0 = B + (long)(k0 + 2 * q) * rs + n0;
                int second = 2 * q + 1 < kc;
                for (int h = 0; h < 2; h++) {
                    __mmask16 mask = lanes_mask(width - 16 * h);
                    __m512 low = _mm512_maskz_loadu_ps(mask, row0 + 16 * h);
                    __m512 high = second ? _mm512_maskz_loadu_ps(mask, row0 + rs + 16 * h) : _mm512_setzero_ps();
                    _mm512_storeu_si512(dest + q * NR + 16 * h, pair_words(low, high));
                }
            }
        } else if (rs == 1) {
            unsigned words[16] __attribute__((aligned(64)));
            for (int n = 0; n < NR; n++) {
                if (n >= width) {
                    for (int q = 0; q < qn; q++) dest[q * NR + n] = 0;
                    continue;
                }
                const float *column = B + k0 + (long)(n0 + n) * cs;
                for (int q = 0; q < qn; q += 16) {
                    _mm512_store_si512(words, contiguous_pairs(column + 2 * q, kc - 2 * q));
                    int count = qn - q < 16 ? qn - q : 16;
                    for (int t = 0; t < count; t++) dest[(q + t) * NR + n] = words[t];
                }
            }
        } else {
            for (int q = 0; q < qn; q++)
                for (int n = 0; n < NR; n++) {
                    if (n >= width) { dest[q * NR + n] = 0; continue; }
                    const float *value = B + (long)(k0 + 2 * q) * rs + (long)(n0 + n) * cs;
                    dest[q * NR + n] = pair_bits(value[0], 2 * q + 1 < kc ? value[rs] : 0);
                }
        }
    }
}

/// Rows m0..<m0+rows of op(A) over k0..<k0+kc into micro-panels of MR rows (zero rows after
/// `rows`), each row KCP words apart.
TARGET static void pack_a(int m0, int rows, int k0, int kc, const float *A, long rs, long cs, unsigned *ap) {
    int qn = (kc + 1) / 2, padded = (rows + MR - 1) / MR * MR;
    if (cs == 1) {
        for (int i = 0; i < padded; i++) {
            unsigned *dest = ap + (long)i * KCP;
            if (i >= rows) { memset(dest, 0, (size_t)qn * 4); continue; }
            const float *row = A + (long)(m0 + i) * rs + k0;
            for (int q = 0; q < qn; q += 16)
                _mm512_mask_storeu_epi32(dest + q, lanes_mask(qn - q), contiguous_pairs(row + 2 * q, kc - 2 * q));
        }
    } else if (rs == 1) {
        unsigned words[16] __attribute__((aligned(64)));
        for (int base = 0; base < padded; base += MR) {
            __mmask16 mask = lanes_mask(rows - base < MR ? rows - base : MR);
            for (int q = 0; q < qn; q++) {
                const float *column = A + (long)(k0 + 2 * q) * cs + m0 + base;
                __m512 low = _mm512_maskz_loadu_ps(mask, column);
                __m512 high = 2 * q + 1 < kc ? _mm512_maskz_loadu_ps(mask, column + cs) : _mm512_setzero_ps();
                _mm512_store_si512(words, pair_words(low, high));
                for (int i = 0; i < MR; i++) ap[(long)(base + i) * KCP + q] = words[i];
            }
        }
    } else {
        for (int i = 0; i < padded; i++)
            for (int q = 0; q < qn; q++) {
                if (i >= rows) { ap[(long)i * KCP + q] = 0; continue; }
                const float *value = A + (long)(m0 + i) * rs + (long)(k0 + 2 * q) * cs;
                ap[(long)i * KCP + q] = pair_bits(value[0], 2 * q + 1 < kc ? value[cs] : 0);
            }
    }
}

/// mode 0: c = tile; 1: c = β·c + tile; 2: c += tile.
static inline TARGET void store_row(float *c, __m512 low, __m512 high, int cols, int mode, float beta) {
    __mmask16 m0 = lanes_mask(cols), m1 = lanes_mask(cols - 16);
    if (mode == 1) {
        __m512 b = _mm512_set1_ps(beta);
        low = _mm512_fmadd_ps(b, _mm512_maskz_loadu_ps(m0, c), low);
        high = _mm512_fmadd_ps(b, _mm512_maskz_loadu_ps(m1, c + 16), high);
    } else if (mode == 2) {
        low = _mm512_add_ps(_mm512_maskz_loadu_ps(m0, c), low);
        high = _mm512_add_ps(_mm512_maskz_loadu_ps(m1, c + 16), high);
    }
    _mm512_mask_storeu_ps(c, m0, low);
    _mm512_mask_storeu_ps(c + 16, m1, high);
}

#define ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)

TARGET static void micro_kernel(int qn, const unsigned *a, const unsigned *b, float *c, long ldc, int rows,
                                int cols, int mode, float beta) {
#define DECLARE(i) __m512 s##i##l = _mm512_setzero_ps(), s##i##h = _mm512_setzero_ps();
    ROWS(DECLARE)
#undef DECLARE
    for (int q = 0; q < qn; q++) {
        __m512bh b0 = (__m512bh)_mm512_loadu_si512(b + q * NR), b1 = (__m512bh)_mm512_loadu_si512(b + q * NR + 16);
#define STEP(i)                                                                                                 \
    {                                                                                                           \
        __m512bh av = (__m512bh)_mm512_set1_epi32((int)a[(i) * KCP + q]);                                      \
        s##i##l = _mm512_dpbf16_ps(s##i##l, av, b0);                                                            \
        s##i##h = _mm512_dpbf16_ps(s##i##h, av, b1);                                                            \
    }
        ROWS(STEP)
#undef STEP
    }
#define STORE(i) \
    if ((i) < rows) store_row(c + (long)(i) * ldc, s##i##l, s##i##h, cols, mode, beta);
    ROWS(STORE)
#undef STORE
}
#endif

#ifdef DL_BF16_X86
#include <time.h>

static double monotonic_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/// Seconds for `rounds` × 12 independent chains of `vfmadd231ps` (float32) or `vdpbf16ps` on
/// zeros. In assembly, so the timing does not depend on the optimisation level of the build.
TARGET static double chain_seconds(long rounds, int bf16) {
#define TWELVE(op)                                                                                             \
    op " %%zmm14, %%zmm15, %%zmm0\n\t" op " %%zmm14, %%zmm15, %%zmm1\n\t" op " %%zmm14, %%zmm15, %%zmm2\n\t"      \
    op " %%zmm14, %%zmm15, %%zmm3\n\t" op " %%zmm14, %%zmm15, %%zmm4\n\t" op " %%zmm14, %%zmm15, %%zmm5\n\t"  \
    op " %%zmm14, %%zmm15, %%zmm6\n\t" op " %%zmm14, %%zmm15, %%zmm7\n\t" op " %%zmm14, %%zmm15, %%zmm8\n\t"  \
    op " %%zmm14, %%zmm15, %%zmm9\n\t" op " %%zmm14, %%zmm15, %%zmm10\n\t" op " %%zmm14, %%zmm15, %%zmm11\n\t"
#define CLOBBERS "zmm0", "zmm1", "zmm2", "zmm3", "zmm4", "zmm5", "zmm6", "zmm7", "zmm8", "zmm9", "zmm10", "zmm11", \
                 "zmm14", "zmm15", "cc"
#define ZERO "vpxord %%zmm14, %%zmm14, %%zmm14\n\tvpxord %%zmm15, %%zmm15, %%zmm15\n\t"
    long n = rounds;
    double start = monotonic_seconds();
    if (bf16) {
        __asm__ volatile(ZERO "1:\n\t" TWELVE("vdpbf16ps") "dec %0\n\tjnz 1b" : "+r"(n) : : CLOBBERS);
    } else {
        __asm__ volatile(ZERO "1:\n\t" TWELVE("vfmadd231ps") "dec %0\n\tjnz 1b" : "+r"(n) : : CLOBBERS);
    }
#undef TWELVE
#undef CLOBBERS
#undef ZERO
    return monotonic_seconds() - start;
}
#endif

double dl_bf16_relative_rate(void) {
#ifdef DL_BF16_X86
    if (!dl_bf16_supported()) return 0;
    double fma = 1e9, dot = 1e9;
    for (int attempt = 0; attempt < 5; attempt++) {
        double f = chain_seconds(20000, 0), d = chain_seconds(20000, 1);
        if (f < fma) fma = f;
        if (d < dot) dot = d;
    }
    // One vdpbf16ps does twice the multiply-adds of one vfmadd231ps.
    return 2 * fma / dot;
#else
    return 0;
#endif
}

int dl_bf16_supported(void) {
#ifdef DL_BF16_X86
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bf16");
#else
    return 0;
#endif
}

long dl_bf16_packed_b_words(int K, int N) {
    long blocks = (K + DL_BF16_KB - 1) / DL_BF16_KB, panels = (N + NR - 1) / NR;
    return blocks * panels * KCP * NR;
}

long dl_bf16_packed_a_words(void) { return (long)MC * KCP; }

void dl_bf16_pack_b(int K, int N, int panel0, int panel1, const float *B, long rs, long cs, unsigned *packed) {
#ifdef DL_BF16_X86
    int panels = (N + NR - 1) / NR;
    for (int panel = panel0; panel < panel1; panel++) pack_b_panel(K, N, panel, B, rs, cs, packed, panels);
#endif
}

void dl_bf16_gemm_rows(int m0, int m1, int N, int K, const float *A, long rs, long cs, const unsigned *packed,
                       float beta, float *C, long ldc, unsigned *apack) {
#ifdef DL_BF16_X86
    int panels = (N + NR - 1) / NR, blocks = (K + DL_BF16_KB - 1) / DL_BF16_KB;
    for (int ic = m0; ic < m1; ic += MC) {
        int mc = m1 - ic < MC ? m1 - ic : MC;
        for (int p = 0; p < blocks; p++) {
            int k0 = p * DL_BF16_KB, kc = K - k0 < DL_BF16_KB ? K - k0 : DL_BF16_KB, qn = (kc + 1) / 2;
            int mode = p > 0 ? 2 : beta == 0 ? 0 : 1;
            pack_a(ic, mc, k0, kc, A, rs, cs, apack);
            const unsigned *block = packed + (long)p * panels * KCP * NR;
            for (int j = 0; j < panels; j++) {
                int cols = N - j * NR < NR ? N - j * NR : NR;
                for (int ir = 0; ir < mc; ir += MR) {
                    int rows = mc - ir < MR ? mc - ir : MR;
                    micro_kernel(qn, apack + (long)ir * KCP, block + (long)j * KCP * NR, C + (long)(ic + ir) * ldc + j * NR,
                                 ldc, rows, cols, mode, beta);
                }
            }
        }
    }
#endif
}

void dl_bf16_round(const float *x, float *y, long count, int vector) {
#ifdef DL_BF16_X86
    if (vector) {
        round_vectors(x, y, count);
        return;
    }
#endif
    for (long i = 0; i < count; i++) {
        unsigned bits = bf16_bits(x[i]) << 16;
        memcpy(y + i, &bits, 4);
    }
}
