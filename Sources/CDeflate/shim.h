// zlib, for inflating NPZ entries over exactly their byte range (see NPZ.swift).
#include <zlib.h>
