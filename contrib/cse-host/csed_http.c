/*
 * saef-csed: the oneM2M HTTP binding (TS-0009) on a TLS connection whose handshake csed_tls.c
 * completed.  Bytes move through a bufferevent_openssl opened in BUFFEREVENT_SSL_OPEN state;
 * requests are parsed by http-parser (no hand-written HTTP parsing); responses are formatted
 * here, as TS-0009 wants them: a status line without reason phrase, X-M2M-RSC always,
 * X-M2M-RI echoed, X-M2M-RVI in the requester's release, Content-Type and Content-Length.
 *
 * Requests are served synchronously in on_message_complete, so pipelined requests get their
 * responses in order.  Limits: URL 4 KiB, each oneM2M header 1 KiB, body 64 KiB; a request
 * over a limit gets 4000 and the connection is closed after the response.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <http_parser.h>
#include <openssl/ssl.h>

#include "csed.h"

#define URL_MAX 4096
#define HDR_MAX 1024
#define BODY_MAX (64 * 1024)
#define OUT_HIGH (256 * 1024) /* stop reading while this much output waits (pipelining) */

enum { H_ORIGIN, H_RI, H_RVI, H_CONTENT_TYPE, H_ACCEPT, H_EXPECT, H_COUNT };
static const char *const hdr_names[H_COUNT] = {
    [H_ORIGIN] = "X-M2M-Origin",       [H_RI] = "X-M2M-RI",   [H_RVI] = "X-M2M-RVI",
    [H_CONTENT_TYPE] = "Content-Type", [H_ACCEPT] = "Accept", [H_EXPECT] = "Expect",
};

typedef struct buf {
    char *p; /* owned, NUL-terminated when len > 0 */
    size_t len;
} buf_t;

struct csed_http {
    http_parser parser;
    buf_t url;
    char field[32]; /* the header name being read; longer names are none of ours */
    size_t field_len;
    int in_value; /* the last callback was a header value */
    int target;   /* H_* receiving the value, or -1 */
    buf_t hdr[H_COUNT];
    int seen[H_COUNT];
    buf_t body;
    const char *bad; /* why this request is refused with 4000, or NULL */
    int closing;     /* no more requests: close once the output is written */
    int clean;       /* no transport error: send close_notify before closing */
};

static int append(buf_t *b, const char *at, size_t n, size_t max)
{
    char *g;

    if (b->len + n > max)
        return -1;
    g = realloc(b->p, b->len + n + 1);
    if (g == NULL)
        return -1;
    memcpy(g + b->len, at, n);
    b->len += n;
    g[b->len] = '\0';
    b->p = g;
    return 0;
}

static void buf_free(buf_t *b)
{
    free(b->p);
    b->p = NULL;
    b->len = 0;
}

static void request_reset(struct csed_http *h)
{
    int i;

    buf_free(&h->url);
    buf_free(&h->body);
    for (i = 0; i < H_COUNT; i++) {
        buf_free(&h->hdr[i]);
        h->seen[i] = 0;
    }
    h->field_len = 0;
    h->in_value = 0;
    h->target = -1;
    h->bad = NULL;
}

/* ---- http-parser callbacks ---- */

static struct csed_http *http_of(http_parser *p)
{
    return ((csed_conn_t *)p->data)->http;
}

static int on_message_begin(http_parser *p)
{
    request_reset(http_of(p));
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
    struct csed_http *h = http_of(p);

    if (append(&h->url, at, n, URL_MAX) != 0 && h->bad == NULL)
        h->bad = "request target longer than 4096 bytes";
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
    struct csed_http *h = http_of(p);

    if (h->in_value) {
        h->in_value = 0;
        h->field_len = 0;
    }
    if (h->field_len + n < sizeof(h->field)) {
        memcpy(h->field + h->field_len, at, n);
        h->field_len += n;
    } else {
        h->field_len = sizeof(h->field); /* too long for any header we read */
    }
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
    struct csed_http *h = http_of(p);
    int i;

    if (!h->in_value) {
        h->in_value = 1;
        h->target = -1;
        for (i = 0; i < H_COUNT && h->field_len < sizeof(h->field); i++) {
            if (strlen(hdr_names[i]) == h->field_len &&
                strncasecmp(hdr_names[i], h->field, h->field_len) == 0) {
                if (h->seen[i] && h->bad == NULL)
                    h->bad = "a oneM2M header is repeated";
                h->target = h->seen[i] ? -1 : i;
                h->seen[i] = 1;
            }
        }
    }
    if (h->target >= 0 && append(&h->hdr[h->target], at, n, HDR_MAX) != 0 && h->bad == NULL)
        h->bad = "header value longer than 1024 bytes";
    return 0;
}

static void write_raw(csed_conn_t *c, const char *s)
{
    evbuffer_add(bufferevent_get_output(c->bev), s, strlen(s));
}

static int on_headers_complete(http_parser *p)
{
    csed_conn_t *c = p->data;
    struct csed_http *h = c->http;

    /* curl and others wait for this before a larger body. */
    if (h->bad == NULL && h->hdr[H_EXPECT].p != NULL &&
        strcasecmp(h->hdr[H_EXPECT].p, "100-continue") == 0)
        write_raw(c, "HTTP/1.1 100 Continue\r\n\r\n");
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    struct csed_http *h = http_of(p);

    if (h->bad == NULL && append(&h->body, at, n, BODY_MAX) != 0)
        h->bad = "body larger than 64 KiB";
    return 0;
}

/* ---- one request ---- */

/* Path -> To (TS-0009 Table 6.2.2.1-1): "/~/x" SP-relative "/x", "/_/x" absolute "//x",
 * "/x" CSE-relative "x".  Percent-decoded; NULL when malformed. */
static char *path_to_to(const char *path, size_t len)
{
    char *out = malloc(len + 2), *o = out;
    size_t i = 0;

    if (out == NULL)
        return NULL;
    if (len >= 2 && path[1] == '~' && (len == 2 || path[2] == '/')) {
        i = 2;
    } else if (len >= 2 && path[1] == '_' && (len == 2 || path[2] == '/')) {
        *o++ = '/';
        i = 2;
    } else {
        i = 1;
    }
    for (; i < len; i++) {
        if (path[i] == '%') {
            int hi = i + 2 < len ? csed_hex_value((unsigned char)path[i + 1]) : -1;
            int lo = i + 2 < len ? csed_hex_value((unsigned char)path[i + 2]) : -1;

            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                free(out);
                return NULL;
            }
            *o++ = (char)(hi << 4 | lo);
            i += 2;
        } else {
            *o++ = path[i];
        }
    }
    *o = '\0';
    return out;
}

static int has_ty_param(const char *ct)
{
    const char *p = ct;

    while ((p = strchr(p, ';')) != NULL) {
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        if (strncasecmp(p, "ty=", 3) == 0)
            return 1;
    }
    return 0;
}

static int contains_nocase(const char *hay, const char *needle)
{
    size_t n = strlen(needle);

    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return 1;
    return 0;
}

/* We answer JSON only; no Accept header accepts anything. */
static int accepts_json(const char *accept)
{
    return accept == NULL || contains_nocase(accept, "json") || strstr(accept, "*/*") != NULL ||
           contains_nocase(accept, "application/*");
}

static int printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 0;
    return 1;
}

static void write_response(csed_conn_t *c, const csed_rsp_t *rsp, const char *rqi, int head)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);

    evbuffer_add_printf(out, "HTTP/1.1 %d \r\nX-M2M-RSC: %d\r\n", csed_rsc_http(rsp->rsc),
                        rsp->rsc);
    if (rqi != NULL)
        evbuffer_add_printf(out, "X-M2M-RI: %s\r\n", rqi);
    if (rsp->rvi != NULL)
        evbuffer_add_printf(out, "X-M2M-RVI: %s\r\n", rsp->rvi);
    if (rsp->body != NULL)
        evbuffer_add_printf(out, "Content-Type: %s\r\n", rsp->content_type);
    evbuffer_add_printf(out, "Content-Length: %zu\r\n%s\r\n", rsp->body_len,
                        c->http->closing ? "Connection: close\r\n" : "");
    if (rsp->body != NULL && !head)
        evbuffer_add(out, rsp->body, rsp->body_len);
}

static int on_message_complete(http_parser *p)
{
    csed_conn_t *c = p->data;
    struct csed_http *h = c->http;
    struct http_parser_url u;
    csed_req_t req = {0};
    csed_rsp_t rsp = {0};
    char *to = NULL, *query = NULL;
    const char *rqi = h->hdr[H_RI].p;

    if (!http_should_keep_alive(p))
        h->closing = 1;
    http_parser_url_init(&u);
    if (h->bad == NULL &&
        (h->url.p == NULL || http_parser_parse_url(h->url.p, h->url.len, 0, &u) != 0 ||
         !(u.field_set & (1 << UF_PATH))))
        h->bad = "malformed request target";
    if (h->bad == NULL) {
        to = path_to_to(h->url.p + u.field_data[UF_PATH].off, u.field_data[UF_PATH].len);
        if (u.field_set & (1 << UF_QUERY))
            query = strndup(h->url.p + u.field_data[UF_QUERY].off, u.field_data[UF_QUERY].len);
        if (to == NULL)
            h->bad = "malformed percent-encoding in the path";
    }
    if (h->bad == NULL && ((rqi != NULL && !printable(rqi)) ||
                           (h->hdr[H_ORIGIN].p != NULL && !printable(h->hdr[H_ORIGIN].p))))
        h->bad = "control characters in X-M2M-RI or X-M2M-Origin";
    if (rqi != NULL && !printable(rqi))
        rqi = NULL; /* never echo what could break the response header */
    if (h->bad != NULL) {
        csed_rsp_dbg(&rsp, 4000, h->bad);
        csed_count_rsc(c->srv, rsp.rsc);
        h->closing = 1; /* the stream may be out of step with the framing */
    } else {
        switch (p->method) {
        case HTTP_GET:
            req.op = SAEF_OP_RETRIEVE;
            break;
        case HTTP_PUT:
            req.op = SAEF_OP_UPDATE;
            break;
        case HTTP_DELETE:
            req.op = SAEF_OP_DELETE;
            break;
        case HTTP_POST:
            /* TS-0009 6.2.1: only a Create carries ty= in Content-Type. */
            req.op = h->hdr[H_CONTENT_TYPE].p && has_ty_param(h->hdr[H_CONTENT_TYPE].p)
                         ? SAEF_OP_CREATE
                         : SAEF_OP_NOTIFY;
            break;
        default:
            req.op = 0;
        }
        req.to = to;
        req.query = query;
        req.from = h->hdr[H_ORIGIN].p;
        req.rqi = rqi;
        req.rvi = h->hdr[H_RVI].p;
        req.body = h->body.p;
        req.body_len = h->body.len;
        req.accept_ok = accepts_json(h->hdr[H_ACCEPT].p);
        csed_onem2m_handle(c->srv, &c->peer, &req, &rsp);
    }
    write_response(c, &rsp, rqi, p->method == HTTP_HEAD);
    csed_log(c->srv, SAEF_LOG_DEBUG, "tls %s: %s %s From %s -> %d", c->peer.addr,
             http_method_str(p->method), h->url.p ? h->url.p : "-", req.from ? req.from : "-",
             rsp.rsc);
    csed_rsp_clear(&rsp);
    free(to);
    free(query);
    request_reset(h);
    if (h->closing)
        http_parser_pause(p, 1); /* ignore whatever follows */
    return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* ---- bufferevent ---- */

static void protocol_error(csed_conn_t *c, const char *what)
{
    csed_rsp_t rsp = {0};

    csed_log(c->srv, SAEF_LOG_INFO, "tls %s: bad HTTP: %s", c->peer.addr, what);
    c->http->closing = 1;
    csed_rsp_dbg(&rsp, 4000, "malformed HTTP request");
    csed_count_rsc(c->srv, rsp.rsc);
    write_response(c, &rsp, NULL, 0);
    csed_rsp_clear(&rsp);
}

/* Close when nothing is left to write; otherwise write_cb does it. */
static void maybe_close(csed_conn_t *c)
{
    if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
        csed_conn_free(c);
}

static void read_cb(struct bufferevent *bev, void *arg)
{
    csed_conn_t *c = arg;
    struct csed_http *h = c->http;
    struct evbuffer *in = bufferevent_get_input(bev);
    struct evbuffer_iovec v;
    size_t n;
    enum http_errno e;

    while (!h->closing && evbuffer_peek(in, -1, NULL, &v, 1) == 1 && v.iov_len > 0) {
        n = http_parser_execute(&h->parser, &settings, v.iov_base, v.iov_len);
        e = HTTP_PARSER_ERRNO(&h->parser);
        evbuffer_drain(in, e == HPE_OK ? v.iov_len : n);
        if (e != HPE_OK && e != HPE_PAUSED)
            protocol_error(c, http_errno_description(e));
    }
    if (h->closing) {
        bufferevent_disable(bev, EV_READ);
        maybe_close(c);
    } else if (evbuffer_get_length(bufferevent_get_output(bev)) > OUT_HIGH) {
        bufferevent_disable(bev, EV_READ); /* a client that sends but does not read */
    }
}

static void write_cb(struct bufferevent *bev, void *arg)
{
    csed_conn_t *c = arg;

    if (c->http->closing) {
        csed_conn_free(c);
    } else if (!(bufferevent_get_enabled(bev) & EV_READ)) {
        bufferevent_enable(bev, EV_READ);
        read_cb(bev, c); /* input may have waited while reading was off */
    }
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
    csed_conn_t *c = arg;

    (void)bev;
    if (what & BEV_EVENT_TIMEOUT)
        csed_log(c->srv, SAEF_LOG_DEBUG, "tls %s: idle timeout", c->peer.addr);
    if (what & BEV_EVENT_ERROR)
        c->http->clean = 0;
    csed_conn_free(c);
}

int csed_http_start(csed_conn_t *c)
{
    csed_t *srv = c->srv;
    struct timeval idle = {srv->cfg.idle_timeout_s, 0};
    struct csed_http *h = calloc(1, sizeof(*h));

    if (h == NULL)
        return -1;
    http_parser_init(&h->parser, HTTP_REQUEST);
    h->parser.data = c;
    h->target = -1;
    h->clean = 1;
    c->bev = bufferevent_openssl_socket_new(srv->base, c->fd, c->ssl, BUFFEREVENT_SSL_OPEN,
                                            BEV_OPT_CLOSE_ON_FREE);
    if (c->bev == NULL) {
        free(h);
        return -1;
    }
    c->http = h;
    /* A peer closing TCP without close_notify is the end of its requests, not an attack on
     * them: every request is framed by http-parser anyway. */
    bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
    bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
    bufferevent_set_timeouts(c->bev, &idle, &idle);
    /* On failure c->bev is set: the caller's csed_conn_free() releases it with the SSL. */
    return bufferevent_enable(c->bev, EV_READ) == 0 ? 0 : -1;
}

void csed_http_free(csed_conn_t *c)
{
    struct csed_http *h = c->http;

    if (c->bev != NULL) {
        /* One best-effort close_notify; the socket is non-blocking and nothing pauses. */
        if (h != NULL && h->clean)
            SSL_shutdown(bufferevent_openssl_get_ssl(c->bev));
        bufferevent_free(c->bev); /* frees the SSL and closes the socket */
    }
    c->bev = NULL;
    c->ssl = NULL;
    c->fd = -1;
    if (h != NULL) {
        request_reset(h);
        free(h);
    }
    c->http = NULL;
}
