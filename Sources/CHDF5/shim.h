// Debian's HDF5 C library (libhdf5-dev; pkg-config "hdf5" points at its serial build). Several
// of its constants are macros over globals that Swift cannot import; these wrappers return them.
#include <hdf5.h>

static inline hid_t dl_h5_native_float(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t dl_h5_p_default(void) { return H5P_DEFAULT; }
static inline hid_t dl_h5_s_all(void) { return H5S_ALL; }
static inline hid_t dl_h5_c_s1(void) { return H5T_C_S1; }
/// Stops HDF5 printing its error stack to stderr: failures come back as error values.
static inline void dl_h5_silence(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }
static inline unsigned dl_h5_acc_rdonly(void) { return H5F_ACC_RDONLY; }
