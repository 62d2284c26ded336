"""cffi builder for faxcast.documents._tiffg4: TIFF-F pages encoded by the system libtiff.

Only `faxcast.documents.tiff` imports the generated module. The pages go in already packed, one
bit per pixel, so libtiff encodes them as they are: Pillow would hold them at a byte per pixel
and repack every row first, which costs several times the G4 coding itself.
"""

from cffi import FFI

CDEF = """
int faxcast_g4_write(int pages, const uint8_t *const *ink, const uint32_t *rows, uint32_t width,
    double x_dpi, double y_dpi, uint8_t **out, size_t *out_size, char *message, int message_len);
void faxcast_g4_free(uint8_t *data);
const char *TIFFGetVersion(void);
"""

SOURCE = r"""
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>

/* A file that grows in memory, for TIFFClientOpenExt: the TIFF is wanted as bytes, and a
   temporary file would only be read back. */
typedef struct {
    uint8_t *data;
    size_t size;
    size_t capacity;
    size_t offset;
} faxcast_memfile_t;

static tmsize_t faxcast_mem_read(thandle_t handle, void *buffer, tmsize_t length)
{
    faxcast_memfile_t *file = (faxcast_memfile_t *) handle;
    size_t left = file->offset < file->size ? file->size - file->offset : 0;
    size_t count = (size_t) length < left ? (size_t) length : left;

    if (count > 0)
        memcpy(buffer, file->data + file->offset, count);
    file->offset += count;
    return (tmsize_t) count;
}

static tmsize_t faxcast_mem_write(thandle_t handle, void *buffer, tmsize_t length)
{
    faxcast_memfile_t *file = (faxcast_memfile_t *) handle;
    size_t end = file->offset + (size_t) length;

    if (end > file->capacity) {
        size_t capacity = file->capacity ? 2 * file->capacity : 256 * 1024;
        uint8_t *data;

        while (capacity < end)
            capacity *= 2;
        data = realloc(file->data, capacity);
        if (data == NULL)
            return -1;
        file->data = data;
        file->capacity = capacity;
    }
    /* libtiff may seek past the end before it writes: the gap reads as zeros. */
    if (file->offset > file->size)
        memset(file->data + file->size, 0, file->offset - file->size);
    memcpy(file->data + file->offset, buffer, (size_t) length);
    file->offset = end;
    if (end > file->size)
        file->size = end;
    return length;
}

static toff_t faxcast_mem_seek(thandle_t handle, toff_t offset, int whence)
{
    faxcast_memfile_t *file = (faxcast_memfile_t *) handle;

    if (whence == SEEK_CUR)
        offset += file->offset;
    else if (whence == SEEK_END)
        offset += file->size;
    file->offset = (size_t) offset;
    return offset;
}

static int faxcast_mem_close(thandle_t handle)
{
    (void) handle;
    return 0;
}

static toff_t faxcast_mem_size(thandle_t handle)
{
    return ((faxcast_memfile_t *) handle)->size;
}

static int faxcast_mem_map(thandle_t handle, void **base, toff_t *size)
{
    (void) handle;
    (void) base;
    (void) size;
    return 0;
}

static void faxcast_mem_unmap(thandle_t handle, void *base, toff_t size)
{
    (void) handle;
    (void) base;
    (void) size;
}

typedef struct {
    char *message;
    int message_len;
    int errors;
} faxcast_g4_errors_t;

static int faxcast_g4_on_error(TIFF *tif, void *user_data, const char *module, const char *fmt,
                               va_list ap)
{
    faxcast_g4_errors_t *errors = (faxcast_g4_errors_t *) user_data;

    (void) tif;
    (void) module;
    if (errors->errors++ == 0)
        vsnprintf(errors->message, errors->message_len, fmt, ap);
    return 1;
}

/* Writes the pages as one TIFF Class F in memory: G4, MinIsWhite, one strip and one IFD per
   page. `ink` holds each page's rows packed most significant bit first, 1 for black. Returns 0
   with *out (to be released by faxcast_g4_free) and *out_size set, else -1 with a message. */
static int faxcast_g4_write(int pages, const uint8_t *const *ink, const uint32_t *rows,
                            uint32_t width, double x_dpi, double y_dpi, uint8_t **out,
                            size_t *out_size, char *message, int message_len)
{
    faxcast_memfile_t file = {NULL, 0, 0, 0};
    faxcast_g4_errors_t errors = {message, message_len, 0};
    TIFFOpenOptions *options = TIFFOpenOptionsAlloc();
    tmsize_t row_bytes = (width + 7) / 8;
    TIFF *tif;
    int page;

    message[0] = '\0';
    *out = NULL;
    *out_size = 0;
    if (options == NULL) {
        snprintf(message, message_len, "out of memory");
        return -1;
    }
    TIFFOpenOptionsSetErrorHandlerExtR(options, faxcast_g4_on_error, &errors);
    tif = TIFFClientOpenExt("faxcast.tif", "w", (thandle_t) &file, faxcast_mem_read,
                            faxcast_mem_write, faxcast_mem_seek, faxcast_mem_close,
                            faxcast_mem_size, faxcast_mem_map, faxcast_mem_unmap, options);
    TIFFOpenOptionsFree(options);
    if (tif == NULL) {
        if (message[0] == '\0')
            snprintf(message, message_len, "libtiff cannot open a file in memory");
        free(file.data);
        return -1;
    }
    for (page = 0; page < pages && errors.errors == 0; page++) {
        TIFFSetField(tif, TIFFTAG_SUBFILETYPE, FILETYPE_PAGE);
        TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, width);
        TIFFSetField(tif, TIFFTAG_IMAGELENGTH, rows[page]);
        TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, 1);
        TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, 1);
        TIFFSetField(tif, TIFFTAG_COMPRESSION, COMPRESSION_CCITTFAX4);
        TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISWHITE);
        TIFFSetField(tif, TIFFTAG_FILLORDER, FILLORDER_MSB2LSB);
        TIFFSetField(tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
        /* One strip per page, as TIFF-F advises: the strip is the page's whole T.6 stream. */
        TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, rows[page]);
        TIFFSetField(tif, TIFFTAG_XRESOLUTION, x_dpi);
        TIFFSetField(tif, TIFFTAG_YRESOLUTION, y_dpi);
        TIFFSetField(tif, TIFFTAG_RESOLUTIONUNIT, RESUNIT_INCH);
        TIFFSetField(tif, TIFFTAG_PAGENUMBER, page, pages);
        TIFFSetField(tif, TIFFTAG_SOFTWARE, "faxcast");
        if (TIFFWriteEncodedStrip(tif, 0, (void *) ink[page], row_bytes * rows[page]) < 0) {
            if (errors.errors++ == 0)
                snprintf(message, message_len, "page %d cannot be encoded", page + 1);
        } else if (!TIFFWriteDirectory(tif) && errors.errors++ == 0) {
            snprintf(message, message_len, "page %d cannot be written", page + 1);
        }
    }
    TIFFClose(tif);
    if (errors.errors) {
        free(file.data);
        return -1;
    }
    *out = file.data;
    *out_size = file.size;
    return 0;
}

static void faxcast_g4_free(uint8_t *data)
{
    free(data);
}
"""

ffibuilder = FFI()
ffibuilder.cdef(CDEF)
ffibuilder.set_source("faxcast.documents._tiffg4", SOURCE, libraries=["tiff"])

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
