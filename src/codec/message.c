/*
 * codec/message.c: wire format version 1 of Raft messages, and the
 * on-disk record framing of log entries.
 *
 * All integers are little-endian, written byte by byte (codec/le.h), with
 * no padding and no alignment: the format is the same on every host.
 *
 * MESSAGE
 *
 *   offset size  field
 *   0      4     total length of the message in bytes, trailer included
 *   4      1     format version (CRAFT_WIRE_VERSION = 1)
 *   5      1     type (enum craft_msg_type, 1..CRAFT_MSG_TYPE_MAX)
 *   6      1     flags (only those the type allows, see below)
 *   7      1     reserved, 0
 *   8      8     from (non-zero)
 *   16     8     to (non-zero)
 *   24     8     term
 *   32     ...   body: the type's u64 fields, then its payload
 *   len-4  4     CRC32C of bytes [0, len-4)
 *
 * Every message carries term (§5.1: every RPC does); the body holds only
 * the fields the type uses, in this order:
 *
 *   type             flags     u64 fields                  payload
 *   APPEND           -         index log_term commit       entries
 *   APPEND_RESP      REJECT    index hint_index hint_term  -
 *   VOTE, PREVOTE    TRANSFER  index log_term              -
 *   VOTE_RESP,
 *   PREVOTE_RESP     REJECT    -                           -
 *   HEARTBEAT        -         commit ctx                  -
 *   HEARTBEAT_RESP   -         ctx                         -
 *   SNAPSHOT         LAST      index log_term offset       snapshot
 *   SNAPSHOT_RESP    REJECT,   index offset                -
 *                    LAST
 *   TIMEOUT_NOW      -         -                           -
 *   READ_INDEX       -         ctx                         -
 *   READ_INDEX_RESP  REJECT    ctx index hint_index        -
 *
 *   entries:  u32 count, then count x { u64 term, u8 type (1..3),
 *             u32 len (<= CRAFT_MAX_ENTRY_BYTES), len bytes }
 *   snapshot: u32 conf_len (<= CRAFT_CONF_MAX_BYTES), conf_len bytes,
 *             u32 data_len, data_len bytes
 *
 * So a heartbeat is 52 bytes and a vote response 36. Fields a type does
 * not use are not sent and decode as 0; flags a type does not allow are
 * rejected by the decoder and make the encoder refuse the message
 * (craft_msg_encoded_size() returns 0), so a flag can never vanish
 * silently between an engine and its peer.
 *
 * The frame, that is the length word, the version byte after it and the
 * CRC trailer, is the same in every format version. That lets a stream
 * transport cut messages knowing only the first 4 bytes
 * (craft_msg_frame_size()), and lets the decoder check integrity before it
 * interprets anything: it verifies, in order, the buffer against
 * CRAFT_MAX_MESSAGE_BYTES and the length word (exactly equal: no trailing
 * bytes), then the CRC, then the version. Any corruption therefore reads
 * as CRAFT_ECHECKSUM (or CRAFT_EMALFORMED when it hits the length word),
 * and only an intact message from a newer build as CRAFT_EVERSION. A CRC
 * is no authentication, though: a buggy peer computes valid CRCs over
 * garbage, so every count and length inside is still bounds-checked
 * before it is used, and the body must end exactly at the trailer.
 *
 * Decoding allocates only when the scratch entry array is too small for
 * the entry count, and only after the count has been bounded by the bytes
 * left (each entry takes at least 13), so a lying count cannot make it
 * allocate more than the message could describe. Payload pointers point
 * into the buffer: nothing is copied.
 *
 * ENTRY RECORD (the on-disk framing a storage uses for one entry)
 *
 *   offset size  field
 *   0      4     total length of the record, trailer included (28 + len)
 *   4      1     format version (CRAFT_WIRE_VERSION = 1)
 *   5      1     entry type (1..3)
 *   6      2     reserved, 0
 *   8      8     index
 *   16     8     term
 *   24     len   payload (len <= CRAFT_MAX_ENTRY_BYTES)
 *   24+len 4     CRC32C of bytes [0, 24+len)
 *
 * Records are self-delimiting so a reader walks a log by *consumed. A
 * record cut short (a torn write, or a zero-filled tail: length 0) reads
 * as CRAFT_EMALFORMED, a damaged one as CRAFT_ECHECKSUM; the storage
 * decides whether that is a tail to truncate or corruption to report.
 */
#include "codec/message.h"

#include <string.h>

#include "codec/conf.h"
#include "codec/crc32c.h"
#include "codec/le.h"
#include "util/copy.h"
#include "util/assert.h"

#define FRAME_MIN 9u    /* length + version + crc: common to all versions */
#define MSG_HEADER 32u  /* through term */
#define MSG_TRAILER 4u  /* crc */
#define ENTRY_HEADER 13u /* term + type + len */
#define RECORD_HEADER 24u
#define RECORD_OVERHEAD (RECORD_HEADER + 4u)

enum payload_kind { PAYLOAD_NONE, PAYLOAD_ENTRIES, PAYLOAD_SNAPSHOT };

/* The per-type table above, as data: flags allowed, payload, and the
 * offsets in struct craft_msg of the u64 fields in wire order. */
struct msg_layout {
    uint8_t flags;
    uint8_t payload;
    uint8_t n_fields;
    uint8_t fields[3];
};

#define OFF(f) ((uint8_t)offsetof(struct craft_msg, f))
_Static_assert(offsetof(struct craft_msg, offset) < 256,
               "field offsets must fit in uint8_t");

static const struct msg_layout layouts[CRAFT_MSG_TYPE_MAX + 1] = {
    [CRAFT_MSG_APPEND] = {0, PAYLOAD_ENTRIES, 3,
                          {OFF(index), OFF(log_term), OFF(commit)}},
    [CRAFT_MSG_APPEND_RESP] = {CRAFT_MSG_F_REJECT, PAYLOAD_NONE, 3,
                               {OFF(index), OFF(hint_index), OFF(hint_term)}},
    [CRAFT_MSG_VOTE] = {CRAFT_MSG_F_TRANSFER, PAYLOAD_NONE, 2,
                        {OFF(index), OFF(log_term), 0}},
    [CRAFT_MSG_VOTE_RESP] = {CRAFT_MSG_F_REJECT, PAYLOAD_NONE, 0, {0, 0, 0}},
    [CRAFT_MSG_PREVOTE] = {CRAFT_MSG_F_TRANSFER, PAYLOAD_NONE, 2,
                           {OFF(index), OFF(log_term), 0}},
    [CRAFT_MSG_PREVOTE_RESP] = {CRAFT_MSG_F_REJECT, PAYLOAD_NONE, 0,
                                {0, 0, 0}},
    [CRAFT_MSG_HEARTBEAT] = {0, PAYLOAD_NONE, 2, {OFF(commit), OFF(ctx), 0}},
    [CRAFT_MSG_HEARTBEAT_RESP] = {0, PAYLOAD_NONE, 1, {OFF(ctx), 0, 0}},
    [CRAFT_MSG_SNAPSHOT] = {CRAFT_MSG_F_LAST, PAYLOAD_SNAPSHOT, 3,
                            {OFF(index), OFF(log_term), OFF(offset)}},
    [CRAFT_MSG_SNAPSHOT_RESP] = {CRAFT_MSG_F_REJECT | CRAFT_MSG_F_LAST,
                                 PAYLOAD_NONE, 2,
                                 {OFF(index), OFF(offset), 0}},
    [CRAFT_MSG_TIMEOUT_NOW] = {0, PAYLOAD_NONE, 0, {0, 0, 0}},
    [CRAFT_MSG_READ_INDEX] = {0, PAYLOAD_NONE, 1, {OFF(ctx), 0, 0}},
    [CRAFT_MSG_READ_INDEX_RESP] = {CRAFT_MSG_F_REJECT, PAYLOAD_NONE, 3,
                                   {OFF(ctx), OFF(index), OFF(hint_index)}},
};

static const struct msg_layout *layout_of(uint32_t type)
{
    if (type == 0 || type > CRAFT_MSG_TYPE_MAX) {
        return NULL;
    }
    return &layouts[type];
}

/* memcpy, not a cast: reads the uint64_t member at that offset without
 * pretending the message is anything but a struct craft_msg. */
static uint64_t field_get(const struct craft_msg *m, uint8_t off)
{
    uint64_t v;
    memcpy(&v, (const unsigned char *)m + off, sizeof(v));
    return v;
}

static void field_set(struct craft_msg *m, uint8_t off, uint64_t v)
{
    memcpy((unsigned char *)m + off, &v, sizeof(v));
}

static int entry_type_known(uint32_t type)
{
    return type >= CRAFT_ENTRY_NORMAL && type <= CRAFT_ENTRY_CONFIG;
}

/* ---- encoding ---------------------------------------------------------- */

/* Adds the entries' bytes to size; 0 when an entry is invalid or the
 * message would exceed CRAFT_MAX_MESSAGE_BYTES. Checking the running
 * total at each step keeps the sum from overflowing even on 32 bits. */
static size_t entries_size(size_t size, const struct craft_msg *m)
{
    const size_t max = CRAFT_MAX_MESSAGE_BYTES;
    size += 4;
    if (m->n_entries > (max - size) / ENTRY_HEADER) {
        return 0;
    }
    if (m->n_entries > 0 && m->entries == NULL) {
        return 0;
    }
    size += ENTRY_HEADER * m->n_entries;
    for (size_t i = 0; i < m->n_entries; i++) {
        const struct craft_entry *e = &m->entries[i];
        if (!entry_type_known(e->type) || e->len > CRAFT_MAX_ENTRY_BYTES ||
            (e->len > 0 && e->data == NULL)) {
            return 0;
        }
        size += e->len;
        if (size > max) {
            return 0;
        }
    }
    return size;
}

static size_t snapshot_size(size_t size, const struct craft_msg *m)
{
    if (m->conf_len > CRAFT_CONF_MAX_BYTES ||
        m->len > CRAFT_MAX_MESSAGE_BYTES ||
        (m->conf_len > 0 && m->conf == NULL) ||
        (m->len > 0 && m->data == NULL)) {
        return 0;
    }
    size += 4 + m->conf_len + 4 + m->len;
    return size > CRAFT_MAX_MESSAGE_BYTES ? 0 : size;
}

size_t craft_msg_encoded_size(const struct craft_msg *m)
{
    if (m == NULL) {
        return 0;
    }
    const struct msg_layout *l = layout_of(m->type);
    if (l == NULL || (m->flags & ~(uint32_t)l->flags) != 0 ||
        m->from == CRAFT_NONE || m->to == CRAFT_NONE) {
        return 0;
    }
    size_t size = MSG_HEADER + 8u * l->n_fields + MSG_TRAILER;
    switch (l->payload) {
    case PAYLOAD_ENTRIES:
        return entries_size(size, m);
    case PAYLOAD_SNAPSHOT:
        return snapshot_size(size, m);
    default:
        return size;
    }
}

static uint8_t *put_bytes(uint8_t *p, const uint8_t *src, size_t n)
{
    craft_copy(p, src, n); /* n == 0: src may be NULL */
    return p + n;
}

/* The hot path: a descriptor's 13 bytes and one memcpy per entry. */
static uint8_t *put_entries(uint8_t *p, const struct craft_msg *m)
{
    p = craft_put_u32(p, (uint32_t)m->n_entries);
    for (size_t i = 0; i < m->n_entries; i++) {
        const struct craft_entry *e = &m->entries[i];
        p = craft_put_u64(p, e->term);
        p = craft_put_u8(p, (uint8_t)e->type);
        p = craft_put_u32(p, e->len);
        p = put_bytes(p, e->data, e->len);
    }
    return p;
}

static uint8_t *put_snapshot(uint8_t *p, const struct craft_msg *m)
{
    p = craft_put_u32(p, (uint32_t)m->conf_len);
    p = put_bytes(p, m->conf, m->conf_len);
    p = craft_put_u32(p, (uint32_t)m->len);
    return put_bytes(p, m->data, m->len);
}

size_t craft_msg_encode(const struct craft_msg *m, uint8_t *buf)
{
    size_t size = craft_msg_encoded_size(m);
    if (size == 0 || buf == NULL) {
        return 0;
    }
    return craft_msg_encode_sized(m, buf, size);
}

size_t craft_msg_encode_sized(const struct craft_msg *m, uint8_t *buf,
                              size_t size)
{
    CRAFT_ASSERT(size != 0 && size == craft_msg_encoded_size(m));
    const struct msg_layout *l = layout_of(m->type);
    uint8_t *p = craft_put_u32(buf, (uint32_t)size);
    p = craft_put_u8(p, CRAFT_WIRE_VERSION);
    p = craft_put_u8(p, (uint8_t)m->type);
    p = craft_put_u8(p, (uint8_t)m->flags);
    p = craft_put_u8(p, 0);
    p = craft_put_u64(p, m->from);
    p = craft_put_u64(p, m->to);
    p = craft_put_u64(p, m->term);
    for (unsigned i = 0; i < l->n_fields; i++) {
        p = craft_put_u64(p, field_get(m, l->fields[i]));
    }
    if (l->payload == PAYLOAD_ENTRIES) {
        p = put_entries(p, m);
    } else if (l->payload == PAYLOAD_SNAPSHOT) {
        p = put_snapshot(p, m);
    }
    /* The size function and the writer agree on every layout. */
    CRAFT_ASSERT(p == buf + size - MSG_TRAILER);
    craft_put_u32(p, craft_crc32c(0, buf, size - MSG_TRAILER));
    return size;
}

/* ---- decoding ---------------------------------------------------------- */

/* A cursor over the body, between the header and the CRC trailer. Every
 * read checks what is left first. */
struct reader {
    const uint8_t *p;
    const uint8_t *end;
};

static size_t rd_left(const struct reader *r)
{
    return (size_t)(r->end - r->p);
}

static int rd_u32(struct reader *r, uint32_t *v)
{
    if (rd_left(r) < 4) {
        return CRAFT_EMALFORMED;
    }
    *v = craft_get_u32(r->p);
    r->p += 4;
    return CRAFT_OK;
}

/* Reads a u32 length, bounds it by limit (CRAFT_ETOOBIG) and by the bytes
 * left (CRAFT_EMALFORMED), and points *data at the bytes. */
static int rd_blob(struct reader *r, size_t limit, const uint8_t **data,
                   size_t *len)
{
    uint32_t n;
    int rv = rd_u32(r, &n);
    if (rv != CRAFT_OK) {
        return rv;
    }
    if (n > limit) {
        return CRAFT_ETOOBIG;
    }
    if (n > rd_left(r)) {
        return CRAFT_EMALFORMED;
    }
    *data = r->p;
    *len = n;
    r->p += n;
    return CRAFT_OK;
}

int craft_msg_frame_size(const uint8_t *buf, size_t len, size_t *size)
{
    if (buf == NULL || size == NULL || len < CRAFT_MSG_PREFIX_BYTES) {
        return CRAFT_EINVAL;
    }
    uint32_t total = craft_get_u32(buf);
    if (total > CRAFT_MAX_MESSAGE_BYTES) {
        return CRAFT_ETOOBIG;
    }
    if (total < FRAME_MIN) {
        return CRAFT_EMALFORMED;
    }
    *size = total;
    return CRAFT_OK;
}

/* The version-independent frame: size, exact length, CRC, version. */
static int check_frame(const uint8_t *buf, size_t len)
{
    if (len > CRAFT_MAX_MESSAGE_BYTES) {
        return CRAFT_ETOOBIG;
    }
    if (len < FRAME_MIN) {
        return CRAFT_EMALFORMED;
    }
    size_t total;
    int rv = craft_msg_frame_size(buf, len, &total);
    if (rv != CRAFT_OK) {
        return rv;
    }
    if (total != len) {
        return CRAFT_EMALFORMED;
    }
    size_t body = len - MSG_TRAILER;
    if (craft_crc32c(0, buf, body) != craft_get_u32(buf + body)) {
        return CRAFT_ECHECKSUM;
    }
    if (buf[4] != CRAFT_WIRE_VERSION) {
        return CRAFT_EVERSION;
    }
    return CRAFT_OK;
}

/* Type, flags, reserved byte, from, to, term. */
static int decode_header(const uint8_t *buf, size_t len, struct craft_msg *m,
                         const struct msg_layout **lp)
{
    if (len < MSG_HEADER + MSG_TRAILER) {
        return CRAFT_EMALFORMED;
    }
    const struct msg_layout *l = layout_of(buf[5]);
    if (l == NULL || (buf[6] & ~l->flags) != 0 || buf[7] != 0) {
        return CRAFT_EMALFORMED;
    }
    m->type = buf[5];
    m->flags = buf[6];
    m->from = craft_get_u64(buf + 8);
    m->to = craft_get_u64(buf + 16);
    m->term = craft_get_u64(buf + 24);
    if (m->from == CRAFT_NONE || m->to == CRAFT_NONE) {
        return CRAFT_EMALFORMED;
    }
    *lp = l;
    return CRAFT_OK;
}

/* The type's u64 fields; the caller checked that the frame holds them. */
static const uint8_t *decode_fields(const uint8_t *p,
                                   const struct msg_layout *l,
                                   struct craft_msg *m)
{
    for (unsigned i = 0; i < l->n_fields; i++) {
        field_set(m, l->fields[i], craft_get_u64(p));
        p += 8;
    }
    return p;
}

static int reserve_entries(const struct craft_alloc *a,
                           struct craft_entry_vec *vec, size_t n)
{
    /* Through a local void *: craft_grow writes a void *, and storing it
     * straight into a struct craft_entry * object would break aliasing. */
    void *v = vec->v;
    int rv = craft_grow(a, &v, &vec->cap, n, sizeof(struct craft_entry));
    vec->v = v;
    return rv;
}

static int decode_entry(struct reader *r, struct craft_entry *e)
{
    if (rd_left(r) < ENTRY_HEADER) {
        return CRAFT_EMALFORMED;
    }
    e->term = craft_get_u64(r->p);
    e->type = r->p[8];
    e->len = craft_get_u32(r->p + 9);
    e->ref = NULL;
    r->p += ENTRY_HEADER;
    if (!entry_type_known(e->type)) {
        return CRAFT_EMALFORMED;
    }
    if (e->len > CRAFT_MAX_ENTRY_BYTES) {
        return CRAFT_ETOOBIG;
    }
    if (e->len > rd_left(r)) {
        return CRAFT_EMALFORMED;
    }
    e->data = r->p;
    r->p += e->len;
    return CRAFT_OK;
}

static int decode_entries(struct reader *r, struct craft_msg *m,
                          const struct craft_alloc *a,
                          struct craft_entry_vec *scratch)
{
    uint32_t n;
    int rv = rd_u32(r, &n);
    if (rv != CRAFT_OK || n == 0) {
        return rv;
    }
    /* Bound the count by the bytes before trusting it with an
     * allocation: each entry takes at least ENTRY_HEADER bytes. */
    if (n > rd_left(r) / ENTRY_HEADER) {
        return CRAFT_EMALFORMED;
    }
    if (n > scratch->cap) { /* the steady state has room: no call */
        rv = reserve_entries(a, scratch, n);
        if (rv != CRAFT_OK) {
            return rv;
        }
    }
    for (uint32_t i = 0; i < n; i++) {
        rv = decode_entry(r, &scratch->v[i]);
        if (rv != CRAFT_OK) {
            return rv;
        }
    }
    m->entries = scratch->v;
    m->n_entries = n;
    return CRAFT_OK;
}

static int decode_snapshot(struct reader *r, struct craft_msg *m)
{
    int rv = rd_blob(r, CRAFT_CONF_MAX_BYTES, &m->conf, &m->conf_len);
    if (rv != CRAFT_OK) {
        return rv;
    }
    return rd_blob(r, CRAFT_MAX_MESSAGE_BYTES, &m->data, &m->len);
}

static int decode_body(struct reader *r, const struct msg_layout *l,
                       struct craft_msg *m, const struct craft_alloc *a,
                       struct craft_entry_vec *scratch)
{
    int rv = CRAFT_OK;
    if (l->payload == PAYLOAD_ENTRIES) {
        rv = decode_entries(r, m, a, scratch);
    } else if (l->payload == PAYLOAD_SNAPSHOT) {
        rv = decode_snapshot(r, m);
    }
    if (rv != CRAFT_OK) {
        return rv;
    }
    /* The body must fill the frame exactly: no bytes the type cannot
     * account for. */
    return rd_left(r) == 0 ? CRAFT_OK : CRAFT_EMALFORMED;
}

int craft_msg_decode(const uint8_t *buf, size_t len, struct craft_msg *m,
                     const struct craft_alloc *a,
                     struct craft_entry_vec *scratch)
{
    if (buf == NULL || m == NULL || a == NULL || scratch == NULL) {
        return CRAFT_EINVAL;
    }
    int rv = check_frame(buf, len);
    if (rv != CRAFT_OK) {
        return rv;
    }
    craft_msg_clear(m);
    const struct msg_layout *l;
    rv = decode_header(buf, len, m, &l);
    if (rv != CRAFT_OK) {
        return rv;
    }
    /* The fixed part (header, the type's fields, trailer) is checked
     * once: a frame too short for it is what a field read past the end
     * would have found, CRAFT_EMALFORMED. */
    if (len < MSG_HEADER + 8u * l->n_fields + MSG_TRAILER) {
        return CRAFT_EMALFORMED;
    }
    struct reader r = {decode_fields(buf + MSG_HEADER, l, m),
                       buf + len - MSG_TRAILER};
    return decode_body(&r, l, m, a, scratch);
}

int craft_msg_check(const struct craft_msg *m)
{
    if (m == NULL) {
        return CRAFT_EINVAL;
    }
    return craft_msg_encoded_size(m) != 0 ? CRAFT_OK : CRAFT_EMALFORMED;
}

void craft_entry_vec_free(const struct craft_alloc *a,
                          struct craft_entry_vec *vec)
{
    if (a == NULL || vec == NULL) {
        return;
    }
    craft_free(a, vec->v);
    vec->v = NULL;
    vec->cap = 0;
}

/* ---- entry records ----------------------------------------------------- */

size_t craft_entry_record_size(uint32_t payload_len)
{
    if (payload_len > CRAFT_MAX_ENTRY_BYTES) {
        return 0;
    }
    return RECORD_OVERHEAD + (size_t)payload_len;
}

size_t craft_entry_record_encode(uint64_t index, const struct craft_entry *e,
                                 uint8_t *buf)
{
    if (e == NULL || buf == NULL || !entry_type_known(e->type) ||
        (e->len > 0 && e->data == NULL)) {
        return 0;
    }
    size_t size = craft_entry_record_size(e->len);
    if (size == 0) {
        return 0;
    }
    uint8_t *p = craft_put_u32(buf, (uint32_t)size);
    p = craft_put_u8(p, CRAFT_WIRE_VERSION);
    p = craft_put_u8(p, (uint8_t)e->type);
    p = craft_put_u16(p, 0);
    p = craft_put_u64(p, index);
    p = craft_put_u64(p, e->term);
    p = put_bytes(p, e->data, e->len);
    CRAFT_ASSERT(p == buf + size - 4);
    craft_put_u32(p, craft_crc32c(0, buf, size - 4));
    return size;
}

/* Length word, truncation, CRC, version: as for messages. */
static int check_record_frame(const uint8_t *buf, size_t len, size_t *size)
{
    if (len < 4) {
        return CRAFT_EMALFORMED;
    }
    uint32_t total = craft_get_u32(buf);
    if (total < RECORD_OVERHEAD) {
        return CRAFT_EMALFORMED;
    }
    if (total - RECORD_OVERHEAD > CRAFT_MAX_ENTRY_BYTES) {
        return CRAFT_ETOOBIG;
    }
    if (total > len) {
        return CRAFT_EMALFORMED; /* torn: the rest never reached the disk */
    }
    if (craft_crc32c(0, buf, total - 4) != craft_get_u32(buf + total - 4)) {
        return CRAFT_ECHECKSUM;
    }
    if (buf[4] != CRAFT_WIRE_VERSION) {
        return CRAFT_EVERSION;
    }
    *size = total;
    return CRAFT_OK;
}

int craft_entry_record_decode(const uint8_t *buf, size_t len,
                              uint64_t *index, struct craft_entry *e,
                              size_t *consumed)
{
    if (buf == NULL || index == NULL || e == NULL || consumed == NULL) {
        return CRAFT_EINVAL;
    }
    *consumed = 0;
    size_t size;
    int rv = check_record_frame(buf, len, &size);
    if (rv != CRAFT_OK) {
        return rv;
    }
    if (!entry_type_known(buf[5]) || craft_get_u16(buf + 6) != 0) {
        return CRAFT_EMALFORMED;
    }
    *index = craft_get_u64(buf + 8);
    e->term = craft_get_u64(buf + 16);
    e->type = buf[5];
    e->len = (uint32_t)(size - RECORD_OVERHEAD);
    e->data = buf + RECORD_HEADER;
    e->ref = NULL;
    *consumed = size;
    return CRAFT_OK;
}
