"""cffi builder for faxcast.sip._rtp: the RTP jitter buffer and a G.711 channel's tick, in C.

Only `faxcast.sip.rtp` imports the generated module. A channel's 20 ms tick (play the jitter
buffer into the line, take the line's next frame, fill the RTP header) is one C call: in Python
it was a dozen calls per frame, most of a real-time channel's cost. The line is any audio end
given as C function pointers (the fax engine's modem), so this module knows nothing of fax.
"""

from cffi import FFI

CDEF = """
typedef int (*faxcast_line_tx_fn)(void *line, uint8_t *out, int samples);
typedef int (*faxcast_line_rx_fn)(void *line, const uint8_t *in, int samples);

typedef struct {
    int64_t packets;
    int64_t malformed;
    int64_t other_payload;
    int64_t late;
    int64_t duplicate;
    int64_t resyncs;
    int64_t played;
    int64_t missing;
    int64_t dropped_ahead;
    ...;
} faxcast_jb_t;

typedef struct {
    int64_t filled_in;
    ...;
} faxcast_rtp_channel_t;

#define FAXCAST_FRAME_SAMPLES ...
#define FAXCAST_RTP_HEADER ...

faxcast_jb_t *faxcast_jb_new(int payload_type, int silence, int depth, int size);
void faxcast_jb_free(faxcast_jb_t *jb);
void faxcast_jb_datagram(faxcast_jb_t *jb, const uint8_t *data, int len);
int faxcast_jb_play(faxcast_jb_t *jb, uint8_t *out);

faxcast_rtp_channel_t *faxcast_rtp_channel_new(faxcast_jb_t *jb, void *line,
    faxcast_line_tx_fn tx, faxcast_line_rx_fn rx, uint8_t *packet, int payload_type,
    uint32_t ssrc, uint16_t sequence, uint32_t timestamp);
void faxcast_rtp_channel_free(faxcast_rtp_channel_t *channel);
int faxcast_rtp_channel_step(faxcast_rtp_channel_t *channel, uint32_t index);
"""

SOURCE = r"""
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FAXCAST_FRAME_SAMPLES 160
#define FAXCAST_RTP_HEADER 12
#define FAXCAST_RTP_MAX_PACKET 1500

/* The fixed-delay jitter buffer of faxcast.sip.rtp.RtpReceiver (whose docstring says what it
   does); positions are RTP timestamps unwrapped to 64 bits. */
typedef struct {
    int64_t packets;
    int64_t malformed;
    int64_t other_payload;
    int64_t late;
    int64_t duplicate;
    int64_t resyncs;
    int64_t played;
    int64_t missing;
    int64_t dropped_ahead;
    int payload_type;
    int silence;
    int64_t depth;
    int64_t size;
    int64_t read;
    int64_t head;
    int has_ssrc;
    uint32_t ssrc;
    uint8_t *ring;
    uint8_t *filled;
} faxcast_jb_t;

typedef int (*faxcast_line_tx_fn)(void *line, uint8_t *out, int samples);
typedef int (*faxcast_line_rx_fn)(void *line, const uint8_t *in, int samples);

typedef struct {
    int64_t filled_in;
    faxcast_jb_t *jb;
    void *line;
    faxcast_line_tx_fn tx;
    faxcast_line_rx_fn rx;
    uint8_t *packet;
    uint32_t ssrc;
    uint32_t timestamp0;
    uint16_t sequence;
    uint8_t second;
    uint8_t frame[FAXCAST_FRAME_SAMPLES];
} faxcast_rtp_channel_t;

static int64_t faxcast_mod(int64_t a, int64_t n)
{
    int64_t r = a % n;

    return r < 0 ? r + n : r;
}

static faxcast_jb_t *faxcast_jb_new(int payload_type, int silence, int depth, int size)
{
    faxcast_jb_t *jb;

    if (size < FAXCAST_FRAME_SAMPLES || depth < 0)
        return NULL;
    jb = calloc(1, sizeof(*jb));
    if (jb == NULL)
        return NULL;
    jb->ring = calloc((size_t) size, 1);
    jb->filled = calloc((size_t) size, 1);
    if (jb->ring == NULL || jb->filled == NULL) {
        free(jb->ring);
        free(jb->filled);
        free(jb);
        return NULL;
    }
    jb->payload_type = payload_type;
    jb->silence = silence;
    jb->depth = depth;
    jb->size = size;
    return jb;
}

static void faxcast_jb_free(faxcast_jb_t *jb)
{
    if (jb != NULL) {
        free(jb->ring);
        free(jb->filled);
        free(jb);
    }
}

static void faxcast_jb_restart(faxcast_jb_t *jb, uint32_t ssrc, uint32_t timestamp)
{
    if (jb->has_ssrc)
        jb->resyncs++;
    jb->has_ssrc = 1;
    jb->ssrc = ssrc;
    memset(jb->filled, 0, (size_t) jb->size);
    /* The first packet plays `depth` from now: time for later ones to overtake it. */
    jb->read = (int64_t) timestamp - jb->depth;
    jb->head = jb->read;
}

static int faxcast_jb_all_filled(const faxcast_jb_t *jb, int64_t position, int len)
{
    int64_t start = faxcast_mod(position, jb->size);
    int64_t first = jb->size - start < len ? jb->size - start : len;

    if (memchr(jb->filled + start, 0, (size_t) first) != NULL)
        return 0;
    return first == len || memchr(jb->filled, 0, (size_t) (len - first)) == NULL;
}

static void faxcast_jb_store(faxcast_jb_t *jb, int64_t position, const uint8_t *payload, int len)
{
    int64_t start = faxcast_mod(position, jb->size);
    int64_t first = jb->size - start < len ? jb->size - start : len;

    if (faxcast_jb_all_filled(jb, position, len)) {
        jb->duplicate++;
        return;
    }
    memcpy(jb->ring + start, payload, (size_t) first);
    memset(jb->filled + start, 1, (size_t) first);
    if (first < len) {
        memcpy(jb->ring, payload + first, (size_t) (len - first));
        memset(jb->filled, 1, (size_t) (len - first));
    }
    if (position + len > jb->head)
        jb->head = position + len;
}

/* One datagram from the network: parsed (CSRCs, extension and padding read past) and stored;
   what cannot be used is counted. */
static void faxcast_jb_datagram(faxcast_jb_t *jb, const uint8_t *data, int size)
{
    int header, end, len;
    uint32_t timestamp, ssrc;
    int32_t offset;
    const uint8_t *payload;

    if (size < FAXCAST_RTP_HEADER || size > FAXCAST_RTP_MAX_PACKET || data[0] >> 6 != 2) {
        jb->malformed++;
        return;
    }
    header = FAXCAST_RTP_HEADER + 4 * (data[0] & 0x0F);
    if (data[0] & 0x10) {
        if (size < header + 4) {
            jb->malformed++;
            return;
        }
        header += 4 + 4 * ((data[header + 2] << 8) | data[header + 3]);
    }
    if (size < header) {
        jb->malformed++;
        return;
    }
    end = size;
    if (data[0] & 0x20) {
        int padding = data[size - 1];

        if (padding == 0 || header + padding > size) {
            jb->malformed++;
            return;
        }
        end -= padding;
    }
    if ((data[1] & 0x7F) != jb->payload_type) {
        jb->other_payload++;
        return;
    }
    jb->packets++;
    len = end - header;
    if (len <= 0)
        return;
    payload = data + header;
    timestamp = ((uint32_t) data[4] << 24) | ((uint32_t) data[5] << 16) | ((uint32_t) data[6] << 8)
        | data[7];
    ssrc = ((uint32_t) data[8] << 24) | ((uint32_t) data[9] << 16) | ((uint32_t) data[10] << 8)
        | data[11];
    if (!jb->has_ssrc || ssrc != jb->ssrc)
        faxcast_jb_restart(jb, ssrc, timestamp);
    offset = (int32_t) (timestamp - (uint32_t) jb->read);
    if ((int64_t) offset < -jb->size || (int64_t) offset + len > jb->size) {
        faxcast_jb_restart(jb, ssrc, timestamp);  /* a jump: the far end restarted */
        offset = (int32_t) jb->depth;
    }
    if ((int64_t) offset + len <= 0) {
        jb->late++;
        return;
    }
    if (offset < 0) {
        payload -= offset;
        len += offset;
        offset = 0;
    }
    faxcast_jb_store(jb, jb->read + offset, payload, len);
}

/* The next 20 ms frame into `out`: 1 if any of it came (gaps filled with the law's
   silence), 0 if none did. */
static int faxcast_jb_play(faxcast_jb_t *jb, uint8_t *out)
{
    int64_t read = jb->read, start;
    int i, gaps = 0;

    jb->played++;
    if (!jb->has_ssrc)
        return 0;
    if (jb->head - read > 2 * jb->depth + FAXCAST_FRAME_SAMPLES) {
        /* More is waiting than the delay allows: the far clock runs fast. Drop a frame so the
           delay stays fixed. */
        read += FAXCAST_FRAME_SAMPLES;
        jb->dropped_ahead++;
    }
    start = faxcast_mod(read, jb->size);
    if (start + FAXCAST_FRAME_SAMPLES <= jb->size
        && memchr(jb->filled + start, 0, FAXCAST_FRAME_SAMPLES) == NULL) {
        /* The usual frame: all of it came, in one piece of the ring. */
        memcpy(out, jb->ring + start, FAXCAST_FRAME_SAMPLES);
        memset(jb->filled + start, 0, FAXCAST_FRAME_SAMPLES);
        jb->read = read + FAXCAST_FRAME_SAMPLES;
        if (jb->head < jb->read)
            jb->head = jb->read;
        return 1;
    }
    for (i = 0; i < FAXCAST_FRAME_SAMPLES; i++) {
        if (jb->filled[start]) {
            out[i] = jb->ring[start];
            jb->filled[start] = 0;
        } else {
            out[i] = (uint8_t) jb->silence;
            gaps++;
        }
        if (++start == jb->size)
            start = 0;
    }
    jb->read = read + FAXCAST_FRAME_SAMPLES;
    if (jb->head < jb->read)
        jb->head = jb->read;
    if (gaps == FAXCAST_FRAME_SAMPLES) {
        jb->missing++;
        return 0;
    }
    return 1;
}

/* A G.711 RTP stream between the network and a line: `packet` (the caller's buffer, header
   and FAXCAST_FRAME_SAMPLES of payload) is where each frame to send is written. */
static faxcast_rtp_channel_t *faxcast_rtp_channel_new(faxcast_jb_t *jb, void *line,
    faxcast_line_tx_fn tx, faxcast_line_rx_fn rx, uint8_t *packet, int payload_type,
    uint32_t ssrc, uint16_t sequence, uint32_t timestamp)
{
    faxcast_rtp_channel_t *channel = calloc(1, sizeof(*channel));

    if (channel == NULL)
        return NULL;
    channel->jb = jb;
    channel->line = line;
    channel->tx = tx;
    channel->rx = rx;
    channel->packet = packet;
    channel->ssrc = ssrc;
    channel->sequence = sequence;
    channel->timestamp0 = timestamp;
    channel->second = (uint8_t) (payload_type | 0x80);  /* the marker: a talkspurt begins */
    return channel;
}

static void faxcast_rtp_channel_free(faxcast_rtp_channel_t *channel)
{
    free(channel);
}

/* Frame `index`: the line's next frame into the packet (returns its length, to send), then
   the jitter buffer's next frame into the line (or, when none of it came, nothing: the line
   coasts over the gap). */
static int faxcast_rtp_channel_step(faxcast_rtp_channel_t *c, uint32_t index)
{
    uint8_t *p = c->packet;
    uint32_t timestamp = c->timestamp0 + index * FAXCAST_FRAME_SAMPLES;

    p[0] = 0x80;
    p[1] = c->second;
    p[2] = (uint8_t) (c->sequence >> 8);
    p[3] = (uint8_t) c->sequence;
    p[4] = (uint8_t) (timestamp >> 24);
    p[5] = (uint8_t) (timestamp >> 16);
    p[6] = (uint8_t) (timestamp >> 8);
    p[7] = (uint8_t) timestamp;
    p[8] = (uint8_t) (c->ssrc >> 24);
    p[9] = (uint8_t) (c->ssrc >> 16);
    p[10] = (uint8_t) (c->ssrc >> 8);
    p[11] = (uint8_t) c->ssrc;
    c->tx(c->line, p + FAXCAST_RTP_HEADER, FAXCAST_FRAME_SAMPLES);
    c->sequence++;
    c->second &= 0x7F;
    if (faxcast_jb_play(c->jb, c->frame)) {
        c->rx(c->line, c->frame, FAXCAST_FRAME_SAMPLES);
    } else {
        c->filled_in++;
        c->rx(c->line, NULL, FAXCAST_FRAME_SAMPLES);
    }
    return FAXCAST_RTP_HEADER + FAXCAST_FRAME_SAMPLES;
}
"""

ffibuilder = FFI()
ffibuilder.cdef(CDEF)
ffibuilder.set_source("faxcast.sip._rtp", SOURCE)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
