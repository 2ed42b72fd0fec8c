// See include/codecs.h. Each entry point follows one pattern: state that must survive a
// longjmp lives in a struct (not in locals modified after setjmp, whose values are
// indeterminate after the jump), the error handler formats the library's message into
// the caller's buffer and longjmps back, and the landing code frees everything.
#include "codecs.h"

#include <setjmp.h>
#include <stdio.h>   // jpeglib.h needs FILE and size_t declared first
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <jerror.h>  // JWRN_JPEG_EOF
#include <png.h>

void cic_free(void *buffer) { free(buffer); }

static void set_message(char *message, const char *text) {
    snprintf(message, CIC_MESSAGE_CAPACITY, "%s", text);
}

// MARK: - JPEG

typedef struct {
    struct jpeg_error_mgr manager;  // must be first: libjpeg hands us a pointer to it
    jmp_buf jump;
    char *message;
} jpeg_error_context;

static void jpeg_error_exit(j_common_ptr info) {
    jpeg_error_context *context = (jpeg_error_context *)info->err;
    char text[JMSG_LENGTH_MAX];
    info->err->format_message(info, text);
    set_message(context->message, text);
    longjmp(context->jump, 1);
}

// Warnings (level -1) and trace messages: silent, except that running out of data is
// promoted to an error. libjpeg would otherwise pad a truncated file with gray pixels
// and succeed, and a half-gray training image is worse than a clear failure.
static void jpeg_emit_message(j_common_ptr info, int level) {
    if (level == -1 && info->err->msg_code == JWRN_JPEG_EOF) {
        info->err->error_exit(info);
    }
}

typedef struct {
    struct jpeg_decompress_struct info;
    jpeg_error_context error;
    uint8_t *pixels;
} jpeg_decode_state;

int cic_decode_jpeg(const uint8_t *data, size_t size, uint64_t max_pixels,
                    uint8_t **pixels, int *width, int *height, char *message) {
    jpeg_decode_state *state = calloc(1, sizeof *state);
    if (!state) { set_message(message, "out of memory"); return CIC_ERROR; }
    state->info.err = jpeg_std_error(&state->error.manager);
    state->error.manager.error_exit = jpeg_error_exit;
    state->error.manager.emit_message = jpeg_emit_message;
    state->error.message = message;
    volatile int status = CIC_ERROR;
    if (setjmp(state->error.jump)) {
        goto done;
    }
    jpeg_create_decompress(&state->info);
    jpeg_mem_src(&state->info, (unsigned char *)data, (unsigned long)size);
    jpeg_read_header(&state->info, TRUE);
    uint64_t w = state->info.image_width, h = state->info.image_height;
    if (w * h > max_pixels) {
        snprintf(message, CIC_MESSAGE_CAPACITY,
                 "image is %llu×%llu (%llu pixels), more than the limit of %llu pixels",
                 (unsigned long long)w, (unsigned long long)h,
                 (unsigned long long)(w * h), (unsigned long long)max_pixels);
        status = CIC_TOO_LARGE;
        goto done;
    }
    if (state->info.jpeg_color_space == JCS_CMYK || state->info.jpeg_color_space == JCS_YCCK) {
        set_message(message, "CMYK JPEGs are not supported; convert the image to RGB");
        goto done;
    }
    state->info.out_color_space = JCS_RGB;
    jpeg_start_decompress(&state->info);
    size_t stride = (size_t)state->info.output_width * 3;
    state->pixels = malloc(stride * state->info.output_height);
    if (!state->pixels) { set_message(message, "out of memory"); goto done; }
    while (state->info.output_scanline < state->info.output_height) {
        JSAMPROW row = state->pixels + stride * state->info.output_scanline;
        jpeg_read_scanlines(&state->info, &row, 1);
    }
    jpeg_finish_decompress(&state->info);
    *pixels = state->pixels;
    *width = (int)state->info.output_width;
    *height = (int)state->info.output_height;
    state->pixels = NULL;
    status = CIC_OK;
done:
    jpeg_destroy_decompress(&state->info);
    free(state->pixels);
    free(state);
    return status;
}

typedef struct {
    struct jpeg_compress_struct info;
    jpeg_error_context error;
    unsigned char *output;
    unsigned long output_size;
} jpeg_encode_state;

int cic_encode_jpeg(const uint8_t *pixels, int width, int height, int channels, int quality,
                    uint8_t **output, size_t *output_size, char *message) {
    if (channels != 1 && channels != 3) { set_message(message, "JPEG needs 1 or 3 channels"); return CIC_ERROR; }
    jpeg_encode_state *state = calloc(1, sizeof *state);
    if (!state) { set_message(message, "out of memory"); return CIC_ERROR; }
    state->info.err = jpeg_std_error(&state->error.manager);
    state->error.manager.error_exit = jpeg_error_exit;
    state->error.manager.emit_message = jpeg_emit_message;
    state->error.message = message;
    volatile int status = CIC_ERROR;
    if (setjmp(state->error.jump)) {
        goto done;
    }
    jpeg_create_compress(&state->info);
    jpeg_mem_dest(&state->info, &state->output, &state->output_size);
    state->info.image_width = (JDIMENSION)width;
    state->info.image_height = (JDIMENSION)height;
    state->info.input_components = channels;
    state->info.in_color_space = channels == 3 ? JCS_RGB : JCS_GRAYSCALE;
    jpeg_set_defaults(&state->info);
    jpeg_set_quality(&state->info, quality, TRUE);
    jpeg_start_compress(&state->info, TRUE);
    size_t stride = (size_t)width * (size_t)channels;
    while (state->info.next_scanline < state->info.image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + stride * state->info.next_scanline);
        jpeg_write_scanlines(&state->info, &row, 1);
    }
    jpeg_finish_compress(&state->info);
    *output = state->output;
    *output_size = state->output_size;
    state->output = NULL;
    status = CIC_OK;
done:
    jpeg_destroy_compress(&state->info);
    free(state->output);
    free(state);
    return status;
}

// MARK: - PNG

typedef struct {
    jmp_buf jump;
    char *message;
    const uint8_t *data;
    size_t size, offset;
    uint8_t *pixels;
    png_bytep *rows;
    png_structp png;
    png_infop info;
} png_decode_state;

static void png_error_handler(png_structp png, png_const_charp text) {
    png_decode_state *state = png_get_error_ptr(png);
    set_message(state->message, text);
    longjmp(state->jump, 1);
}

static void png_warning_handler(png_structp png, png_const_charp text) {
    (void)png; (void)text;  // e.g. bad CRC in an ancillary chunk: libpng skips it, so do we
}

static void png_read_memory(png_structp png, png_bytep out, png_size_t length) {
    png_decode_state *state = png_get_io_ptr(png);
    if (length > state->size - state->offset) {
        png_error(png, "file is truncated");
    }
    memcpy(out, state->data + state->offset, length);
    state->offset += length;
}

int cic_decode_png(const uint8_t *data, size_t size, uint64_t max_pixels,
                   uint8_t **pixels, int *width, int *height, char *message) {
    if (size < 8 || png_sig_cmp((png_const_bytep)data, 0, 8) != 0) {
        set_message(message, "not a PNG (bad signature)");
        return CIC_ERROR;
    }
    png_decode_state *state = calloc(1, sizeof *state);
    if (!state) { set_message(message, "out of memory"); return CIC_ERROR; }
    state->message = message;
    state->data = data;
    state->size = size;
    volatile int status = CIC_ERROR;
    state->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, state, png_error_handler, png_warning_handler);
    if (!state->png) { set_message(message, "out of memory"); free(state); return CIC_ERROR; }
    state->info = png_create_info_struct(state->png);
    if (!state->info) { set_message(message, "out of memory"); goto done; }
    if (setjmp(state->jump)) {
        goto done;
    }
    png_set_read_fn(state->png, state, png_read_memory);
    png_read_info(state->png, state->info);
    png_uint_32 w = png_get_image_width(state->png, state->info);
    png_uint_32 h = png_get_image_height(state->png, state->info);
    if ((uint64_t)w * (uint64_t)h > max_pixels) {
        snprintf(message, CIC_MESSAGE_CAPACITY,
                 "image is %u×%u (%llu pixels), more than the limit of %llu pixels",
                 (unsigned)w, (unsigned)h, (unsigned long long)((uint64_t)w * h),
                 (unsigned long long)max_pixels);
        status = CIC_TOO_LARGE;
        goto done;
    }
    int color = png_get_color_type(state->png, state->info);
    png_set_scale_16(state->png);
    png_set_packing(state->png);
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(state->png);
    if (color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA) {
        png_set_expand_gray_1_2_4_to_8(state->png);
        png_set_gray_to_rgb(state->png);
    }
    png_set_strip_alpha(state->png);
    png_set_interlace_handling(state->png);
    png_read_update_info(state->png, state->info);
    size_t stride = png_get_rowbytes(state->png, state->info);
    if (stride != (size_t)w * 3) {
        set_message(message, "unsupported PNG pixel format");
        goto done;
    }
    state->pixels = malloc(stride * h);
    state->rows = malloc(sizeof(png_bytep) * h);
    if (!state->pixels || !state->rows) { set_message(message, "out of memory"); goto done; }
    for (png_uint_32 y = 0; y < h; y++) state->rows[y] = state->pixels + stride * y;
    png_read_image(state->png, state->rows);
    *pixels = state->pixels;
    *width = (int)w;
    *height = (int)h;
    state->pixels = NULL;
    status = CIC_OK;
done:
    png_destroy_read_struct(&state->png, state->info ? &state->info : NULL, NULL);
    free(state->rows);
    free(state->pixels);
    free(state);
    return status;
}

typedef struct {
    jmp_buf jump;
    char *message;
    uint8_t *output;
    size_t size, capacity;
    png_bytep *rows;
    png_structp png;
    png_infop info;
} png_encode_state;

static void png_encode_error_handler(png_structp png, png_const_charp text) {
    png_encode_state *state = png_get_error_ptr(png);
    set_message(state->message, text);
    longjmp(state->jump, 1);
}

static void png_write_memory(png_structp png, png_bytep bytes, png_size_t length) {
    png_encode_state *state = png_get_io_ptr(png);
    if (state->size + length > state->capacity) {
        size_t capacity = state->capacity ? state->capacity * 2 : 65536;
        while (capacity < state->size + length) capacity *= 2;
        uint8_t *grown = realloc(state->output, capacity);
        if (!grown) png_error(png, "out of memory");
        state->output = grown;
        state->capacity = capacity;
    }
    memcpy(state->output + state->size, bytes, length);
    state->size += length;
}

static void png_flush_memory(png_structp png) { (void)png; }

int cic_encode_png(const uint8_t *pixels, int width, int height, int channels,
                   uint8_t **output, size_t *output_size, char *message) {
    if (channels != 1 && channels != 3) { set_message(message, "PNG encoder needs 1 or 3 channels"); return CIC_ERROR; }
    png_encode_state *state = calloc(1, sizeof *state);
    if (!state) { set_message(message, "out of memory"); return CIC_ERROR; }
    state->message = message;
    volatile int status = CIC_ERROR;
    state->png = png_create_write_struct(PNG_LIBPNG_VER_STRING, state, png_encode_error_handler, png_warning_handler);
    if (!state->png) { set_message(message, "out of memory"); free(state); return CIC_ERROR; }
    state->info = png_create_info_struct(state->png);
    if (!state->info) { set_message(message, "out of memory"); goto done; }
    if (setjmp(state->jump)) {
        goto done;
    }
    png_set_write_fn(state->png, state, png_write_memory, png_flush_memory);
    png_set_IHDR(state->png, state->info, (png_uint_32)width, (png_uint_32)height, 8,
                 channels == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_level(state->png, 6);
    state->rows = malloc(sizeof(png_bytep) * (size_t)(height > 0 ? height : 1));
    if (!state->rows) png_error(state->png, "out of memory");
    size_t stride = (size_t)width * (size_t)channels;
    for (int y = 0; y < height; y++) state->rows[y] = (png_bytep)(pixels + stride * (size_t)y);
    png_write_info(state->png, state->info);
    png_write_image(state->png, state->rows);
    png_write_end(state->png, NULL);
    *output = state->output;
    *output_size = state->size;
    state->output = NULL;
    status = CIC_OK;
done:
    png_destroy_write_struct(&state->png, state->info ? &state->info : NULL);
    free(state->rows);
    free(state->output);
    free(state);
    return status;
}
