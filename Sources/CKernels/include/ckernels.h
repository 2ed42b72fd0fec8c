// Vectorised C kernels for the products OpenBLAS handles badly: "skinny" matrix products with
// at most a few dozen rows on one side and a large (weight) matrix on the other. They are
// memory-bound (each weight is used a handful of times), and OpenBLAS 0.3.21 packs the large
// operand before using it, and so reads it well below the speed memory streams at
// (Docs/Performance.md has the figures). Sources/DeepLearning/Ops/MatrixProduct.swift decides
// when the library uses them.
//
// All matrices are row-major with explicit leading dimensions. The `level` argument selects
// the instruction set: 2 = AVX-512F, 1 = AVX2 + FMA; callers take it from
// `dl_skinny_level()` (or pass a lower level, e.g. to test the AVX2 code on an AVX-512 CPU).
// Calling a level the CPU lacks is undefined behaviour.
#ifndef CKERNELS_H
#define CKERNELS_H

#include <stddef.h>

/// The widest path the running CPU supports: 2 (AVX-512F), 1 (AVX2 + FMA), or 0 (neither:
/// these kernels are unavailable and callers must use BLAS).
int dl_skinny_level(void);

/// The vector width in floats of `level` (16 or 8); N, K and the like must be multiples of it
/// where the functions below say so.
int dl_skinny_lanes(int level);

/// Partial product over rows k0..<k1 of B: P[m, :] = Σ_{k0≤k<k1} A[m, k]·B[k, :] for m < M,
/// overwriting P (stride ldp). N must be a multiple of the lane count. `apack` is scratch of
/// (k1 − k0)·M floats. Callers split K between threads and add the partial products.
void dl_skinny_nn_partial(int level, int M, int N, int k0, int k1, const float *A, int lda,
                          const float *B, int ldb, float *P, int ldp, float *apack);

/// C[m, n] = β·C[m, n] + Σ_k A[m, k]·B[n, k] for m < M and n0 ≤ n < n1 (B used transposed).
/// K must be a multiple of the lane count. With β = 0, C is not read.
void dl_skinny_nt(int level, int M, int n0, int n1, int K, const float *A, int lda,
                  const float *B, int ldb, float beta, float *C, int ldc);

/// C[m, :] = Σ_k A[k, m]·B[k, :] for m0 ≤ m < m1 (A used transposed, K small), overwriting C.
/// N must be a multiple of the lane count. Rows of C are written with streaming stores when C
/// and ldc are aligned to the vector size.
void dl_skinny_tn(int level, int m0, int m1, int N, int K, const float *A, int lda,
                  const float *B, int ldb, float *C, int ldc);

/// Softmax (or, with `logarithm` ≠ 0, log-softmax) of one contiguous row of `n` floats into `y`
/// (which may be `x`), at `level` (1 or 2; 0 does nothing).
void dl_softmax_row(int level, const float *x, float *y, int n, int logarithm);

/// The pullback of one contiguous softmax row, ∂x = y·(∂y − Σ ∂y·y), or with `logarithm` ≠ 0 of
/// a log-softmax row from its output, ∂x = ∂y − e^y·Σ ∂y, at `level` (1 or 2; 0 does nothing).
void dl_softmax_gradient_row(int level, const float *dy, const float *y, float *dx, int n, int logarithm);

/// A pointwise function over the whole vectors of `count` floats at `level`: op 0 GELU (exact),
/// 1 its input gradient `dy·GELU′(x)`, 2 SiLU, 3 `dy·SiLU′(x)`. Writes `out` and returns how
/// many elements it did (a multiple of the lane count; 0 at level 0): the caller does the rest.
long dl_unary_vectors(int level, int op, const float *x, const float *dy, float *out, long count);

/// Layer normalisation of `rows` contiguous rows of `n` floats (x̂ = (x − μ)·r, r = 1/√(σ² + ε),
/// y = γ·x̂ + β with γ, β of n floats), writing each row's μ and r to `mean` and `inverse`.
void dl_layer_norm_rows(int level, const float *x, float *y, long rows, int n, const float *gamma,
                        const float *beta, float epsilon, float *mean, float *inverse);

/// The layer-norm pullback of `rows` rows: writes ∂x and adds Σ ∂y·x̂ and Σ ∂y (per feature) to
/// `dgamma` and `dbeta`.
void dl_layer_norm_gradient_rows(int level, const float *dy, const float *x, float *dx, long rows, int n,
                                 const float *gamma, const float *mean, const float *inverse, float *dgamma,
                                 float *dbeta);

/// Over `pixels` rows of `channels` contiguous floats, per channel: mode 0 adds Σ x to `sums`,
/// mode 1 adds Σ (x − mean[c])² (`mean` unused in mode 0).
void dl_channel_sums(int level, int mode, const float *x, long pixels, int channels, const float *mean,
                     float *sums);

/// Per channel over `pixels` rows: with `dy` null, out = x·a + offset; otherwise
/// out = dy·a + x·slope + offset.
void dl_channel_affine(int level, const float *dy, const float *x, float *out, long pixels, int channels,
                       const float *a, const float *slope, const float *offset);

/// Per channel over `pixels` rows: sumDy += Σ ∂y and sumDyX += Σ ∂y·(x − mean[c]).
void dl_channel_gradient_sums(int level, const float *dy, const float *x, long pixels, int channels,
                              const float *mean, float *sumDy, float *sumDyX);

/// A hint to the CPU inside a spin-wait loop (x86 `pause`; nothing elsewhere).
static inline void dl_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

// bfloat16 matrix products (bf16gemm.c): C = op(A)·op(B) + β·C with op(A) [M, K] and op(B)
// [K, N] given by row and column strides (element (i, j) at base + i·rs + j·cs), both rounded
// to bf16 (nearest even) as they are packed, products accumulated in float32. op(B) is packed
// once (`dl_bf16_pack_b`, any split of its panels between threads), then each thread computes
// a range of C's rows (`dl_bf16_gemm_rows`) with its own A scratch. Only where
// `dl_bf16_supported()` is 1.

/// k values per packed block, and 32-bit words (k pairs) per packed row of a block.
#define DL_BF16_KB 256
#define DL_BF16_KCP (DL_BF16_KB / 2)

/// 1 when the CPU has AVX-512F/BW/VL and AVX512_BF16, else 0.
int dl_bf16_supported(void);

/// How many multiply-adds per second `vdpbf16ps` does relative to float32 `vfmadd` on this
/// CPU, from a sub-millisecond timing of both (about 2 where the instructions issue at the same
/// rate, as each `vdpbf16ps` lane does two multiply-adds; 0.5 on an Intel Xeon without AMX where
/// it issues at a quarter of the rate); 0 without AVX512_BF16.
double dl_bf16_relative_rate(void);

/// Words of packed op(B) for a K×N product (its panels are 32 columns wide).
long dl_bf16_packed_b_words(int K, int N);

/// Words of A scratch one thread needs for `dl_bf16_gemm_rows`.
long dl_bf16_packed_a_words(void);

/// Packs panels panel0..<panel1 (32 columns each, the last one zero-padded) of op(B).
void dl_bf16_pack_b(int K, int N, int panel0, int panel1, const float *B, long rs, long cs, unsigned *packed);

/// Rows m0..<m1 of C (row stride ldc, unit column stride) from op(A) and packed op(B). With
/// β = 0, C is not read.
void dl_bf16_gemm_rows(int m0, int m1, int N, int K, const float *A, long rs, long cs, const unsigned *packed,
                       float beta, float *C, long ldc, unsigned *apack);

/// y = x rounded to bf16 and back (as the products round their operands); `vector` ≠ 0 uses the
/// `vcvtneps2bf16` instruction (only where supported), 0 the same rounding in plain C.
void dl_bf16_round(const float *x, float *y, long count, int vector);

/// Winograd F(2×2, 3×3) for stride-1 3×3 convolutions on NHWC tensors (winograd.c): the kernel
/// transform U[16][Cin][Cout] = G·g·Gᵀ of a `[3, 3, cin, cout]` kernel. (The input gradient's
/// kernel — rotated 180°, channels swapped — needs no transform of its own: rotating g permutes
/// the rows and columns of G·g·Gᵀ (0 ↔ 3), so its planes are U's, permuted and transposed.)
void dl_winograd_kernel(int level, const float *w, int cin, int cout, float *u);

/// The input transform V[ξ][t − t0][c] = Bᵀ·d·B of tiles t0..<t1 of `x` ([N, height, width,
/// c]) at `level` (as `dl_skinny_level`; 0: plain C); tile t is image t / (tiles_y·tiles_x), row and column of 2×2 outputs within it; its 4×4
/// window starts at (2·row − pad_top, 2·column − pad_left), zeros outside the image. ξ planes
/// are `xi_stride` floats apart.
void dl_winograd_input(int level, const float *x, int height, int width, int c, int pad_top, int pad_left, int tiles_y,
                       int tiles_x, long t0, long t1, float *v, long xi_stride);

/// The output transform Y = Aᵀ·M·A of tiles t0..<t1 (M[ξ][t − t0][cout], planes `xi_stride`
/// apart) into `y` ([N, out_height, out_width, cout]) plus `bias` (nil: none); outputs past the
/// image's edge are not written.
void dl_winograd_output(int level, const float *m, long xi_stride, int out_height, int out_width, int cout, int tiles_y,
                        int tiles_x, long t0, long t1, const float *bias, float *y);

/// The adjoint of the output transform, for the kernel gradient: ∂M[ξ][t − t0][cout] = A·∂Y·Aᵀ
/// of tiles t0..<t1 of `dy` ([N, out_height, out_width, cout]), zeros past the image's edge.
void dl_winograd_output_adjoint(int level, const float *dy, int out_height, int out_width, int cout, int tiles_y,
                                int tiles_x, long t0, long t1, float *dm, long xi_stride);

/// The adjoint of the kernel transform: ∂w ([3, 3, cin, cout], overwritten) = Gᵀ·∂U·G from
/// ∂U[16][cin][cout].
void dl_winograd_kernel_adjoint(int level, const float *du, int cin, int cout, float *dw);

// Direct stride-1 unpadded convolutions with at most 4 output channels (thinconv.c), NHWC: a
// generator's RGB output layer, whose patch-matrix GEMMs have N ≤ 4. The kernel [taps][c][cout]
// is repacked as wt[taps][4][c], zero past cout (`dl_thin_conv_pack`; `_unpack` the reverse).
// Channel counts must be multiples of twice the level's lane count; level 1 or 2 only.
void dl_thin_conv_pack(const float *w, int taps, int c, int cout, float *wt);
void dl_thin_conv_unpack(const float *wt, int taps, int c, int cout, float *w);

/// Output lines line0..<line1 (of N·out_height) of y ([N, out_height, out_width, cout]) from x
/// ([N, height, width, c]) and `bias` (nil: none).
void dl_thin_conv_forward(int level, const float *x, int height, int width, int c, int kh, int kw, const float *wt,
                          int cout, const float *bias, float *y, int out_height, int out_width, long line0,
                          long line1);

/// Input lines line0..<line1 (of N·height) of ∂x, overwritten, from `dyp`: ∂y with 4 channels,
/// zero-padded by kh − 1 rows and kw − 1 columns on every side ([N, padded_height, padded_width, 4]).
void dl_thin_conv_input_gradient(int level, const float *dyp, int padded_height, int padded_width, int kh, int kw,
                                 const float *wt, int c, float *dx, int height, int width, long line0, long line1);

/// Adds to dwt ([taps][4][c]) the kernel gradient of output lines line0..<line1, from x and ∂y
/// with 4 channels ([N·out_height·out_width, 4]).
void dl_thin_conv_kernel_gradient(int level, const float *x, int height, int width, int c, int kh, int kw,
                                  const float *dy4, int out_height, int out_width, long line0, long line1,
                                  float *dwt);

#endif
