/*
 * tests/fuzz/fuzz_tcp.c: the TCP transport's wire parser (src/transport/
 * wire.c): an inbound connection's byte stream (a hello, then frames),
 * the answer to our hello, and "host:port" addresses.
 *
 * The input: a mode byte, the receiver's rules (cluster, id, largest
 * frame), then the bytes of the stream, delivered to the parser in
 * pieces whose sizes the input also chooses, the way recv() hands them
 * to the event loop (the loop keeps what was not consumed and calls
 * again with more).
 *
 * Properties, beyond no crash and no sanitizer report (every buffer is
 * allocated to its exact length, so a read past len is caught):
 *  - the items are the same whatever the pieces: the parser decides only
 *    on bytes it has, and asks for more (TW_MORE) without consuming;
 *  - an item consumes at most the bytes it was given; a frame's payload
 *    lies within them, is not empty and is at most the largest frame;
 *  - an accepted hello names our cluster and us and re-encodes to exactly
 *    the bytes it consumed;
 *  - after a TW_CLOSE or a refused hello nothing more is read;
 *  - an answer's status is one the protocol defines;
 *  - a split address is NUL-terminated, fits its buffer, and the host and
 *    port put back together give the address again.
 */
#include "fuzz.h"

#include "transport/wire.h"

#define MAX_ITEMS 4096

struct item {
    int kind, reason;
    size_t off_abs, len; /* a frame's payload: offset in the stream */
    uint64_t peer;
};

/* Runs the stream through the parser the way the event loop does, with
 * piece sizes taken from sizes (0: everything at once). Returns how many
 * items it produced (kept in out). */
static size_t run_stream(const struct tw_rules *r, const uint8_t *s,
                         size_t n, const uint8_t *sizes, size_t nsizes,
                         struct item *out)
{
    size_t have = 0;  /* bytes received so far */
    size_t start = 0; /* first byte not yet consumed */
    size_t k = 0, nitems = 0;
    int handshaken = 0;
    for (;;) {
        /* Receive the next piece. */
        if (have < n) {
            size_t piece = nsizes > 0 ? (size_t)sizes[k++ % nsizes] + 1
                                      : n - have;
            have += piece < n - have ? piece : n - have;
        }
        /* Consume all complete items. */
        for (;;) {
            size_t len = have - start;
            uint8_t *buf = malloc(len ? len : 1);
            FUZZ_CHECK(buf != NULL, "out of memory");
            if (len > 0) {
                memcpy(buf, s + start, len);
            }
            struct tw_item it;
            tw_next_inbound(r, handshaken, buf, len, &it);
            free(buf);
            FUZZ_CHECK(it.used <= len, "consumed %zu of %zu bytes", it.used,
                       len);
            if (it.kind == TW_MORE) {
                FUZZ_CHECK(it.used == 0, "TW_MORE consumed bytes");
                break;
            }
            FUZZ_CHECK(nitems < MAX_ITEMS, "too many items");
            struct item *o = &out[nitems++];
            o->kind = it.kind;
            o->reason = it.reason;
            o->off_abs = 0;
            o->len = 0;
            o->peer = 0;
            if (it.kind == TW_CLOSE) {
                return nitems;
            }
            if (it.kind == TW_HELLO) {
                FUZZ_CHECK(!handshaken, "a second hello");
                FUZZ_CHECK(it.used > 0, "a hello of no bytes");
                if (it.reason != TW_OK) {
                    FUZZ_CHECK(it.reason == TW_R_VERSION ||
                                   it.reason == TW_R_CLUSTER ||
                                   it.reason == TW_R_RECEIVER ||
                                   it.reason == TW_R_MALFORMED,
                               "hello refused for reason %d", it.reason);
                    return nitems; /* refused: the loop closes */
                }
                const struct tw_hello *h = &it.hello;
                FUZZ_CHECK(h->cluster == r->cluster &&
                               h->receiver == r->self &&
                               h->addr_len <= CRAFT_MAX_ADDR_BYTES,
                           "accepted a hello for cluster %llu, server %llu",
                           (unsigned long long)h->cluster,
                           (unsigned long long)h->receiver);
                uint8_t enc[TW_HELLO_MAX];
                size_t elen = tw_hello_encode(h, enc);
                FUZZ_CHECK(elen == it.used &&
                               memcmp(enc, s + start, elen) == 0,
                           "an accepted hello does not re-encode to its "
                           "bytes (%zu, %zu consumed)",
                           elen, it.used);
                handshaken = 1;
            } else {
                FUZZ_CHECK(it.kind == TW_FRAME && handshaken,
                           "item kind %d (handshaken %d)", it.kind,
                           handshaken);
                FUZZ_CHECK(it.len > 0 && it.len <= r->max_frame &&
                               it.off >= TW_FRAME_HEADER &&
                               it.off + it.len == it.used,
                           "frame at %zu+%zu of %zu consumed (max %u)",
                           it.off, it.len, it.used, r->max_frame);
                o->off_abs = start + it.off;
                o->len = it.len;
            }
            start += it.used;
        }
        if (have == n) {
            return nitems;
        }
    }
}

static void check_stream(struct fuzz_in *in)
{
    struct tw_rules r;
    r.cluster = fuzz_u8(in) & 3u; /* small: inputs can match it */
    r.self = fuzz_u8(in) & 3u;
    r.max_frame = 1u + fuzz_u16(in);
    size_t nsizes;
    const uint8_t *sizes = fuzz_bytes(in, fuzz_u8(in) & 15u, &nsizes);
    size_t n = in->n;
    const uint8_t *s = fuzz_bytes(in, n, &n);

    static struct item whole[MAX_ITEMS], pieces[MAX_ITEMS];
    size_t a = run_stream(&r, s, n, NULL, 0, whole);
    size_t b = run_stream(&r, s, n, sizes, nsizes, pieces);
    FUZZ_CHECK(a == b, "%zu items at once, %zu in pieces", a, b);
    for (size_t k = 0; k < a; k++) {
        FUZZ_CHECK(whole[k].kind == pieces[k].kind &&
                       whole[k].reason == pieces[k].reason &&
                       whole[k].off_abs == pieces[k].off_abs &&
                       whole[k].len == pieces[k].len,
                   "item %zu differs when the bytes come in pieces", k);
    }
}

static void check_ack(struct fuzz_in *in)
{
    size_t n = in->n;
    const uint8_t *s = fuzz_bytes(in, n, &n);
    /* Every prefix: TW_MORE until the answer is whole, then the same. */
    struct tw_item full;
    uint8_t *buf = malloc(n ? n : 1);
    FUZZ_CHECK(buf != NULL, "out of memory");
    if (n > 0) {
        memcpy(buf, s, n);
    }
    tw_parse_ack(buf, n, &full);
    free(buf);
    FUZZ_CHECK(full.used <= n, "consumed %zu of %zu", full.used, n);
    if (full.kind == TW_ACK) {
        FUZZ_CHECK(full.used == TW_ACK_BYTES, "an answer of %zu bytes",
                   full.used);
        FUZZ_CHECK(full.reason >= TW_OK && full.reason <= TW_R_NOT_MEMBER &&
                       full.reason != TW_R_MAGIC,
                   "an answer with status %d", full.reason);
    } else {
        FUZZ_CHECK(full.kind == TW_MORE || (full.kind == TW_CLOSE &&
                                            full.reason == TW_R_MAGIC),
                   "answer parsed as kind %d", full.kind);
    }
    for (size_t len = 0; len < n && len < TW_ACK_BYTES; len++) {
        struct tw_item it;
        uint8_t *p = malloc(len ? len : 1);
        FUZZ_CHECK(p != NULL, "out of memory");
        if (len > 0) {
            memcpy(p, s, len);
        }
        tw_parse_ack(p, len, &it);
        free(p);
        FUZZ_CHECK(it.kind != TW_ACK, "an answer from %zu bytes", len);
        FUZZ_CHECK(it.kind == TW_MORE || full.kind == TW_CLOSE,
                   "a prefix closes what the whole answer does not");
    }
}

static void check_addr(struct fuzz_in *in)
{
    size_t cap = 1u + (fuzz_u8(in) & 63u);
    size_t n = in->n;
    const uint8_t *s = fuzz_bytes(in, n, &n);
    char *addr = malloc(n ? n : 1);
    char *host = malloc(cap);
    FUZZ_CHECK(addr != NULL && host != NULL, "out of memory");
    if (n > 0) {
        memcpy(addr, s, n);
    }
    uint16_t port = 0;
    if (tw_addr_split(addr, n, host, cap, &port) == 0) {
        size_t hl = strnlen(host, cap);
        FUZZ_CHECK(hl > 0 && hl < cap, "host of %zu bytes in %zu", hl, cap);
        /* Put together again: host (bracketed when it has a colon), a
         * colon, the port; the input may have leading zeros in the port. */
        int v6 = memchr(host, ':', hl) != NULL;
        FUZZ_CHECK(!v6 || addr[0] == '[', "a bare IPv6 literal accepted");
        size_t hoff = addr[0] == '[' ? 1 : 0;
        FUZZ_CHECK(n > hoff + hl && memcmp(addr + hoff, host, hl) == 0,
                   "the host is not the address's");
        size_t poff = hoff + hl + (hoff ? 2 : 1);
        FUZZ_CHECK(poff < n && addr[poff - 1] == ':', "no colon before port");
        uint32_t p = 0;
        for (size_t k = poff; k < n; k++) {
            FUZZ_CHECK(addr[k] >= '0' && addr[k] <= '9', "port not decimal");
            p = p * 10 + (uint32_t)(addr[k] - '0');
        }
        FUZZ_CHECK(p == port && p <= 65535, "port %u read as %u", p, port);
    }
    free(addr);
    free(host);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in = {data, size};
    switch (fuzz_u8(&in) % 3) {
    case 0:
        check_stream(&in);
        break;
    case 1:
        check_ack(&in);
        break;
    default:
        check_addr(&in);
        break;
    }
    return 0;
}
