/*
 * examples/kv/resp.c: the RESP2 request parser, reply scanner and reply
 * writers of craft-kv. See resp.h for the contract.
 */
#include "resp.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads a decimal number terminated by "\r\n" at buf[*pos..len). A sign
 * is allowed when neg_ok. RESP_MORE when the line is not complete yet,
 * RESP_ERROR when it is not a number or longer than 20 digits. */
static int read_line_num(const char *buf, size_t len, size_t *pos,
                         int neg_ok, int64_t *out)
{
    size_t i = *pos;
    int neg = 0;
    int64_t v = 0;
    size_t digits = 0;
    if (i < len && buf[i] == '-' && neg_ok) {
        neg = 1;
        i++;
    }
    for (; i < len; i++) {
        char c = buf[i];
        if (c == '\r') {
            break;
        }
        if (c < '0' || c > '9' || ++digits > 18) {
            return RESP_ERROR;
        }
        v = v * 10 + (c - '0');
    }
    if (i + 1 >= len) {
        return RESP_MORE;
    }
    if (digits == 0 || buf[i + 1] != '\n') {
        return RESP_ERROR;
    }
    *pos = i + 2;
    *out = neg ? -v : v;
    return RESP_DONE;
}

static int push_arg(resp_req *req, const char *p, size_t n)
{
    if (req->argc == req->cap) {
        size_t cap = req->cap ? req->cap * 2 : 16;
        if (cap > RESP_MAX_ARGS) {
            cap = RESP_MAX_ARGS;
        }
        if (cap <= req->argc) {
            return -1;
        }
        resp_arg *a = realloc(req->argv, cap * sizeof(*a));
        if (a == NULL) {
            return -1;
        }
        req->argv = a;
        req->cap = cap;
    }
    req->argv[req->argc].p = p;
    req->argv[req->argc].len = n;
    req->argc++;
    return 0;
}

static int parse_inline(const char *buf, size_t len, resp_req *req,
                        size_t *used, const char **err)
{
    size_t scan = len < RESP_MAX_INLINE ? len : RESP_MAX_INLINE;
    const char *nl = memchr(buf, '\n', scan);
    if (nl == NULL) {
        if (len >= RESP_MAX_INLINE) {
            *err = "Protocol error: too big inline request";
            return RESP_ERROR;
        }
        return RESP_MORE;
    }
    size_t end = (size_t)(nl - buf);
    size_t line = end > 0 && buf[end - 1] == '\r' ? end - 1 : end;
    size_t i = 0;
    while (i < line) {
        while (i < line && (buf[i] == ' ' || buf[i] == '\t')) {
            i++;
        }
        if (i == line) {
            break;
        }
        size_t s = i;
        while (i < line && buf[i] != ' ' && buf[i] != '\t') {
            i++;
        }
        if (req->argc >= RESP_MAX_ARGS || push_arg(req, buf + s, i - s)) {
            *err = "Protocol error: too many arguments";
            return RESP_ERROR;
        }
    }
    *used = end + 1;
    return RESP_DONE;
}

int resp_parse_request(const char *buf, size_t len, resp_req *req,
                       size_t *used, const char **err)
{
    req->argc = 0;
    *err = NULL;
    if (len == 0) {
        return RESP_MORE;
    }
    if (buf[0] != '*') {
        return parse_inline(buf, len, req, used, err);
    }
    size_t pos = 1;
    int64_t n;
    int rv = read_line_num(buf, len, &pos, 1, &n);
    if (rv == RESP_MORE) {
        if (len > 32) {
            *err = "Protocol error: invalid multibulk length";
            return RESP_ERROR;
        }
        return RESP_MORE;
    }
    if (rv == RESP_ERROR || n > (int64_t)RESP_MAX_ARGS) {
        *err = "Protocol error: invalid multibulk length";
        return RESP_ERROR;
    }
    for (int64_t k = 0; k < n; k++) {
        if (pos >= len) {
            return RESP_MORE;
        }
        if (buf[pos] != '$') {
            *err = "Protocol error: expected '$'";
            return RESP_ERROR;
        }
        size_t hdr = pos;
        pos++;
        int64_t blen;
        rv = read_line_num(buf, len, &pos, 0, &blen);
        if (rv == RESP_MORE) {
            if (len - hdr > 32) {
                *err = "Protocol error: invalid bulk length";
                return RESP_ERROR;
            }
            return RESP_MORE;
        }
        if (rv == RESP_ERROR || blen > (int64_t)RESP_MAX_BULK) {
            *err = "Protocol error: invalid bulk length";
            return RESP_ERROR;
        }
        if (len - pos < (size_t)blen + 2) {
            return RESP_MORE;
        }
        if (buf[pos + (size_t)blen] != '\r' ||
            buf[pos + (size_t)blen + 1] != '\n') {
            *err = "Protocol error: bulk string not followed by CRLF";
            return RESP_ERROR;
        }
        if (push_arg(req, buf + pos, (size_t)blen)) {
            *err = "Protocol error: out of memory";
            return RESP_ERROR;
        }
        pos += (size_t)blen + 2;
    }
    *used = pos;
    return RESP_DONE;
}

void resp_req_free(resp_req *req)
{
    free(req->argv);
    req->argv = NULL;
    req->argc = req->cap = 0;
}

static int scan(const char *buf, size_t len, size_t *pos, int depth)
{
    if (depth > RESP_MAX_DEPTH) {
        return RESP_ERROR;
    }
    if (*pos >= len) {
        return RESP_MORE;
    }
    char t = buf[*pos];
    size_t p = *pos + 1;
    if (t == '+' || t == '-' || t == ':') {
        size_t room = len - p;
        const char *nl = memchr(buf + p, '\n', room);
        if (nl == NULL) {
            return room > RESP_MAX_INLINE ? RESP_ERROR : RESP_MORE;
        }
        size_t e = (size_t)(nl - buf);
        if (e == p || buf[e - 1] != '\r') {
            return RESP_ERROR;
        }
        *pos = e + 1;
        return RESP_DONE;
    }
    if (t != '$' && t != '*') {
        return RESP_ERROR;
    }
    int64_t n;
    int rv = read_line_num(buf, len, &p, 1, &n);
    if (rv != RESP_DONE) {
        return rv == RESP_MORE && len - *pos > 32 ? RESP_ERROR : rv;
    }
    if (n < -1) {
        return RESP_ERROR;
    }
    if (t == '$') {
        if (n > (int64_t)RESP_MAX_BULK) {
            return RESP_ERROR;
        }
        if (n >= 0) {
            if (len - p < (size_t)n + 2) {
                return RESP_MORE;
            }
            if (buf[p + (size_t)n] != '\r' || buf[p + (size_t)n + 1] != '\n') {
                return RESP_ERROR;
            }
            p += (size_t)n + 2;
        }
        *pos = p;
        return RESP_DONE;
    }
    if (n > (int64_t)RESP_MAX_ARGS) {
        return RESP_ERROR;
    }
    for (int64_t k = 0; k < n; k++) {
        rv = scan(buf, len, &p, depth + 1);
        if (rv != RESP_DONE) {
            return rv;
        }
    }
    *pos = p;
    return RESP_DONE;
}

int resp_scan_reply(const char *buf, size_t len, size_t *used)
{
    size_t pos = 0;
    int rv = scan(buf, len, &pos, 0);
    if (rv == RESP_DONE) {
        *used = pos;
    }
    return rv;
}

/* ---- replies --------------------------------------------------------- */

void kvbuf_free(kvbuf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
}

static int kvbuf_room(kvbuf *b, size_t n)
{
    if (b->oom) {
        return -1;
    }
    if (b->cap - b->len >= n) {
        return 0;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < n) {
        if (cap > SIZE_MAX / 2) {
            b->oom = 1;
            return -1;
        }
        cap *= 2;
    }
    char *p = realloc(b->p, cap);
    if (p == NULL) {
        b->oom = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

void kvbuf_put(kvbuf *b, const void *data, size_t len)
{
    if (len == 0 || kvbuf_room(b, len)) {
        return;
    }
    memcpy(b->p + b->len, data, len);
    b->len += len;
}

void kvbuf_printf(kvbuf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0) {
        return;
    }
    if ((size_t)n < sizeof(tmp)) {
        kvbuf_put(b, tmp, (size_t)n);
        return;
    }
    if (kvbuf_room(b, (size_t)n + 1)) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void resp_simple(kvbuf *b, const char *s)
{
    kvbuf_put(b, "+", 1);
    kvbuf_put(b, s, strlen(s));
    kvbuf_put(b, "\r\n", 2);
}

void resp_error(kvbuf *b, const char *s)
{
    kvbuf_put(b, "-", 1);
    kvbuf_put(b, s, strlen(s));
    kvbuf_put(b, "\r\n", 2);
}

void resp_int(kvbuf *b, int64_t v)
{
    kvbuf_printf(b, ":%lld\r\n", (long long)v);
}

void resp_bulk(kvbuf *b, const void *p, size_t n)
{
    kvbuf_printf(b, "$%zu\r\n", n);
    kvbuf_put(b, p, n);
    kvbuf_put(b, "\r\n", 2);
}

void resp_null(kvbuf *b)
{
    kvbuf_put(b, "$-1\r\n", 5);
}

void resp_array(kvbuf *b, size_t n)
{
    kvbuf_printf(b, "*%zu\r\n", n);
}

int resp_parse_i64(const char *p, size_t len, int64_t *out)
{
    if (len == 0 || len > 20) {
        return -1;
    }
    size_t i = 0;
    int neg = 0;
    if (p[0] == '-') {
        neg = 1;
        i = 1;
        if (len == 1) {
            return -1;
        }
    }
    if (p[i] == '0' && len > i + 1) {
        return -1;
    }
    uint64_t v = 0;
    for (; i < len; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return -1;
        }
        unsigned d = (unsigned)(p[i] - '0');
        if (v > (UINT64_MAX - d) / 10) {
            return -1;
        }
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1) {
            return -1;
        }
        if (v == 0 && len > 1) {
            return -1; /* "-0" */
        }
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > (uint64_t)INT64_MAX) {
            return -1;
        }
        *out = (int64_t)v;
    }
    return 0;
}
