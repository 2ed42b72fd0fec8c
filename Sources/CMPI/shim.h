// Open MPI's C API (libopenmpi-dev; pkg-config "ompi-c"). Its handles (MPI_COMM_WORLD,
// MPI_FLOAT, MPI_SUM, …) and MPI_IN_PLACE are macros over globals that Swift cannot import;
// these wrappers return them.
#define _GNU_SOURCE
#include <mpi.h>
#include <sched.h>

static inline MPI_Comm dl_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype dl_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype dl_mpi_byte(void) { return MPI_BYTE; }
static inline MPI_Datatype dl_mpi_int(void) { return MPI_INT; }
static inline MPI_Op dl_mpi_sum(void) { return MPI_SUM; }
static inline void *dl_mpi_in_place(void) { return MPI_IN_PLACE; }
/// Failures come back as error codes instead of aborting the job (the default handler).
static inline int dl_mpi_errors_return(MPI_Comm comm) { return MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN); }

/// CPUs this process may run on (its affinity mask: mpirun binds each rank to its cores), or 0
/// when unknown.
static inline int dl_affinity_cpus(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0) return 0;
    return CPU_COUNT(&set);
}
