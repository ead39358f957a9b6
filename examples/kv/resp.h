/*
 * examples/kv/resp.h: the RESP2 protocol, both ways, for craft-kv.
 *
 * The request parser takes bytes a client sent and never trusts them:
 * every length is bounded (the limits below), nothing is read past the
 * bytes given, a malformed or oversized request is an error with a
 * message for the client (which craft-kv then disconnects), and memory
 * use is bounded by the limits. The reply scanner does the same for the
 * replies of another craft-kv (the leader a follower forwards to).
 */
#ifndef CRAFT_KV_RESP_H
#define CRAFT_KV_RESP_H

#include <stddef.h>
#include <stdint.h>

/* Limits of one request. */
#define RESP_MAX_ARGS 65536u               /* arguments of one command */
#define RESP_MAX_BULK (4u * 1024u * 1024u)  /* bytes of one argument */
#define RESP_MAX_INLINE (64u * 1024u)       /* an inline command's line */
#define RESP_MAX_DEPTH 8                    /* nesting of a reply */

enum { RESP_ERROR = -1, RESP_MORE = 0, RESP_DONE = 1 };

typedef struct resp_arg {
    const char *p; /* into the caller's buffer */
    size_t len;
} resp_arg;

typedef struct resp_req {
    resp_arg *argv; /* grown as arguments are parsed, at most
                       RESP_MAX_ARGS */
    size_t argc;
    size_t cap;
} resp_req;

/*
 * Parses one request at the start of buf[0..len): a RESP array of bulk
 * strings ("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n") or an inline command
 * ("GET k\r\n", words split on spaces and tabs). RESP_DONE: req->argv
 * points into buf (valid while buf is) and *used is the request's
 * length; an empty inline line or "*0" gives argc 0. RESP_MORE: the
 * request is incomplete (nothing kept: call again with more bytes).
 * RESP_ERROR: *err is a static message ("Protocol error: ...").
 * Allocation failure is RESP_ERROR too.
 */
int resp_parse_request(const char *buf, size_t len, resp_req *req,
                       size_t *used, const char **err);
void resp_req_free(resp_req *req);

/*
 * Scans one complete reply at the start of buf: RESP_DONE with its
 * length in *used, RESP_MORE, or RESP_ERROR (a malformed reply, a bulk
 * over RESP_MAX_BULK, nesting over RESP_MAX_DEPTH).
 */
int resp_scan_reply(const char *buf, size_t len, size_t *used);

/* A growable byte buffer for replies. */
typedef struct kvbuf {
    char *p;
    size_t len;
    size_t cap;
    int oom; /* an append failed: the content is incomplete */
} kvbuf;

void kvbuf_free(kvbuf *b);
void kvbuf_put(kvbuf *b, const void *data, size_t len);
void kvbuf_printf(kvbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void resp_simple(kvbuf *b, const char *s);          /* "+s\r\n" */
void resp_error(kvbuf *b, const char *s);           /* "-s\r\n" */
void resp_int(kvbuf *b, int64_t v);                 /* ":v\r\n" */
void resp_bulk(kvbuf *b, const void *p, size_t n);  /* "$n\r\n...\r\n" */
void resp_null(kvbuf *b);                           /* "$-1\r\n" */
void resp_array(kvbuf *b, size_t n);                /* "*n\r\n" */

/* Strict decimal parse of a whole argument (redis's rules: no spaces,
 * no "+", no leading zeros, fits int64). 0 on success, -1 otherwise. */
int resp_parse_i64(const char *p, size_t len, int64_t *out);

#endif
