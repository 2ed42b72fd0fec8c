// libjpeg-turbo and libpng headers. stdio.h must precede jpeglib.h.
#include <stdio.h>
#include <stddef.h>
#include <setjmp.h>
#include <jpeglib.h>
#include <png.h>
