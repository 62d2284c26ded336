"""cffi builder for faxcast.fax._spandsp, the binding to the system libspandsp (0.0.6).

Only `faxcast.fax.engine` and `faxcast.fax.g711` import the generated module. The C below is
glue that keeps per-frame work on the C side of the boundary: one call per audio frame (modem +
G.711), and a queue that T.38 packets go into, so SpanDSP never calls back into Python per packet.
"""

from cffi import FFI

CDEF = """
typedef ... fax_state_t;
typedef ... t30_state_t;
typedef ... t38_terminal_state_t;
typedef ... t38_core_state_t;
typedef ... g711_state_t;
typedef ... logging_state_t;

typedef struct {
    int bit_rate;
    int error_correcting_mode;
    int pages_tx;
    int pages_rx;
    int pages_in_file;
    int x_resolution;
    int y_resolution;
    int width;
    int length;
    int encoding;
    int bad_rows;
    int error_correcting_mode_retries;
    ...;
} t30_stats_t;

#define T30_MCF ...
#define T30_RTP ...
#define T30_RTN ...
#define T30_PIP ...
#define T30_PIN ...

#define T30_SUPPORT_V27TER ...
#define T30_SUPPORT_V29 ...
#define T30_SUPPORT_V17 ...
#define T30_SUPPORT_T4_1D_COMPRESSION ...
#define T30_SUPPORT_T4_2D_COMPRESSION ...
#define T30_SUPPORT_T6_COMPRESSION ...
#define T30_SUPPORT_STANDARD_RESOLUTION ...
#define T30_SUPPORT_FINE_RESOLUTION ...
#define T30_SUPPORT_SUPERFINE_RESOLUTION ...
#define T30_SUPPORT_R8_RESOLUTION ...
#define T30_SUPPORT_215MM_WIDTH ...
#define T30_SUPPORT_UNLIMITED_LENGTH ...
#define T30_SUPPORT_A4_LENGTH ...
#define T30_SUPPORT_B4_LENGTH ...
#define T30_SUPPORT_US_LETTER_LENGTH ...
#define T30_SUPPORT_US_LEGAL_LENGTH ...
#define T38_TERMINAL_OPTION_NO_PACING ...
#define G711_ALAW ...
#define G711_ULAW ...
#define SPAN_LOG_NONE ...
#define SPAN_LOG_ERROR ...
#define SPAN_LOG_WARNING ...
#define SPAN_LOG_PROTOCOL_WARNING ...
#define SPAN_LOG_FLOW ...
#define SPAN_LOG_SHOW_PROTOCOL ...
#define SPAN_LOG_SHOW_TAG ...
#define FAXCAST_IFP_MAX ...

fax_state_t *fax_init(fax_state_t *s, int calling_party);
int fax_free(fax_state_t *s);
void fax_set_transmit_on_idle(fax_state_t *s, int transmit_on_idle);
t30_state_t *fax_get_t30_state(fax_state_t *s);
logging_state_t *fax_get_logging_state(fax_state_t *s);
int fax_tx(fax_state_t *s, int16_t *amp, int max_len);
int fax_rx(fax_state_t *s, int16_t *amp, int len);
int fax_rx_fillin(fax_state_t *s, int len);

t38_terminal_state_t *t38_terminal_init(t38_terminal_state_t *s, int calling_party,
    int (*tx_packet_handler)(t38_core_state_t *, void *, const uint8_t *, int, int),
    void *tx_packet_user_data);
int t38_terminal_free(t38_terminal_state_t *s);
void t38_terminal_set_config(t38_terminal_state_t *s, int config);
t30_state_t *t38_terminal_get_t30_state(t38_terminal_state_t *s);
t38_core_state_t *t38_terminal_get_t38_core_state(t38_terminal_state_t *s);
logging_state_t *t38_terminal_get_logging_state(t38_terminal_state_t *s);
int t38_terminal_send_timeout(t38_terminal_state_t *s, int samples);
int t38_core_rx_ifp_packet(t38_core_state_t *s, const uint8_t *buf, int len, uint16_t seq_no);
logging_state_t *t38_core_get_logging_state(t38_core_state_t *s);
void t38_set_max_datagram_size(t38_core_state_t *s, int max_datagram_size);
void t38_set_t38_version(t38_core_state_t *s, int t38_version);

int t30_set_tx_ident(t30_state_t *s, const char *id);
const char *t30_get_rx_ident(t30_state_t *s);
int t30_set_tx_page_header_info(t30_state_t *s, const char *info);
void t30_set_tx_file(t30_state_t *s, const char *file, int start_page, int stop_page);
void t30_set_rx_file(t30_state_t *s, const char *file, int stop_page);
int t30_set_ecm_capability(t30_state_t *s, int enabled);
int t30_set_supported_modems(t30_state_t *s, int supported_modems);
int t30_set_supported_compressions(t30_state_t *s, int supported_compressions);
int t30_set_supported_resolutions(t30_state_t *s, int supported_resolutions);
int t30_set_supported_image_sizes(t30_state_t *s, int supported_image_sizes);
void t30_set_phase_d_handler(t30_state_t *s, int (*handler)(t30_state_t *, void *, int),
    void *user_data);
void t30_set_phase_e_handler(t30_state_t *s, void (*handler)(t30_state_t *, void *, int),
    void *user_data);
void t30_get_transfer_statistics(t30_state_t *s, t30_stats_t *t);
void t30_terminate(t30_state_t *s);
const char *t30_completion_code_to_str(int result);
logging_state_t *t30_get_logging_state(t30_state_t *s);

int span_log_set_level(logging_state_t *s, int level);
int span_log_set_tag(logging_state_t *s, const char *tag);
void span_set_message_handler(void (*func)(int level, const char *text));

g711_state_t *g711_init(g711_state_t *s, int mode);
int g711_free(g711_state_t *s);
int g711_encode(g711_state_t *s, uint8_t g711_data[], const int16_t amp[], int len);
int g711_decode(g711_state_t *s, int16_t amp[], const uint8_t g711_data[], int g711_bytes);

typedef struct {
    int head;
    int count;
    int dropped;
    ...;
} faxcast_ifp_queue_t;

void faxcast_ifp_queue_release(faxcast_ifp_queue_t *q);
int faxcast_t38_advance(t38_terminal_state_t *t, faxcast_ifp_queue_t *q, int samples);

int faxcast_ifp_queue_push(t38_core_state_t *s, void *user_data, const uint8_t *buf, int len,
    int count);
int faxcast_ifp_queue_pop(faxcast_ifp_queue_t *q, uint8_t *out, int *repeats);
int faxcast_audio_tx(fax_state_t *fax, g711_state_t *g711, uint8_t *out, int16_t *pcm,
    int samples);
int faxcast_audio_rx(fax_state_t *fax, g711_state_t *g711, const uint8_t *in, int16_t *pcm,
    int samples);

typedef struct {
    int64_t samples;
    ...;
} faxcast_line_t;

faxcast_line_t *faxcast_line_new(fax_state_t *fax, g711_state_t *g711);
void faxcast_line_free(faxcast_line_t *line);
int faxcast_line_tx(void *line, uint8_t *out, int samples);
int faxcast_line_rx(void *line, const uint8_t *in, int samples);
void faxcast_quiet_libtiff(void);
int faxcast_tiff_check(const char *path, char *message, int message_len);

extern "Python" int faxcast_on_phase_d(t30_state_t *, void *, int);
extern "Python" void faxcast_on_phase_e(t30_state_t *, void *, int);
extern "Python" void faxcast_on_log(int, const char *);
"""

SOURCE = r"""
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>
#include <spandsp.h>

#define FAXCAST_IFP_MAX 1024

/* T.38 packets SpanDSP asks us to send, waiting for Python to take them all. Unpaced, one
   step can produce hundreds, so the queue grows; it is emptied (and rewound) every step. */
typedef struct {
    int head;
    int count;
    int dropped;
    int capacity;
    int *lengths;
    int *repeats;
    uint8_t *data;
} faxcast_ifp_queue_t;

/* The low byte of `count` is how many times the packet should be sent on an unreliable link
   (t38_set_redundancy_control); it is queued with the packet for the UDPTL sender. */
static int faxcast_ifp_queue_push(t38_core_state_t *s, void *user_data, const uint8_t *buf,
                                  int len, int count)
{
    faxcast_ifp_queue_t *q = (faxcast_ifp_queue_t *) user_data;

    (void) s;
    if (len > FAXCAST_IFP_MAX || len < 0) {
        q->dropped++;
        return -1;
    }
    if (q->count == q->capacity) {
        int capacity = q->capacity ? 2 * q->capacity : 64;
        int *lengths = realloc(q->lengths, capacity * sizeof(int));
        uint8_t *data;

        if (lengths == NULL) {
            q->dropped++;
            return -1;
        }
        q->lengths = lengths;
        lengths = realloc(q->repeats, capacity * sizeof(int));
        if (lengths == NULL) {
            q->dropped++;
            return -1;
        }
        q->repeats = lengths;
        data = realloc(q->data, (size_t) capacity * FAXCAST_IFP_MAX);
        if (data == NULL) {
            q->dropped++;
            return -1;
        }
        q->data = data;
        q->capacity = capacity;
    }
    memcpy(q->data + (size_t) q->count * FAXCAST_IFP_MAX, buf, len);
    q->lengths[q->count] = len;
    q->repeats[q->count] = count & 0xFF;
    q->count++;
    return 0;
}

/* Copies the oldest packet to `out`; its repeat count goes to `repeats` unless NULL. */
static int faxcast_ifp_queue_pop(faxcast_ifp_queue_t *q, uint8_t *out, int *repeats)
{
    int len;

    if (q->head == q->count)
        return -1;
    len = q->lengths[q->head];
    if (repeats != NULL)
        *repeats = q->repeats[q->head];
    memcpy(out, q->data + (size_t) q->head * FAXCAST_IFP_MAX, len);
    if (++q->head == q->count)
        q->head = q->count = 0;
    return len;
}

static void faxcast_ifp_queue_release(faxcast_ifp_queue_t *q)
{
    free(q->lengths);
    free(q->repeats);
    free(q->data);
    q->lengths = NULL;
    q->repeats = NULL;
    q->data = NULL;
    q->capacity = q->count = q->head = 0;
}

/* Lets time pass on a T.38 terminal; returns the packets queued, or -1 if any was lost. */
static int faxcast_t38_advance(t38_terminal_state_t *t, faxcast_ifp_queue_t *q, int samples)
{
    t38_terminal_send_timeout(t, samples);
    return q->dropped ? -1 : q->count - q->head;
}

static int faxcast_audio_tx(fax_state_t *fax, g711_state_t *g711, uint8_t *out, int16_t *pcm,
                            int samples)
{
    int n = fax_tx(fax, pcm, samples);

    if (n < samples)
        memset(pcm + n, 0, (samples - n) * sizeof(int16_t));
    return g711_encode(g711, out, pcm, samples);
}

static int faxcast_audio_rx(fax_state_t *fax, g711_state_t *g711, const uint8_t *in, int16_t *pcm,
                            int samples)
{
    int n = g711_decode(g711, pcm, in, samples);

    return fax_rx(fax, pcm, n);
}

/* A modem with its G.711 codec as one audio end, for a caller that holds only its address and
   these two functions' (the RTP channel of faxcast.sip._rtp): a NULL frame heard is a lost
   one, which the modem coasts over. `samples` counts the line time heard. */
typedef struct {
    int64_t samples;
    fax_state_t *fax;
    g711_state_t *g711;
    int16_t pcm[8000];
} faxcast_line_t;

static faxcast_line_t *faxcast_line_new(fax_state_t *fax, g711_state_t *g711)
{
    faxcast_line_t *line = calloc(1, sizeof(*line));

    if (line != NULL) {
        line->fax = fax;
        line->g711 = g711;
    }
    return line;
}

static void faxcast_line_free(faxcast_line_t *line)
{
    free(line);
}

static int faxcast_line_tx(void *user, uint8_t *out, int samples)
{
    faxcast_line_t *line = (faxcast_line_t *) user;

    if (samples > 8000)
        return -1;
    return faxcast_audio_tx(line->fax, line->g711, out, line->pcm, samples);
}

static int faxcast_line_rx(void *user, const uint8_t *in, int samples)
{
    faxcast_line_t *line = (faxcast_line_t *) user;

    if (samples > 8000)
        return -1;
    line->samples += samples;
    if (in == NULL)
        return fax_rx_fillin(line->fax, samples);
    return faxcast_audio_rx(line->fax, line->g711, in, line->pcm, samples);
}

typedef struct {
    char *message;
    int message_len;
    int errors;
} faxcast_tiff_errors_t;

static int faxcast_tiff_on_error(TIFF *tif, void *user_data, const char *module, const char *fmt,
                                 va_list ap)
{
    faxcast_tiff_errors_t *errors = (faxcast_tiff_errors_t *) user_data;

    (void) tif;
    (void) module;
    if (errors->errors++ == 0)
        vsnprintf(errors->message, errors->message_len, fmt, ap);
    return 1;
}

/* Decodes every strip of every page as SpanDSP will, with libtiff's errors collected for this
   file: a G4 "Bad code word" mid-page only shows there, and SpanDSP would fax it as garbage.
   Returns 0 when clean, else the 1-based page of the first error (message filled in). */
static int faxcast_tiff_check(const char *path, char *message, int message_len)
{
    faxcast_tiff_errors_t errors = {message, message_len, 0};
    TIFFOpenOptions *options = TIFFOpenOptionsAlloc();
    TIFF *tif;
    void *buffer = NULL;
    int page = 0;

    message[0] = '\0';
    if (options == NULL) {
        snprintf(message, message_len, "out of memory");
        return 1;
    }
    TIFFOpenOptionsSetErrorHandlerExtR(options, faxcast_tiff_on_error, &errors);
    tif = TIFFOpenExt(path, "r", options);
    TIFFOpenOptionsFree(options);
    if (tif == NULL) {
        if (message[0] == '\0')
            snprintf(message, message_len, "not a TIFF file");
        return 1;
    }
    do {
        tmsize_t size = TIFFStripSize(tif);
        uint32_t strips = TIFFNumberOfStrips(tif);
        uint32_t strip;
        void *bigger;

        page++;
        bigger = size > 0 ? realloc(buffer, (size_t) size) : NULL;
        if (bigger == NULL) {
            if (errors.errors++ == 0)
                snprintf(message, message_len, "page has no image data");
            break;
        }
        buffer = bigger;
        for (strip = 0; strip < strips && errors.errors == 0; strip++) {
            if (TIFFReadEncodedStrip(tif, strip, buffer, size) < 0 && errors.errors++ == 0)
                snprintf(message, message_len, "strip %u cannot be read", (unsigned) strip);
        }
    } while (errors.errors == 0 && TIFFReadDirectory(tif));
    free(buffer);
    TIFFClose(tif);
    return errors.errors ? page : 0;
}

/* libtiff prints warnings about private tags on stderr; faxcast validates files itself. */
static void faxcast_quiet_libtiff(void)
{
    TIFFSetWarningHandler(NULL);
}
"""

# The T.30 completion codes (T30_ERR_*), read from the header so a test can check that
# faxcast.fax.result numbers them as this libspandsp does.
T30_ERR_NAMES = (
    "OK",
    "CEDTONE",
    "T0_EXPIRED",
    "T1_EXPIRED",
    "T3_EXPIRED",
    "HDLC_CARRIER",
    "CANNOT_TRAIN",
    "OPER_INT_FAIL",
    "INCOMPATIBLE",
    "RX_INCAPABLE",
    "TX_INCAPABLE",
    "NORESSUPPORT",
    "NOSIZESUPPORT",
    "UNEXPECTED",
    "TX_BADDCS",
    "TX_BADPG",
    "TX_ECMPHD",
    "TX_GOTDCN",
    "TX_INVALRSP",
    "TX_NODIS",
    "TX_PHBDEAD",
    "TX_PHDDEAD",
    "TX_T5EXP",
    "RX_ECMPHD",
    "RX_GOTDCS",
    "RX_INVALCMD",
    "RX_NOCARRIER",
    "RX_NOEOL",
    "RX_NOFAX",
    "RX_T2EXPDCN",
    "RX_T2EXPD",
    "RX_T2EXPFAX",
    "RX_T2EXPMPS",
    "RX_T2EXPRR",
    "RX_T2EXP",
    "RX_DCNWHY",
    "RX_DCNDATA",
    "RX_DCNFAX",
    "RX_DCNPHD",
    "RX_DCNRRD",
    "RX_DCNNORTN",
    "FILEERROR",
    "NOPAGE",
    "BADTIFF",
    "BADPAGE",
    "BADTAG",
    "BADTIFFHDR",
    "NOMEM",
    "RETRYDCN",
    "CALLDROPPED",
    "NOPOLL",
    "IDENT_UNACCEPTABLE",
    "SUB_UNACCEPTABLE",
    "SEP_UNACCEPTABLE",
    "PSA_UNACCEPTABLE",
    "SID_UNACCEPTABLE",
    "PWD_UNACCEPTABLE",
    "TSA_UNACCEPTABLE",
    "IRA_UNACCEPTABLE",
    "CIA_UNACCEPTABLE",
    "ISP_UNACCEPTABLE",
    "CSA_UNACCEPTABLE",
)

ffibuilder = FFI()
ffibuilder.cdef(CDEF + "".join(f"static const int T30_ERR_{name};\n" for name in T30_ERR_NAMES))
ffibuilder.set_source(
    "faxcast.fax._spandsp",
    SOURCE,
    libraries=["spandsp", "tiff"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
