/*
 * codec/message.h: the in-memory form of Raft messages and log entries,
 * and their wire encoding.
 *
 * The engine works on struct craft_msg; the codec turns it into bytes and
 * back. Wire format version 1 is documented in codec/message.c. Decoding
 * never trusts its input: every length is bounded by the buffer and by the
 * CRAFT_MAX_* limits, and every malformed, truncated, oversized or
 * corrupted buffer is an error code.
 */
#ifndef CRAFT_CODEC_MESSAGE_H
#define CRAFT_CODEC_MESSAGE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "craft.h"
#include "util/alloc.h"

/* Wire format version written by this build; decoders reject others. */
#define CRAFT_WIRE_VERSION 1

/*
 * A log entry as the engine holds it. data/len are the payload. ref is the
 * engine's arena block that owns data (NULL when data is borrowed, as in
 * a decoded message); the codec neither reads nor writes it.
 */
struct craft_entry {
    uint64_t term;
    uint32_t type; /* enum craft_entry_type */
    uint32_t len;
    const uint8_t *data;
    void *ref;
};

enum craft_msg_type {
    CRAFT_MSG_APPEND = 1,        /* AppendEntries (§5.3) */
    CRAFT_MSG_APPEND_RESP = 2,
    CRAFT_MSG_VOTE = 3,          /* RequestVote (§5.2) */
    CRAFT_MSG_VOTE_RESP = 4,
    CRAFT_MSG_PREVOTE = 5,       /* thesis §9.6 */
    CRAFT_MSG_PREVOTE_RESP = 6,
    CRAFT_MSG_HEARTBEAT = 7,     /* empty AppendEntries without log check */
    CRAFT_MSG_HEARTBEAT_RESP = 8,
    CRAFT_MSG_SNAPSHOT = 9,      /* InstallSnapshot chunk (§7, thesis §5) */
    CRAFT_MSG_SNAPSHOT_RESP = 10,
    CRAFT_MSG_TIMEOUT_NOW = 11,  /* leadership transfer (thesis §3.10) */
    CRAFT_MSG_READ_INDEX = 12,   /* follower forwards a read (thesis §6.4) */
    CRAFT_MSG_READ_INDEX_RESP = 13
};
#define CRAFT_MSG_TYPE_MAX 13

/* Flags. */
#define CRAFT_MSG_F_REJECT 0x1u   /* *_RESP: request refused / vote denied */
#define CRAFT_MSG_F_LAST 0x2u     /* SNAPSHOT: last chunk;
                                     SNAPSHOT_RESP: snapshot installed */
#define CRAFT_MSG_F_TRANSFER 0x4u /* VOTE: campaign of a leadership transfer:
                                     bypasses leader stickiness */
#define CRAFT_MSG_F_ALL 0x7u

/*
 * One message. Which fields a type uses:
 *
 *  APPEND          index=prev log index, log_term=prev log term, commit,
 *                  entries (index+1..)
 *  APPEND_RESP     index=match index on success; on REJECT index=the
 *                  rejected prev index, hint_index/hint_term=the follower's
 *                  conflict hint (§5.3 fast backoff)
 *  VOTE, PREVOTE   term (for PREVOTE the term it would campaign in),
 *                  index=last log index, log_term=last log term; flags
 *  VOTE_RESP,
 *  PREVOTE_RESP    term, REJECT when not granted
 *  HEARTBEAT       commit, ctx (read-index round)
 *  HEARTBEAT_RESP  ctx echoed
 *  SNAPSHOT        index/log_term=snapshot last index/term, offset, data
 *                  (chunk), conf (membership bytes), LAST
 *  SNAPSHOT_RESP   index=snapshot index, offset=next offset wanted, REJECT,
 *                  LAST (installed)
 *  TIMEOUT_NOW     term
 *  READ_INDEX      ctx=request id
 *  READ_INDEX_RESP ctx=request id, index=read index; on REJECT index=the
 *                  negated CRAFT_E* reason, hint_index=the leader hint
 *
 * The codec sends exactly these fields and flags: any other field is not
 * encoded (and decodes as 0), and a flag a type does not list makes the
 * encoder refuse the message (see craft_msg_check()).
 *
 * Pointers are borrowed: in a message the engine emits they point into the
 * engine (valid until its next step); in a decoded one, into the buffer.
 */
struct craft_msg {
    uint32_t type;
    uint32_t flags;
    uint64_t from;
    uint64_t to;
    uint64_t term;
    uint64_t index;
    uint64_t log_term;
    uint64_t commit;
    uint64_t hint_index;
    uint64_t hint_term;
    uint64_t ctx;
    uint64_t offset;
    const struct craft_entry *entries;
    size_t n_entries;
    const uint8_t *data;
    size_t len;
    const uint8_t *conf;
    size_t conf_len;
};

/* *m = all zeros. gcc writes a memset of this size with `rep stos`,
 * whose stores the reads that soon follow cannot be forwarded from (a
 * stall of tens of cycles per message in bench_engine's profile); a copy
 * of a zeroed constant compiles to a few vector moves instead. */
static inline void craft_msg_clear(struct craft_msg *m)
{
    static const struct craft_msg zero;
    memcpy(m, &zero, sizeof(*m));
}

/* Growable scratch array the decoder stores entry descriptors in. */
struct craft_entry_vec {
    struct craft_entry *v;
    size_t cap;
};
void craft_entry_vec_free(const struct craft_alloc *a,
                          struct craft_entry_vec *vec);

/* Exact number of bytes craft_msg_encode() writes for m; 0 when m cannot
 * be encoded as a message the decoder accepts (NULL, unknown type, a flag
 * the type does not allow, zero from/to, an entry of unknown type or over
 * CRAFT_MAX_ENTRY_BYTES, conf over CRAFT_CONF_MAX_BYTES, a NULL pointer
 * with a non-zero length, or a total over CRAFT_MAX_MESSAGE_BYTES). */
size_t craft_msg_encoded_size(const struct craft_msg *m);

/* Encodes m into buf, which holds craft_msg_encoded_size(m) bytes.
 * Returns the number of bytes written: craft_msg_encoded_size(m), so 0
 * (and nothing written) when m cannot be encoded. Thread-safe. */
size_t craft_msg_encode(const struct craft_msg *m, uint8_t *buf);
/* The same, given size = craft_msg_encoded_size(m), non-zero (an encoder
 * that sized a message already need not validate it twice). */
size_t craft_msg_encode_sized(const struct craft_msg *m, uint8_t *buf,
                              size_t size);

/* CRAFT_OK when craft_msg_encoded_size(m) != 0, else CRAFT_EMALFORMED
 * (CRAFT_EINVAL on NULL): lets an engine test assert that every message
 * it emits can go on the wire. */
int craft_msg_check(const struct craft_msg *m);

/*
 * Stream framing. Every message starts with its total length as a u32, in
 * every wire format version. Given at least CRAFT_MSG_PREFIX_BYTES of a
 * stream, craft_msg_frame_size() stores the size of the message they
 * start, which is what to read before calling craft_msg_decode().
 * Errors: CRAFT_EINVAL (NULL or len < CRAFT_MSG_PREFIX_BYTES),
 * CRAFT_ETOOBIG (over CRAFT_MAX_MESSAGE_BYTES), CRAFT_EMALFORMED (shorter
 * than any message): the stream is then unusable.
 */
#define CRAFT_MSG_PREFIX_BYTES 4u
int craft_msg_frame_size(const uint8_t *buf, size_t len, size_t *size);

/*
 * Decodes buf into *m. Entry descriptors go into scratch (grown through a
 * as needed); m->entries, m->data and m->conf point into buf and scratch.
 * Fields the type does not carry are 0. A scratch large enough already
 * is not touched: the steady state allocates nothing. scratch starts as
 * {NULL, 0} and is released with craft_entry_vec_free(). Thread-safe as
 * long as no two threads share scratch.
 * Errors: CRAFT_EINVAL (NULL), CRAFT_EMALFORMED (truncated, bad length,
 * unknown type or flags, trailing bytes, zero from/to), CRAFT_ECHECKSUM,
 * CRAFT_EVERSION, CRAFT_ETOOBIG (over CRAFT_MAX_MESSAGE_BYTES or an entry
 * over CRAFT_MAX_ENTRY_BYTES), CRAFT_ENOMEM. On error *m is unspecified.
 */
int craft_msg_decode(const uint8_t *buf, size_t len, struct craft_msg *m,
                     const struct craft_alloc *a,
                     struct craft_entry_vec *scratch);

/*
 * Log-entry records: the framing a storage uses for one entry on disk.
 * Self-delimiting and checksummed, so a reader can find a torn tail.
 * craft_entry_record_size() is 0 for a payload over CRAFT_MAX_ENTRY_BYTES;
 * craft_entry_record_encode() writes craft_entry_record_size(e->len)
 * bytes and returns that, or 0 (writing nothing) when e cannot be encoded
 * (NULL, unknown type, too big, NULL data with a non-zero len).
 */
size_t craft_entry_record_size(uint32_t payload_len);
size_t craft_entry_record_encode(uint64_t index, const struct craft_entry *e,
                                 uint8_t *buf);
/* Decodes one record at the start of buf; *consumed is its size (0 on
 * error). e->data points into buf, e->ref is NULL. Bytes after the record
 * are not looked at. A record cut short, including a zero length word, is
 * CRAFT_EMALFORMED; damage is CRAFT_ECHECKSUM; otherwise the same error
 * codes as craft_msg_decode. */
int craft_entry_record_decode(const uint8_t *buf, size_t len,
                              uint64_t *index, struct craft_entry *e,
                              size_t *consumed);

#endif /* CRAFT_CODEC_MESSAGE_H */
