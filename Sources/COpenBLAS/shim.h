// OpenBLAS's CBLAS interface and the LAPACKE C interface to LAPACK.
// Debian puts cblas.h under the openblas-pthread include directory that pkg-config names.
#include <cblas.h>
#include <lapacke.h>
#include <stdint.h>

// Thread control lives in OpenBLAS's own header; declared here so Swift can call it
// without depending on which openblas_config.h variant is installed.
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);

// OpenBLAS's runtime kernel selection (DYNAMIC_ARCH builds such as Debian's). Re-running it
// after setting OPENBLAS_CORETYPE switches to the kernels of that core; see OpenBLASSetup.swift.
char *openblas_get_corename(void);
void gotoblas_dynamic_init(void);
void gotoblas_dynamic_quit(void);

// OpenBLAS's worker threads spin for 2^OPENBLAS_THREAD_TIMEOUT cycles (default 2^28, about a
// tenth of a second) after each BLAS call before they sleep; see OpenBLASSetup.swift. These
// re-read the environment and stop the workers (they restart on the next threaded call).
void openblas_read_env(void);
int openblas_thread_timeout(void);
int blas_thread_shutdown_(void);
