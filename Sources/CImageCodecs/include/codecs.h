// Memory-to-memory JPEG (libjpeg-turbo) and PNG (libpng) codecs for the Imaging module.
//
// Why C: both libraries report errors by calling a handler that must not return
// (libjpeg's default calls exit()); the only safe way back is setjmp/longjmp, which Swift
// cannot express. Every function here installs handlers that longjmp to the function's
// entry, frees what it allocated and returns CIC_ERROR with a human-readable message.
#ifndef CIMAGECODECS_CODECS_H
#define CIMAGECODECS_CODECS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Return codes of every cic_* function.
enum {
    CIC_OK = 0,
    /// The input is corrupt, truncated or unsupported; `message` says why.
    CIC_ERROR = 1,
    /// The header declares more than `max_pixels` pixels; nothing was allocated.
    CIC_TOO_LARGE = 2,
};

/// Size of the message buffers the caller passes in.
#define CIC_MESSAGE_CAPACITY 256

/// Decodes a JPEG held in memory to 8-bit interleaved RGB (`*height` rows of `*width * 3`
/// bytes). Grayscale and YCbCr inputs are converted to RGB by libjpeg; CMYK is rejected.
/// The dimensions are checked against `max_pixels` from the header, before any pixel
/// buffer is allocated. On CIC_OK `*pixels` is malloc'ed: release it with `cic_free`.
/// Truncated data is an error (libjpeg alone would pad it with gray and only warn).
int cic_decode_jpeg(const uint8_t *data, size_t size, uint64_t max_pixels,
                    uint8_t **pixels, int *width, int *height, char *message);

/// Decodes a PNG held in memory to 8-bit interleaved RGB. Palette images are expanded,
/// grayscale is replicated to R = G = B, alpha is dropped (not composited, like PIL's
/// `convert("RGB")`), 16-bit samples are scaled to 8 bits with rounding, interlacing is
/// undone. Same size check, ownership and error contract as `cic_decode_jpeg`.
int cic_decode_png(const uint8_t *data, size_t size, uint64_t max_pixels,
                   uint8_t **pixels, int *width, int *height, char *message);

/// Encodes `height` rows of `width * channels` bytes (`channels` 1 = gray or 3 = RGB) as a
/// baseline JPEG with 4:2:0 chroma subsampling at `quality` 1...100. On CIC_OK `*output`
/// (`*output_size` bytes) is malloc'ed: release it with `cic_free`.
int cic_encode_jpeg(const uint8_t *pixels, int width, int height, int channels, int quality,
                    uint8_t **output, size_t *output_size, char *message);

/// Encodes 8-bit gray (`channels` 1) or RGB (`channels` 3) pixels as a non-interlaced PNG
/// at zlib level 6. Same ownership contract as `cic_encode_jpeg`.
int cic_encode_png(const uint8_t *pixels, int width, int height, int channels,
                   uint8_t **output, size_t *output_size, char *message);

/// Releases a buffer returned by one of the functions above.
void cic_free(void *buffer);

#ifdef __cplusplus
}
#endif

#endif
