/*
 * transport/wire.h: the TCP transport's wire protocol as pure functions:
 * the hello and its answer, frames, and "host:port" addresses. No I/O, no
 * allocation, no state beyond the arguments: what the event loop and a
 * fuzz target call alike. The format is described in craft/tcp.h.
 */
#ifndef CRAFT_TRANSPORT_WIRE_H
#define CRAFT_TRANSPORT_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "craft.h"

#define TW_VERSION CRAFT_TCP_PROTOCOL_VERSION
#define TW_HELLO_FIXED 33u /* magic, version, flags, 3 ids, address len */
#define TW_HELLO_MAX (TW_HELLO_FIXED + CRAFT_MAX_ADDR_BYTES)
#define TW_ACK_BYTES 16u
#define TW_FRAME_HEADER 4u

/* The hello's flags: bit 0 is reserved for a TLS upgrade; this version
 * sends 0 and refuses any flag as malformed. */
#define TW_FLAG_TLS 0x1u

struct tw_hello {
    uint16_t version;
    uint16_t flags;
    uint64_t cluster;
    uint64_t sender;
    uint64_t receiver;
    uint32_t addr_len;
    uint8_t addr[CRAFT_MAX_ADDR_BYTES];
};

/* Why a connection is refused or closed. The values of the refusals are
 * also the status of the answer on the wire (0: accepted). */
enum tw_reason {
    TW_OK = 0,
    TW_R_MAGIC = 1,     /* not our protocol: closed without an answer */
    TW_R_VERSION = 2,
    TW_R_CLUSTER = 3,
    TW_R_RECEIVER = 4,
    TW_R_MALFORMED = 5,
    TW_R_NOT_MEMBER = 6,
    TW_R_FRAME_TOO_BIG = 7, /* the rest are never sent */
    TW_R_FRAME_EMPTY = 8
};

/* "magic", "version", ... as the trace events name them; "unknown" for
 * a value that is not a reason. */
const char *tw_reason_name(int reason);

/* Writes h's hello (TW_HELLO_FIXED + h->addr_len bytes) to buf and
 * returns its length. h->addr_len must be <= CRAFT_MAX_ADDR_BYTES. */
size_t tw_hello_encode(const struct tw_hello *h, uint8_t *buf);
/* Writes the answer (TW_ACK_BYTES) with status (enum tw_reason, TW_OK
 * for accepted) and the answering server's id. */
size_t tw_ack_encode(uint16_t status, uint64_t self, uint8_t *buf);

/* What tw_next_inbound / tw_parse_ack found. */
enum tw_kind {
    TW_MORE = 0,   /* need more bytes */
    TW_HELLO = 1,  /* a hello (checked: it.reason says accept or why not) */
    TW_FRAME = 2,  /* a frame: payload at it.off, it.len bytes */
    TW_CLOSE = 3,  /* close the connection: it.reason */
    TW_ACK = 4     /* an answer: it.reason is its status */
};

/* What the receiving server expects of a hello. */
struct tw_rules {
    uint64_t cluster;
    uint64_t self;
    uint32_t max_frame; /* largest frame payload */
};

struct tw_item {
    int kind;        /* enum tw_kind */
    int reason;      /* enum tw_reason */
    size_t used;     /* bytes consumed from the start of buf */
    size_t off;      /* TW_FRAME: payload offset in buf */
    size_t len;      /* TW_FRAME: payload length */
    uint64_t announced; /* a frame's announced length (TW_MORE, too big) */
    uint64_t peer;   /* TW_ACK: the answering server's id */
    struct tw_hello hello; /* TW_HELLO */
};

/*
 * The next item of an inbound connection's byte stream, given whether its
 * hello was already accepted (handshaken) and the bytes received and not
 * yet consumed (buf, len). Before the hello: TW_MORE, TW_HELLO (reason
 * TW_OK, or the refusal to answer with: version, cluster, receiver,
 * malformed) or TW_CLOSE with TW_R_MAGIC. After: TW_MORE (announced set
 * once the header is in), TW_FRAME, or TW_CLOSE (frame too big or
 * empty). Never reads past len; total for any input.
 */
void tw_next_inbound(const struct tw_rules *r, int handshaken,
                     const uint8_t *buf, size_t len, struct tw_item *it);

/*
 * The answer to our hello at the start of buf: TW_MORE, TW_ACK (reason:
 * its status, peer: its id; a status this build does not know reads as
 * TW_R_MALFORMED) or TW_CLOSE with TW_R_MAGIC.
 */
void tw_parse_ack(const uint8_t *buf, size_t len, struct tw_item *it);

/*
 * Splits an address "host:port" or "[ipv6]:port" (len bytes, not
 * necessarily NUL-terminated) into host (NUL-terminated, without the
 * brackets) and port. 0 on success; -1 when it is malformed: no port, a
 * port that is not a decimal number in 0..65535, an empty host, a bare
 * IPv6 literal without brackets, a NUL byte, or a host that does not fit
 * hostcap.
 */
int tw_addr_split(const char *addr, size_t len, char *host, size_t hostcap,
                  uint16_t *port);

#endif /* CRAFT_TRANSPORT_WIRE_H */
