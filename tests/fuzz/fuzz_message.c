/*
 * tests/fuzz/fuzz_message.c: the wire decoder of messages and the on-disk
 * entry record decoder.
 *
 * Input: one mode byte, then the bytes to decode. The mode's low bits:
 *
 *   0  the bytes as a message, as they are
 *   1  the bytes as a message with the frame made good first: the length
 *      word set to the size, the version to 1 and the CRC32C recomputed,
 *      so mutations reach the body instead of dying at the checksum
 *   2  the bytes as a run of entry records (a log segment), as they are
 *   3  the same, with each record's CRC recomputed over the length its
 *      length word claims (when the buffer holds that much)
 *
 * Properties: no crash, no sanitizer report, only documented error codes;
 * whatever decodes re-encodes to exactly the input bytes (the format has
 * one encoding per message, so a decoder that accepts anything else has
 * ignored a byte).
 */
#include "fuzz.h"

#include "codec/crc32c.h"
#include "codec/le.h"
#include "codec/message.h"

static int known_error(int rv)
{
    return rv == CRAFT_EMALFORMED || rv == CRAFT_ECHECKSUM ||
           rv == CRAFT_EVERSION || rv == CRAFT_ETOOBIG;
}

static void message(const uint8_t *buf, size_t len)
{
    struct craft_alloc a;
    struct craft_entry_vec scratch = {NULL, 0};
    struct craft_msg m;
    craft_alloc_default(&a);

    /* The stream framing agrees with the decoder on the length. */
    size_t frame = 0;
    int frv = craft_msg_frame_size(buf, len, &frame);

    int rv = craft_msg_decode(buf, len, &m, &a, &scratch);
    if (rv != CRAFT_OK) {
        FUZZ_CHECK(known_error(rv), "message decode returned %d", rv);
        craft_entry_vec_free(&a, &scratch);
        return;
    }
    FUZZ_CHECK(frv == CRAFT_OK && frame == len,
               "decoded a %zu-byte message whose frame says %zu (rv %d)", len,
               frame, frv);
    FUZZ_CHECK(m.from != 0 && m.to != 0, "decoded a zero from/to");
    FUZZ_CHECK(craft_msg_check(&m) == CRAFT_OK,
               "decoded message type %u fails craft_msg_check", m.type);
    size_t size = craft_msg_encoded_size(&m);
    FUZZ_CHECK(size == len, "re-encoded size %zu != input %zu", size, len);
    uint8_t *out = malloc(size);
    FUZZ_CHECK(out != NULL, "out of memory");
    FUZZ_CHECK(craft_msg_encode(&m, out) == size, "encode wrote a bad size");
    FUZZ_CHECK(memcmp(out, buf, len) == 0,
               "message type %u decodes but does not re-encode to its bytes",
               m.type);
    free(out);
    craft_entry_vec_free(&a, &scratch);
}

static void records(const uint8_t *buf, size_t len)
{
    size_t off = 0;
    while (off < len) {
        uint64_t index;
        struct craft_entry e;
        size_t used;
        int rv = craft_entry_record_decode(buf + off, len - off, &index, &e,
                                           &used);
        if (rv != CRAFT_OK) {
            FUZZ_CHECK(known_error(rv), "record decode returned %d", rv);
            FUZZ_CHECK(used == 0, "a failed decode consumed %zu", used);
            return;
        }
        FUZZ_CHECK(used > 0 && used <= len - off, "consumed %zu of %zu",
                   used, len - off);
        FUZZ_CHECK(used == craft_entry_record_size(e.len),
                   "record of %u payload bytes took %zu", e.len, used);
        FUZZ_CHECK(e.data == buf + off + 24, "payload not in place");
        uint8_t *out = malloc(used);
        FUZZ_CHECK(out != NULL, "out of memory");
        FUZZ_CHECK(craft_entry_record_encode(index, &e, out) == used,
                   "a decoded record does not encode");
        FUZZ_CHECK(memcmp(out, buf + off, used) == 0,
                   "record does not re-encode to its bytes");
        free(out);
        off += used;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    unsigned mode = data[0] & 3u;
    size_t len = size - 1;
    /* A private copy: the fixing modes write to it, and ASan catches a
     * read past its end. */
    uint8_t *buf = malloc(len ? len : 1);
    if (buf == NULL) {
        return 0;
    }
    if (len > 0) {
        memcpy(buf, data + 1, len);
    }
    switch (mode) {
    case 0:
        message(buf, len);
        break;
    case 1:
        if (len >= 9) {
            craft_put_u32(buf, (uint32_t)len);
            buf[4] = CRAFT_WIRE_VERSION;
            craft_put_u32(buf + len - 4, craft_crc32c(0, buf, len - 4));
        }
        message(buf, len);
        break;
    case 2:
        records(buf, len);
        break;
    default:
        for (size_t off = 0; off + 28 <= len;) {
            uint32_t total = craft_get_u32(buf + off);
            if (total < 28 || total > len - off) {
                break;
            }
            craft_put_u32(buf + off + total - 4,
                          craft_crc32c(0, buf + off, total - 4));
            off += total;
        }
        records(buf, len);
        break;
    }
    free(buf);
    return 0;
}
