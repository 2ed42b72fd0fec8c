// Runtime dispatch between the AVX-512 and AVX2 builds of skinny_body.h. The package has no
// compiler flags (Docs/Design.md §8: no unsafeFlags), so each build enables its instruction set
// with a function attribute and the CPU is asked at run time.
#include "ckernels.h"
#include <string.h>

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#define DL_SKINNY_X86 1

#define VW 16
#define NN_KB 8
#define NT_MB 4
#define F(name) dl_##name##_avx512
#define TARGET __attribute__((target("avx512f")))
#include "skinny_body.h"
#undef VW
#undef NN_KB
#undef NT_MB
#undef F
#undef TARGET

#define VW 8
#define NN_KB 4
#define NT_MB 2
#define F(name) dl_##name##_avx2
#define TARGET __attribute__((target("avx2,fma")))
#include "skinny_body.h"
#undef VW
#undef NN_KB
#undef NT_MB
#undef F
#undef TARGET
#endif

int dl_skinny_level(void) {
#ifdef DL_SKINNY_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return 2;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 1;
#endif
    return 0;
}

int dl_skinny_lanes(int level) { return level >= 2 ? 16 : 8; }

void dl_skinny_nn_partial(int level, int M, int N, int k0, int k1, const float *A, int lda,
                          const float *B, int ldb, float *P, int ldp, float *apack) {
#ifdef DL_SKINNY_X86
    if (level >= 2) dl_nn_partial_avx512(M, N, k0, k1, A, lda, B, ldb, P, ldp, apack);
    else if (level == 1) dl_nn_partial_avx2(M, N, k0, k1, A, lda, B, ldb, P, ldp, apack);
#endif
}

void dl_skinny_nt(int level, int M, int n0, int n1, int K, const float *A, int lda,
                  const float *B, int ldb, float beta, float *C, int ldc) {
#ifdef DL_SKINNY_X86
    if (level >= 2) dl_nt_avx512(M, n0, n1, K, A, lda, B, ldb, beta, C, ldc);
    else if (level == 1) dl_nt_avx2(M, n0, n1, K, A, lda, B, ldb, beta, C, ldc);
#endif
}

void dl_skinny_tn(int level, int m0, int m1, int N, int K, const float *A, int lda,
                  const float *B, int ldb, float *C, int ldc) {
#ifdef DL_SKINNY_X86
    if (level >= 2) dl_tn_avx512(m0, m1, N, K, A, lda, B, ldb, C, ldc);
    else if (level == 1) dl_tn_avx2(m0, m1, N, K, A, lda, B, ldb, C, ldc);
#endif
}
