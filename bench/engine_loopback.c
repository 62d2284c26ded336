/* The C reference for bench/engine.py: the same two-ended loopback as faxcast.fax.loopback,
   written straight against libspandsp 0.0.6, so the Python engine's overhead can be measured.

   Build (bench/engine.py does this in a temp dir on every run):
       gcc -O2 -o engine_loopback bench/engine_loopback.c -lspandsp -ltiff -lm
   Run:
       engine_loopback MODE SEND.tif RECEIVED.tif [MAX_LINE_S]
   MODE is audio-ecm, audio-noecm, t38-paced or t38-unpaced.

   Everything mirrors faxcast.fax.engine / loopback: the T.30 configuration of `_configure`
   (quality "high": V.17|V.29|V.27ter, T.4 1-D|2-D|T.6, all resolutions and sizes, ident
   "+33 1 00 00 00 00" on both ends, no page header, logging at WARNING), transmit on idle,
   G.711 A-law encode and decode in both directions in 160-sample frames, the same glue
   functions, the same order of calls per step, the same end condition (both ends reached
   phase E) and the same line-time counting. T.38 packets go through the same queue as the cffi
   glue and are delivered with t38_core_rx_ifp_packet and a 16-bit sequence number.

   It prints key=value lines: the CPU seconds (CLOCK_PROCESS_CPUTIME_ID) of the loopback alone,
   from creating the two ends to freeing them, the line seconds, and each end's completion code
   and pages. Exit status 0 when both ends finished the call, whatever their verdict (the bench
   judges it); 3 with an error= line where the Python engine raises FaxError (a T.38 packet
   queue overflowed); 2 on a usage or set-up error. */

#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tiffio.h>
#include <spandsp.h>

#define SAMPLE_RATE 8000
#define FRAME_SAMPLES 160
#define DEFAULT_MAX_LINE_S 600.0
#define IDENT "+33 1 00 00 00 00"

/* ---- the glue of src/faxcast/fax/_spandsp_build.py: bench/engine.py writes its SOURCE
   to faxcast_glue.c beside this file before compiling, so both sides run the same code ---- */
#include "faxcast_glue.c"

/* ---- one end of the call: what FaxSession keeps ---- */

typedef struct {
    const char *name;
    int sending;
    t30_state_t *t30;
    /* audio */
    fax_state_t *fax;
    g711_state_t *g711;
    uint8_t out[FRAME_SAMPLES];
    int16_t pcm[FRAME_SAMPLES];
    /* T.38 */
    t38_terminal_state_t *terminal;
    t38_core_state_t *core;
    faxcast_ifp_queue_t queue;
    uint8_t packet[FAXCAST_IFP_MAX];
    long packets_sent;
    /* progress and outcome */
    double cpu_s;  /* this end's own SpanDSP work (thread CPU), for bench/sip.py */
    int64_t samples;
    int confirmed;
    int done;
    int code;
    char code_text[128];
    int pages_tx;
    int pages_rx;
    int bit_rate;
    int ecm;
    char remote[32];
    double line_s;
} end_t;

static int on_phase_d(t30_state_t *t30, void *user_data, int fcf)
{
    end_t *end = (end_t *) user_data;

    (void) t30;
    if (end->sending && (fcf == T30_MCF || fcf == T30_RTP || fcf == T30_PIP))
        end->confirmed++;
    return 0;
}

static void on_phase_e(t30_state_t *t30, void *user_data, int code)
{
    end_t *end = (end_t *) user_data;
    t30_stats_t stats;
    const char *remote;

    if (end->done)
        return;
    t30_get_transfer_statistics(t30, &stats);
    remote = t30_get_rx_ident(t30);
    snprintf(end->remote, sizeof(end->remote), "%s", remote ? remote : "");
    snprintf(end->code_text, sizeof(end->code_text), "%s", t30_completion_code_to_str(code));
    end->code = code;
    end->pages_tx = stats.pages_tx;
    end->pages_rx = stats.pages_rx;
    end->bit_rate = stats.bit_rate;
    end->ecm = stats.error_correcting_mode;
    end->line_s = (double) end->samples / SAMPLE_RATE;
    end->done = 1;
}

static long log_messages;

static void on_log(int level, const char *text)
{
    (void) level;
    (void) text;
    log_messages++;
}

static void configure(end_t *end, int ecm, const char *file, logging_state_t *a,
                      logging_state_t *b)
{
    t30_state_t *t30 = end->t30;
    int level = SPAN_LOG_WARNING | SPAN_LOG_SHOW_PROTOCOL | SPAN_LOG_SHOW_TAG;

    t30_set_tx_ident(t30, IDENT);
    t30_set_ecm_capability(t30, ecm);
    t30_set_supported_modems(t30, T30_SUPPORT_V17 | T30_SUPPORT_V29 | T30_SUPPORT_V27TER);
    t30_set_supported_compressions(t30, T30_SUPPORT_T4_1D_COMPRESSION
                                        | T30_SUPPORT_T4_2D_COMPRESSION
                                        | T30_SUPPORT_T6_COMPRESSION);
    t30_set_supported_resolutions(t30, T30_SUPPORT_STANDARD_RESOLUTION
                                       | T30_SUPPORT_FINE_RESOLUTION
                                       | T30_SUPPORT_SUPERFINE_RESOLUTION
                                       | T30_SUPPORT_R8_RESOLUTION);
    t30_set_supported_image_sizes(t30, T30_SUPPORT_215MM_WIDTH
                                       | T30_SUPPORT_UNLIMITED_LENGTH
                                       | T30_SUPPORT_A4_LENGTH
                                       | T30_SUPPORT_B4_LENGTH
                                       | T30_SUPPORT_US_LETTER_LENGTH
                                       | T30_SUPPORT_US_LEGAL_LENGTH);
    if (end->sending)
        t30_set_tx_file(t30, file, 0, -1);
    else
        t30_set_rx_file(t30, file, -1);
    t30_set_phase_d_handler(t30, on_phase_d, end);
    t30_set_phase_e_handler(t30, on_phase_e, end);
    logging_state_t *states[3] = {a, b, t30_get_logging_state(t30)};
    for (int i = 0; i < 3; i++) {
        if (states[i] == NULL)
            continue;
        span_log_set_level(states[i], level);
        span_log_set_tag(states[i], end->sending ? "tx" : "rx");
    }
}

static int audio_init(end_t *end, int ecm, const char *file)
{
    end->fax = fax_init(NULL, end->sending);
    end->g711 = g711_init(NULL, G711_ALAW);
    if (end->fax == NULL || end->g711 == NULL)
        return -1;
    fax_set_transmit_on_idle(end->fax, 1);
    end->t30 = fax_get_t30_state(end->fax);
    configure(end, ecm, file, fax_get_logging_state(end->fax), NULL);
    return 0;
}

static int t38_init(end_t *end, int paced, const char *file)
{
    end->terminal = t38_terminal_init(NULL, end->sending, faxcast_ifp_queue_push, &end->queue);
    if (end->terminal == NULL)
        return -1;
    end->core = t38_terminal_get_t38_core_state(end->terminal);
    if (!paced)
        t38_terminal_set_config(end->terminal, T38_TERMINAL_OPTION_NO_PACING);
    end->t30 = t38_terminal_get_t30_state(end->terminal);
    configure(end, 1, file, t38_terminal_get_logging_state(end->terminal),
              t38_core_get_logging_state(end->core));
    return 0;
}

static void hang_up(end_t *end)
{
    if (!end->done)
        t30_terminate(end->t30);
    if (!end->done)
        on_phase_e(end->t30, end, T30_ERR_CALLDROPPED);
}

static double thread_cpu_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* run_audio: sender.transmit, receiver.transmit, receiver.receive, sender.receive. */
static long run_audio(end_t *tx, end_t *rx, long frames)
{
    long step;

    for (step = 0; step < frames; step++) {
        if (tx->done && rx->done)
            return step;
        double t0 = thread_cpu_seconds();
        int n_to_rx = faxcast_audio_tx(tx->fax, tx->g711, tx->out, tx->pcm, FRAME_SAMPLES);
        double t1 = thread_cpu_seconds();
        int n_to_tx = faxcast_audio_tx(rx->fax, rx->g711, rx->out, rx->pcm, FRAME_SAMPLES);
        faxcast_audio_rx(rx->fax, rx->g711, tx->out, rx->pcm, n_to_rx);
        rx->samples += n_to_rx;
        double t2 = thread_cpu_seconds();
        faxcast_audio_rx(tx->fax, tx->g711, rx->out, tx->pcm, n_to_tx);
        tx->samples += n_to_tx;
        tx->cpu_s += (t1 - t0) + (thread_cpu_seconds() - t2);
    }
    hang_up(tx);
    hang_up(rx);
    return step;
}

/* T38FaxSession.advance + delivery to the far end: returns -1 if the queue overflowed. */
static int t38_step(end_t *from, end_t *to, int *seq)
{
    double t0 = thread_cpu_seconds();
    int queued = faxcast_t38_advance(from->terminal, &from->queue, FRAME_SAMPLES);

    from->cpu_s += thread_cpu_seconds() - t0;
    from->samples += FRAME_SAMPLES;
    if (queued < 0)
        return -1;
    while (queued-- > 0) {
        int n = faxcast_ifp_queue_pop(&from->queue, from->packet, NULL);
        t0 = thread_cpu_seconds();
        t38_core_rx_ifp_packet(to->core, from->packet, n, (uint16_t) (*seq & 0xFFFF));
        to->cpu_s += thread_cpu_seconds() - t0;
        (*seq)++;
        from->packets_sent++;
    }
    return 0;
}

static long run_t38(end_t *tx, end_t *rx, long steps)
{
    int seq_to_rx = 0;
    int seq_to_tx = 0;
    long step;

    for (step = 0; step < steps; step++) {
        if (tx->done && rx->done)
            return step;
        if (t38_step(tx, rx, &seq_to_rx) < 0 || t38_step(rx, tx, &seq_to_tx) < 0)
            return -1;  /* T38FaxSession.advance raises FaxError here */
    }
    hang_up(tx);
    hang_up(rx);
    return step;
}

static double cpu_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void report(const end_t *end)
{
    printf("%s_code=%d\n%s_code_text=%s\n%s_pages_tx=%d\n%s_pages_rx=%d\n%s_confirmed=%d\n"
           "%s_bit_rate=%d\n%s_ecm=%d\n%s_remote=%s\n%s_line_s=%.3f\n%s_packets=%ld\n"
           "%s_cpu_s=%.6f\n",
           end->name, end->code, end->name, end->code_text, end->name, end->pages_tx,
           end->name, end->pages_rx, end->name, end->confirmed, end->name, end->bit_rate,
           end->name, end->ecm, end->name, end->remote, end->name, end->line_s, end->name,
           end->packets_sent, end->name, end->cpu_s);
}

int main(int argc, char *argv[])
{
    static end_t tx;
    static end_t rx;
    const char *mode;
    double max_line_s = DEFAULT_MAX_LINE_S;
    int audio;
    int ecm = 1;
    int paced = 1;

    if (argc < 4 || argc > 5) {
        fprintf(stderr, "usage: %s audio-ecm|audio-noecm|t38-paced|t38-unpaced SEND.tif "
                        "RECEIVED.tif [MAX_LINE_S]\n", argv[0]);
        return 2;
    }
    mode = argv[1];
    if (strcmp(mode, "audio-ecm") == 0) {
        audio = 1;
    } else if (strcmp(mode, "audio-noecm") == 0) {
        audio = 1;
        ecm = 0;
    } else if (strcmp(mode, "t38-paced") == 0) {
        audio = 0;
    } else if (strcmp(mode, "t38-unpaced") == 0) {
        audio = 0;
        paced = 0;
    } else {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 2;
    }
    if (argc == 5)
        max_line_s = atof(argv[4]);
    if (!(max_line_s > 0.0 && max_line_s <= DEFAULT_MAX_LINE_S))
        max_line_s = DEFAULT_MAX_LINE_S;
    long steps = (long) (max_line_s * SAMPLE_RATE / FRAME_SAMPLES);

    span_set_message_handler(on_log);
    TIFFSetWarningHandler(NULL);
    tx.name = "tx";
    tx.sending = 1;
    rx.name = "rx";

    double start = cpu_seconds();
    long done_steps;
    if (audio) {
        if (audio_init(&tx, ecm, argv[2]) < 0 || audio_init(&rx, ecm, argv[3]) < 0) {
            fprintf(stderr, "SpanDSP could not create an audio fax session\n");
            return 2;
        }
        done_steps = run_audio(&tx, &rx, steps);
        fax_free(tx.fax);
        g711_free(tx.g711);
        fax_free(rx.fax);
        g711_free(rx.g711);
    } else {
        if (t38_init(&tx, paced, argv[2]) < 0 || t38_init(&rx, paced, argv[3]) < 0) {
            fprintf(stderr, "SpanDSP could not create a T.38 fax session\n");
            return 2;
        }
        done_steps = run_t38(&tx, &rx, steps);
        t38_terminal_free(tx.terminal);
        t38_terminal_free(rx.terminal);
        faxcast_ifp_queue_release(&tx.queue);
        faxcast_ifp_queue_release(&rx.queue);
        if (done_steps < 0) {
            printf("mode=%s\nerror=SpanDSP produced a T.38 packet faxcast could not queue "
                   "(%d dropped)\n", mode, tx.queue.dropped + rx.queue.dropped);
            return 3;
        }
    }
    double cpu = cpu_seconds() - start;

    printf("mode=%s\ncpu_s=%.6f\nline_s=%.3f\nsteps=%ld\nlog_messages=%ld\n", mode, cpu,
           tx.line_s, done_steps, log_messages);
    report(&tx);
    report(&rx);
    return 0;
}
