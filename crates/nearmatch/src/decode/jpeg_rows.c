/*
 * Row-by-row JPEG decoding through libjpeg-turbo's libjpeg API (the library the `turbojpeg`
 * crate builds and links): the exact PDQ path hands each decoded row straight to the tent
 * filter instead of writing the whole image to memory first (src/decode/jpeg.rs, `rows`).
 *
 * The decoder is set up as TurboJPEG's tj3Decompress8 sets it up for TJPF_RGB / TJPF_GRAY
 * output with default parameters (accurate integer IDCT, fancy upsampling), so the pixels are
 * the same; the Rust side falls back to the whole-image path on any warning or error, so what
 * is reported for a damaged file is unchanged.
 *
 * libjpeg reports fatal errors through error_exit, which must not return: it longjmps back into
 * the shim function that called setjmp. Every longjmp stays inside C frames of this file (no
 * Rust frame is ever jumped over), and the shim aborts the decompression before returning, so
 * the object can decode the next image.
 */
#include <setjmp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jpeglib.h"

struct nm_error {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    int warnings;
    char message[JMSG_LENGTH_MAX];
};

struct nm_jpeg {
    struct jpeg_decompress_struct cinfo;
    struct nm_error err;
    int active;
};

static void nm_error_exit(j_common_ptr cinfo) {
    struct nm_error *err = (struct nm_error *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, err->message);
    longjmp(err->jump, 1);
}

/* Warnings (level < 0) are counted and the first one kept; trace messages are dropped. Nothing
 * is ever printed. */
static void nm_emit_message(j_common_ptr cinfo, int level) {
    struct nm_error *err = (struct nm_error *)cinfo->err;
    if (level < 0) {
        if (err->warnings == 0) (*cinfo->err->format_message)(cinfo, err->message);
        err->warnings++;
    }
}

static void nm_output_message(j_common_ptr cinfo) { (void)cinfo; }

/* jpeg_create_decompress under the error handler; 0 if it failed (out of memory). A function
 * of its own so that no local of the caller is live across the longjmp. */
static int nm_create(struct nm_jpeg *d) {
    if (setjmp(d->err.jump)) {
        jpeg_destroy_decompress(&d->cinfo);
        return 0;
    }
    jpeg_create_decompress(&d->cinfo);
    return 1;
}

/* A decompressor for any number of images in turn; NULL if memory is short. */
struct nm_jpeg *nm_jpeg_new(void) {
    struct nm_jpeg *d = (struct nm_jpeg *)calloc(1, sizeof(struct nm_jpeg));
    if (d == NULL) return NULL;
    d->cinfo.err = jpeg_std_error(&d->err.pub);
    d->err.pub.error_exit = nm_error_exit;
    d->err.pub.emit_message = nm_emit_message;
    d->err.pub.output_message = nm_output_message;
    if (!nm_create(d)) {
        free(d);
        return NULL;
    }
    return d;
}

void nm_jpeg_free(struct nm_jpeg *d) {
    if (d == NULL) return;
    jpeg_destroy_decompress(&d->cinfo);
    free(d);
}

/* Ends the current image, if any, so the object can start another. */
void nm_jpeg_abort(struct nm_jpeg *d) {
    if (d->active) {
        jpeg_abort_decompress(&d->cinfo);
        d->active = 0;
    }
}

/*
 * Reads the header of `len` bytes at `data` (which must stay valid until nm_jpeg_abort or
 * nm_jpeg_finish) and its size: 0 when this path decodes it (grey, YCbCr or RGB; and a
 * 2-component JPEG when `two_components` is set), 1 when it does not (CMYK, YCCK, other colour
 * spaces; abandoned), -1 on an error (nm_jpeg_message).
 * Nothing image-sized is allocated yet: the caller checks the size against its limits before
 * nm_jpeg_begin (a progressive file's coefficients are allocated whole there).
 */
int nm_jpeg_header(struct nm_jpeg *d, const unsigned char *data, unsigned long len,
                   unsigned int *width, unsigned int *height, int two_components) {
    nm_jpeg_abort(d);
    d->err.warnings = 0;
    d->err.message[0] = 0;
    d->active = 1;
    if (setjmp(d->err.jump)) {
        nm_jpeg_abort(d);
        return -1;
    }
    jpeg_mem_src(&d->cinfo, data, len);
    jpeg_read_header(&d->cinfo, TRUE);
    *width = d->cinfo.image_width;
    *height = d->cinfo.image_height;
    switch (d->cinfo.jpeg_color_space) {
        case JCS_GRAYSCALE:
            d->cinfo.out_color_space = JCS_GRAYSCALE;
            break;
        case JCS_YCbCr:
        case JCS_RGB:
            d->cinfo.out_color_space = JCS_EXT_RGB;
            break;
        case JCS_UNKNOWN:
            /* A 2-component JPEG (grey+alpha in a TIFF), asked for: libjpeg's defaults for it,
             * no colour conversion, as libtiff decodes it. */
            if (two_components && d->cinfo.num_components == 2) break;
            nm_jpeg_abort(d);
            return 1;
        default:
            nm_jpeg_abort(d);
            return 1;
    }
    d->cinfo.dct_method = JDCT_ISLOW;
    d->cinfo.do_fancy_upsampling = TRUE;
    return 0;
}

/* Starts decoding after nm_jpeg_header: 0 and the output size and components (1: grey,
 * 3: RGB), or -1 on an error. A warning does not stop it: nm_jpeg_warnings counts them. */
int nm_jpeg_begin(struct nm_jpeg *d, unsigned int *width, unsigned int *height,
                  int *components) {
    if (!d->active) return -1;
    if (setjmp(d->err.jump)) {
        nm_jpeg_abort(d);
        return -1;
    }
    jpeg_start_decompress(&d->cinfo);
    *width = d->cinfo.output_width;
    *height = d->cinfo.output_height;
    *components = d->cinfo.output_components;
    return 0;
}

static int nm_read_rows(struct nm_jpeg *d, unsigned char *buf, unsigned long stride,
                        int max_rows) {
    JSAMPROW rows[16];
    int done = 0;
    if (max_rows > 16) max_rows = 16;
    while (done < max_rows && d->cinfo.output_scanline < d->cinfo.output_height) {
        int i;
        JDIMENSION got;
        for (i = 0; i < max_rows - done; i++) rows[i] = buf + (size_t)(done + i) * stride;
        got = jpeg_read_scanlines(&d->cinfo, rows, (JDIMENSION)(max_rows - done));
        if (got == 0) break;
        done += (int)got;
    }
    return done;
}

/* Decodes up to `max_rows` rows into `buf` (rows `stride` bytes apart). Returns the number of
 * rows decoded (0 once all are), or -1 on an error (after which the image is abandoned). */
int nm_jpeg_read(struct nm_jpeg *d, unsigned char *buf, unsigned long stride, int max_rows) {
    if (!d->active) return -1;
    if (setjmp(d->err.jump)) {
        nm_jpeg_abort(d);
        return -1;
    }
    return nm_read_rows(d, buf, stride, max_rows);
}

/* Reads the rest of the file (to its end marker) as TurboJPEG does; 0, or -1 on an error. */
int nm_jpeg_finish(struct nm_jpeg *d) {
    if (!d->active) return -1;
    if (setjmp(d->err.jump)) {
        nm_jpeg_abort(d);
        return -1;
    }
    jpeg_finish_decompress(&d->cinfo);
    d->active = 0;
    return 0;
}

int nm_jpeg_warnings(const struct nm_jpeg *d) { return d->err.warnings; }

const char *nm_jpeg_message(const struct nm_jpeg *d) { return d->err.message; }
