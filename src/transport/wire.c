/*
 * transport/wire.c: the TCP transport's wire protocol (see wire.h and
 * craft/tcp.h). Every length read from the peer is bounded before use.
 */
#include "transport/wire.h"

#include <stddef.h>
#include <string.h>

#include "codec/le.h"

static const uint8_t HELLO_MAGIC[4] = {'C', 'R', 'F', 'T'};
static const uint8_t ACK_MAGIC[4] = {'C', 'R', 'F', 'A'};

const char *tw_reason_name(int reason)
{
    switch (reason) {
    case TW_OK:
        return "ok";
    case TW_R_MAGIC:
        return "magic";
    case TW_R_VERSION:
        return "version";
    case TW_R_CLUSTER:
        return "cluster";
    case TW_R_RECEIVER:
        return "receiver";
    case TW_R_MALFORMED:
        return "malformed";
    case TW_R_NOT_MEMBER:
        return "not_member";
    case TW_R_FRAME_TOO_BIG:
        return "frame_too_big";
    case TW_R_FRAME_EMPTY:
        return "frame_empty";
    default:
        return "unknown";
    }
}

size_t tw_hello_encode(const struct tw_hello *h, uint8_t *buf)
{
    uint8_t *p = buf;
    memcpy(p, HELLO_MAGIC, 4);
    p = craft_put_u16(p + 4, h->version);
    p = craft_put_u16(p, h->flags);
    p = craft_put_u64(p, h->cluster);
    p = craft_put_u64(p, h->sender);
    p = craft_put_u64(p, h->receiver);
    p = craft_put_u8(p, (uint8_t)h->addr_len);
    memcpy(p, h->addr, h->addr_len);
    return TW_HELLO_FIXED + h->addr_len;
}

size_t tw_ack_encode(uint16_t status, uint64_t self, uint8_t *buf)
{
    memcpy(buf, ACK_MAGIC, 4);
    uint8_t *p = craft_put_u16(buf + 4, TW_VERSION);
    p = craft_put_u16(p, status);
    craft_put_u64(p, self);
    return TW_ACK_BYTES;
}

/* The first min(len, 4) bytes match the magic. */
static int magic_prefix_ok(const uint8_t *buf, size_t len,
                           const uint8_t magic[4])
{
    size_t n = len < 4 ? len : 4;
    return memcmp(buf, magic, n) == 0;
}

static void hello(const struct tw_rules *r, const uint8_t *buf, size_t len,
                  struct tw_item *it)
{
    if (!magic_prefix_ok(buf, len, HELLO_MAGIC)) {
        it->kind = TW_CLOSE;
        it->reason = TW_R_MAGIC;
        return;
    }
    if (len < 6) {
        return; /* TW_MORE */
    }
    /* Later versions may lay the rest out differently: refuse an unknown
     * one as soon as it is known, without reading further. */
    struct tw_hello *h = &it->hello;
    h->version = craft_get_u16(buf + 4);
    if (h->version != TW_VERSION) {
        it->kind = TW_HELLO;
        it->reason = TW_R_VERSION;
        it->used = len;
        return;
    }
    if (len < TW_HELLO_FIXED) {
        return;
    }
    h->addr_len = buf[32];
    if (len < TW_HELLO_FIXED + h->addr_len) {
        return;
    }
    h->flags = craft_get_u16(buf + 6);
    h->cluster = craft_get_u64(buf + 8);
    h->sender = craft_get_u64(buf + 16);
    h->receiver = craft_get_u64(buf + 24);
    memcpy(h->addr, buf + TW_HELLO_FIXED, h->addr_len);
    it->kind = TW_HELLO;
    it->used = TW_HELLO_FIXED + h->addr_len;
    if (h->flags != 0 || h->sender == CRAFT_NONE ||
        h->receiver == CRAFT_NONE || h->sender == r->self ||
        memchr(h->addr, 0, h->addr_len) != NULL) {
        it->reason = TW_R_MALFORMED;
    } else if (h->cluster != r->cluster) {
        it->reason = TW_R_CLUSTER;
    } else if (h->receiver != r->self) {
        it->reason = TW_R_RECEIVER;
    } else {
        it->reason = TW_OK;
    }
}

static void frame(const struct tw_rules *r, const uint8_t *buf, size_t len,
                  struct tw_item *it)
{
    if (len < TW_FRAME_HEADER) {
        return;
    }
    uint32_t n = craft_get_u32(buf);
    it->announced = n;
    if (n == 0) {
        it->kind = TW_CLOSE;
        it->reason = TW_R_FRAME_EMPTY;
        return;
    }
    if (n > r->max_frame) {
        it->kind = TW_CLOSE;
        it->reason = TW_R_FRAME_TOO_BIG;
        return;
    }
    if (len - TW_FRAME_HEADER < n) {
        return;
    }
    it->kind = TW_FRAME;
    it->off = TW_FRAME_HEADER;
    it->len = n;
    it->used = TW_FRAME_HEADER + (size_t)n;
}

void tw_next_inbound(const struct tw_rules *r, int handshaken,
                     const uint8_t *buf, size_t len, struct tw_item *it)
{
    memset(it, 0, sizeof(*it) - sizeof(it->hello));
    /* The hello's fields but not its address buffer (too large to clear
     * for every frame): a refusal read before the sender is known must
     * still report sender 0, not stale bytes. */
    memset(&it->hello, 0, offsetof(struct tw_hello, addr));
    it->kind = TW_MORE;
    if (len == 0) {
        return;
    }
    if (handshaken) {
        frame(r, buf, len, it);
    } else {
        hello(r, buf, len, it);
    }
}

void tw_parse_ack(const uint8_t *buf, size_t len, struct tw_item *it)
{
    memset(it, 0, sizeof(*it) - sizeof(it->hello));
    it->kind = TW_MORE;
    if (!magic_prefix_ok(buf, len, ACK_MAGIC)) {
        it->kind = TW_CLOSE;
        it->reason = TW_R_MAGIC;
        return;
    }
    if (len < TW_ACK_BYTES) {
        return;
    }
    uint16_t status = craft_get_u16(buf + 6);
    it->kind = TW_ACK;
    it->used = TW_ACK_BYTES;
    it->peer = craft_get_u64(buf + 8);
    it->reason = status <= TW_R_NOT_MEMBER && status != TW_R_MAGIC
                     ? (int)status
                     : TW_R_MALFORMED;
}

int tw_addr_split(const char *addr, size_t len, char *host, size_t hostcap,
                  uint16_t *port)
{
    const char *hs, *ps;
    size_t hl;
    if (addr == NULL || len == 0 || memchr(addr, 0, len) != NULL) {
        return -1;
    }
    const char *end = addr + len;
    if (addr[0] == '[') {
        const char *close = memchr(addr, ']', len);
        if (close == NULL || close + 1 >= end || close[1] != ':') {
            return -1;
        }
        hs = addr + 1;
        hl = (size_t)(close - hs);
        ps = close + 2;
    } else {
        const char *colon = NULL;
        for (const char *p = addr; p < end; p++) {
            if (*p == ':') {
                if (colon != NULL) {
                    return -1; /* an IPv6 literal needs brackets */
                }
                colon = p;
            }
        }
        if (colon == NULL) {
            return -1;
        }
        hs = addr;
        hl = (size_t)(colon - addr);
        ps = colon + 1;
    }
    if (hl == 0 || hl + 1 > hostcap || ps >= end || end - ps > 5) {
        return -1;
    }
    uint32_t v = 0;
    for (const char *p = ps; p < end; p++) {
        if (*p < '0' || *p > '9') {
            return -1;
        }
        v = v * 10 + (uint32_t)(*p - '0');
    }
    if (v > 65535) {
        return -1;
    }
    memcpy(host, hs, hl);
    host[hl] = 0;
    *port = (uint16_t)v;
    return 0;
}
