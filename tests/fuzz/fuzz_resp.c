/*
 * tests/fuzz/fuzz_resp.c: craft-kv's RESP2 request parser and reply
 * scanner (examples/kv/resp.c, built into this target: the library does
 * not contain it).
 *
 * Input: the bytes a client sends on one connection. They are parsed
 * request after request, the way craft-kv's event loop does (pipelining),
 * until the parser needs more bytes or reports an error; the same bytes
 * also go through the reply scanner, which a follower runs on what its
 * leader answers.
 *
 * Properties: no crash, no sanitizer report, no read outside the bytes
 * given; a parsed request is not empty (used > 0), lies inside the input,
 * has at most RESP_MAX_ARGS arguments, each inside the request and at
 * most RESP_MAX_BULK bytes; every strict prefix of it is incomplete
 * (RESP_MORE), never an error or another request; its arguments written
 * back as a RESP array parse to exactly the same arguments; an argument
 * resp_parse_i64() accepts is the canonical decimal of its value. The
 * reply scanner's used lies inside the input and is not 0.
 */
#include "fuzz.h"

#include <inttypes.h>

#include "resp.h"

#define MAX_REQUESTS 64 /* per input: keeps each run short */

/* The strict prefixes checked per request: a few, not all (quadratic). */
static void check_prefixes(const char *buf, size_t used, resp_req *tmp)
{
    size_t cuts[4] = {0, used / 2, used > 2 ? used - 2 : 0, used - 1};
    for (size_t k = 0; k < 4; k++) {
        size_t u = 0;
        const char *err = NULL;
        int rv = resp_parse_request(buf, cuts[k], tmp, &u, &err);
        FUZZ_CHECK(rv == RESP_MORE,
                   "a prefix of %zu bytes of a %zu-byte request: %d (%s)",
                   cuts[k], used, rv, err ? err : "-");
    }
}

/* Writes argv back as a RESP array of bulk strings and parses it. */
static void check_roundtrip(const resp_req *req, resp_req *tmp)
{
    kvbuf b = {0};
    resp_array(&b, req->argc);
    for (size_t i = 0; i < req->argc; i++) {
        resp_bulk(&b, req->argv[i].p, req->argv[i].len);
    }
    if (b.oom) {
        kvbuf_free(&b);
        return;
    }
    size_t used = 0;
    const char *err = NULL;
    int rv = resp_parse_request(b.p, b.len, tmp, &used, &err);
    FUZZ_CHECK(rv == RESP_DONE && used == b.len,
               "the re-encoded request (%zu arguments, %zu bytes) parses "
               "to %d, used %zu (%s)",
               req->argc, b.len, rv, used, err ? err : "-");
    FUZZ_CHECK(tmp->argc == req->argc, "argc %zu after the round trip, %zu",
               tmp->argc, req->argc);
    for (size_t i = 0; i < req->argc; i++) {
        FUZZ_CHECK(tmp->argv[i].len == req->argv[i].len &&
                       (req->argv[i].len == 0 ||
                        memcmp(tmp->argv[i].p, req->argv[i].p,
                               req->argv[i].len) == 0),
                   "argument %zu differs after the round trip", i);
    }
    kvbuf_free(&b);
}

static void check_numbers(const resp_req *req)
{
    for (size_t i = 0; i < req->argc; i++) {
        int64_t v;
        if (resp_parse_i64(req->argv[i].p, req->argv[i].len, &v) != 0) {
            continue;
        }
        char txt[32];
        int n = snprintf(txt, sizeof(txt), "%" PRId64, v);
        FUZZ_CHECK(n > 0 && (size_t)n == req->argv[i].len &&
                       memcmp(txt, req->argv[i].p, (size_t)n) == 0,
                   "argument %zu parses to %s, not its canonical form", i,
                   txt);
    }
}

static void parse_stream(const char *buf, size_t len)
{
    resp_req req = {0};
    resp_req tmp = {0};
    size_t off = 0;
    for (int k = 0; k < MAX_REQUESTS && off < len; k++) {
        size_t used = 0;
        const char *err = NULL;
        int rv = resp_parse_request(buf + off, len - off, &req, &used, &err);
        if (rv == RESP_ERROR) {
            FUZZ_CHECK(err != NULL && err[0] != '\0',
                       "an error without a message");
            break;
        }
        if (rv == RESP_MORE) {
            break;
        }
        FUZZ_CHECK(rv == RESP_DONE, "resp_parse_request returned %d", rv);
        FUZZ_CHECK(used > 0 && used <= len - off,
                   "used %zu of %zu bytes", used, len - off);
        FUZZ_CHECK(req.argc <= RESP_MAX_ARGS, "%zu arguments", req.argc);
        for (size_t i = 0; i < req.argc; i++) {
            const char *p = req.argv[i].p;
            size_t n = req.argv[i].len;
            FUZZ_CHECK(n <= RESP_MAX_BULK, "argument %zu: %zu bytes", i, n);
            FUZZ_CHECK(n == 0 || (p >= buf + off && p + n <= buf + off + used),
                       "argument %zu lies outside its request", i);
        }
        /* the checks below reuse tmp; req stays as parsed */
        check_numbers(&req);
        check_roundtrip(&req, &tmp);
        check_prefixes(buf + off, used, &tmp);
        off += used;
    }
    resp_req_free(&req);
    resp_req_free(&tmp);
}

static void scan_stream(const char *buf, size_t len)
{
    size_t off = 0;
    for (int k = 0; k < MAX_REQUESTS && off < len; k++) {
        size_t used = 0;
        int rv = resp_scan_reply(buf + off, len - off, &used);
        if (rv != RESP_DONE) {
            FUZZ_CHECK(rv == RESP_MORE || rv == RESP_ERROR,
                       "resp_scan_reply returned %d", rv);
            break;
        }
        FUZZ_CHECK(used > 0 && used <= len - off, "reply: used %zu of %zu",
                   used, len - off);
        off += used;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A copy of exactly size bytes: ASan sees any read past them. */
    char *buf = malloc(size > 0 ? size : 1);
    if (buf == NULL) {
        return 0;
    }
    if (size > 0) {
        memcpy(buf, data, size);
    }
    parse_stream(buf, size);
    scan_stream(buf, size);
    free(buf);
    return 0;
}
