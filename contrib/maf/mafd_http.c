/*
 * HTTP side of saef-mafd: routing, the request checks of docs/maf-binding.md 5.5 steps 2-6 in
 * exactly that order, the response headers of 5.2 and the per-request log line.  Steps 7-10
 * belong to the procedures (mafd_proc.c).
 */
#include <config.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>

#include "mafd.h"
#include "saef_id.h"

typedef void (*proc_fn_t)(const mafd_req_t *r, mafd_resp_t *out);

typedef struct op {
    enum evhttp_cmd_type method;
    int proc; /* mafd_proc_id_t, or -1 for the stats extension */
    proc_fn_t fn;
} op_t;

typedef struct endpoint {
    const char *path; /* after the base path; with has_id, the prefix before the ID */
    bool has_id;
    const char *allow;
    size_t n_ops;
    op_t ops[2];
} endpoint_t;

static const endpoint_t endpoints[] = {
    {"/health", false, "GET", 1, {{EVHTTP_REQ_GET, MAFD_P_HEALTH, mafd_proc_health}}},
    {"/stats", false, "GET", 1, {{EVHTTP_REQ_GET, -1, mafd_proc_stats}}},
    {"/clientRegistrations", false, "POST", 1, {{EVHTTP_REQ_POST, MAFD_P_CREG, mafd_proc_creg}}},
    {"/clientRegistrations/",
     true,
     "PUT, DELETE",
     2,
     {{EVHTTP_REQ_PUT, MAFD_P_CREG_UPDATE, mafd_proc_creg_update},
      {EVHTTP_REQ_DELETE, MAFD_P_CREG_DELETE, mafd_proc_creg_delete}}},
    {"/keyRegistrations", false, "POST", 1, {{EVHTTP_REQ_POST, MAFD_P_KREG, mafd_proc_kreg}}},
    {"/keyRegistrations/",
     true,
     "PUT, DELETE",
     2,
     {{EVHTTP_REQ_PUT, MAFD_P_KREG_UPDATE, mafd_proc_kreg_update},
      {EVHTTP_REQ_DELETE, MAFD_P_KREG_DELETE, mafd_proc_kreg_delete}}},
    {"/keyRetrieval", false, "POST", 1, {{EVHTTP_REQ_POST, MAFD_P_KRETRIEVE, mafd_proc_kretrieve}}},
};

/* What the checks found out, for the response and the log line. */
typedef struct exchange {
    const endpoint_t *ep; /* NULL: no endpoint matched */
    const op_t *op;       /* NULL: method not allowed */
    char path[256];       /* sanitized, for the log */
    const char *ri;       /* valid X-M2M-RI to echo, or NULL */
    const char *origin;   /* X-M2M-Origin as received, or NULL */
    bool close;           /* close the connection after the response */
    json_t *body;         /* owned: the parsed request body */
} exchange_t;

void mafd_sanitize(const char *s, size_t len, char *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; s != NULL && i < len && n + 1 < max; i++)
        out[n++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    if (max > 0)
        out[n] = '\0';
}

void mafd_resp_error(mafd_resp_t *r, int rsc, const char *fmt, ...)
{
    va_list ap;
    r->rsc = rsc;
    va_start(ap, fmt);
    vsnprintf(r->dbg, sizeof(r->dbg), fmt, ap);
    va_end(ap);
}

static int http_status(int rsc)
{
    switch (rsc) {
    case 2000:
    case 2002:
    case 2004:
        return 200;
    case 2001:
        return 201;
    case 4000:
        return 400;
    case 4001:
        return 501;
    case 4004:
        return 404;
    case 4005:
        return 405;
    case 4015:
        return 415;
    case 4103:
    case 4106:
        return 403;
    case 4105:
        return 409;
    default:
        return 500;
    }
}

/* Number of occurrences of a header (case-insensitive name); *value: the first. */
static int header_get(struct evkeyvalq *h, const char *name, const char **value)
{
    int n = 0;
    *value = NULL;
    for (struct evkeyval *kv = h->tqh_first; kv != NULL; kv = kv->next.tqe_next) {
        if (strcasecmp(kv->key, name) == 0) {
            if (n++ == 0)
                *value = kv->value;
        }
    }
    return n;
}

/* 1-128 characters of visible ASCII (5.1). */
static bool ri_valid(const char *s)
{
    size_t len = strlen(s);
    if (len < 1 || len > 128)
        return false;
    for (size_t i = 0; i < len; i++)
        if (s[i] < 0x21 || s[i] > 0x7e)
            return false;
    return true;
}

static const char *skip_ows(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* "application/json" [OWS ";" OWS "charset" "=" ("utf-8" / quoted "utf-8")] OWS (5.1). */
static bool content_type_ok(const char *v)
{
    static const char mt[] = "application/json";
    v = skip_ows(v);
    if (strncasecmp(v, mt, sizeof(mt) - 1) != 0)
        return false;
    v = skip_ows(v + sizeof(mt) - 1);
    if (*v == '\0')
        return true;
    if (*v != ';')
        return false;
    v = skip_ows(v + 1);
    if (strncasecmp(v, "charset=", 8) != 0)
        return false;
    v += 8;
    if (strncasecmp(v, "utf-8", 5) == 0)
        v += 5;
    else if (strncasecmp(v, "\"utf-8\"", 7) == 0)
        v += 7;
    else
        return false;
    return *skip_ows(v) == '\0';
}

static bool peer_is_loopback(struct evhttp_request *req)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    const struct sockaddr *sa = evcon ? evhttp_connection_get_addr(evcon) : NULL;
    if (sa == NULL)
        return false;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
    }
    return false;
}

static const char *method_name(enum evhttp_cmd_type m)
{
    /* evhttp_cmd_type is a bit set in this order. */
    static const char *const names[] = {"GET",     "POST",  "HEAD",    "PUT",  "DELETE",
                                        "OPTIONS", "TRACE", "CONNECT", "PATCH"};
    for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (m == (enum evhttp_cmd_type)(1u << i))
            return names[i];
    return "?";
}

/* Step 2: endpoint, method, query. */
static bool route(struct evhttp_request *req, const mafd_t *d, exchange_t *x, mafd_req_t *r,
                  mafd_resp_t *out)
{
    const char *uri = evhttp_request_get_uri(req);
    size_t plen = strcspn(uri, "?");
    mafd_sanitize(uri, plen, x->path, sizeof(x->path));
    size_t blen = strlen(d->cfg.base_path);
    if (plen >= blen && strncmp(uri, d->cfg.base_path, blen) == 0) {
        const char *rest = uri + blen;
        size_t rlen = plen - blen;
        for (size_t i = 0; i < sizeof(endpoints) / sizeof(endpoints[0]); i++) {
            const endpoint_t *ep = &endpoints[i];
            size_t elen = strlen(ep->path);
            if (!ep->has_id && rlen == elen && strncmp(rest, ep->path, elen) == 0) {
                x->ep = ep;
                break;
            }
            if (ep->has_id && rlen > elen && strncmp(rest, ep->path, elen) == 0 &&
                mafd_id_syntax_ok(rest + elen, rlen - elen)) {
                x->ep = ep;
                r->path_id = rest + elen; /* ends at the '?' or NUL; copied below */
                break;
            }
        }
    }
    /* The stats extension exists only for loopback peers. */
    if (x->ep != NULL && x->ep->ops[0].proc < 0 && !peer_is_loopback(req))
        x->ep = NULL;
    if (x->ep == NULL) {
        mafd_resp_error(out, 4004, "no such resource");
        return false;
    }
    enum evhttp_cmd_type m = evhttp_request_get_command(req);
    for (size_t i = 0; i < x->ep->n_ops; i++)
        if (x->ep->ops[i].method == m)
            x->op = &x->ep->ops[i];
    if (x->op == NULL) {
        mafd_resp_error(out, 4005, "method %s not allowed here", method_name(m));
        return false;
    }
    if (uri[plen] == '?') {
        mafd_resp_error(out, 4000, "query not allowed");
        return false;
    }
    return true;
}

/* Steps 3-5. */
static bool check_headers(struct evkeyvalq *h, exchange_t *x, mafd_req_t *r, mafd_resp_t *out)
{
    const char *v;
    int n = header_get(h, "X-M2M-RVI", &v);
    if (n != 1 || strcmp(v, "3") != 0) {
        char shown[32];
        mafd_sanitize(v, v ? strlen(v) : 0, shown, sizeof(shown));
        if (n == 0)
            mafd_resp_error(out, 4001, "X-M2M-RVI missing; use 3");
        else
            mafd_resp_error(out, 4001, "release version %s not supported; use 3", shown);
        return false;
    }
    if (x->ri == NULL) {
        mafd_resp_error(out, 4000, "X-M2M-RI missing or invalid");
        return false;
    }
    n = header_get(h, "X-M2M-Origin", &v);
    bool health = x->op->proc == MAFD_P_HEALTH;
    if (n == 0 && health) {
        r->client_id = r->conn->mapped ? r->conn->client_id : NULL;
        return true;
    }
    if (n == 0 || v[0] == '\0') {
        mafd_resp_error(out, 4000, "X-M2M-Origin missing");
        return false;
    }
    if (!r->conn->mapped) {
        mafd_resp_error(out, 4106, "client certificate maps to no MAF Client ID");
        return false;
    }
    size_t len = strlen(v);
    bool same;
    if (n > 1 || len > MAFD_ORIGIN_MAX)
        same = false; /* two Origins cannot both be the authenticated one */
    else if (r->conn->is_psk)
        same = saef_id_kmid_equal(v, len, r->conn->psk->kmid, strlen(r->conn->psk->kmid));
    else
        same = strcmp(v, r->conn->client_id) == 0;
    if (!same) {
        mafd_resp_error(out, 4106, "X-M2M-Origin does not match the authenticated MAF Client ID");
        return false;
    }
    r->client_id = r->conn->client_id;
    return true;
}

/* Wipe the bytes evhttp buffered for the body: they may hold a keyValue. */
static void wipe_evbuffer(struct evbuffer *buf)
{
    int n = evbuffer_peek(buf, -1, NULL, NULL, 0);
    if (n <= 0)
        return;
    struct evbuffer_iovec *v = calloc((size_t)n, sizeof(*v));
    if (v == NULL)
        return;
    n = evbuffer_peek(buf, -1, NULL, v, n);
    for (int i = 0; i < n; i++)
        OPENSSL_cleanse(v[i].iov_base, v[i].iov_len);
    free(v);
}

static bool parse_json(const char *data, size_t len, exchange_t *x, mafd_resp_t *out)
{
    json_error_t e;
    x->body = json_loadb(data, len, JSON_REJECT_DUPLICATES, &e);
    if (x->body == NULL) {
        /* jansson names a duplicated key as near '"name"'; never echo other snippets, which
         * could be part of a key value. */
        const char *near = strstr(e.text, "near '\"");
        if (json_error_code(&e) == json_error_duplicate_key && near != NULL) {
            char name[80];
            near += 7;
            mafd_sanitize(near, strcspn(near, "\""), name, sizeof(name));
            mafd_resp_error(out, 4000, "malformed body: duplicate member %s", name);
        } else {
            mafd_resp_error(out, 4000, "malformed body: not strict JSON (at byte %d)", e.position);
        }
        return false;
    }
    if (!json_is_object(x->body)) {
        mafd_resp_error(out, 4000, "malformed body: not a JSON object");
        return false;
    }
    return true;
}

/* Step 6. */
static bool check_body(struct evhttp_request *req, exchange_t *x, mafd_resp_t *out)
{
    struct evkeyvalq *h = evhttp_request_get_input_headers(req);
    struct evbuffer *buf = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(buf);
    enum evhttp_cmd_type m = x->op->method;
    const char *v;
    if (m == EVHTTP_REQ_GET || m == EVHTTP_REQ_DELETE) {
        const char *te;
        bool chunked = header_get(h, "Transfer-Encoding", &te) > 0;
        bool has_len = header_get(h, "Content-Length", &v) > 0 && strcmp(v, "0") != 0;
        if (len > 0 || chunked || has_len) {
            /* evhttp 2.1 leaves a GET/DELETE body unread in the stream, where it would be
             * parsed as the next request: answer, then close. */
            x->close = true;
            mafd_resp_error(out, 4000, "%s request with a body",
                            m == EVHTTP_REQ_GET ? "GET" : "DELETE");
            return false;
        }
        return true;
    }
    int n = header_get(h, "Content-Encoding", &v);
    if (n > 1 || (n == 1 && strcasecmp(v, "identity") != 0)) {
        mafd_resp_error(out, 4015, "Content-Encoding not supported");
        return false;
    }
    if (header_get(h, "Content-Type", &v) != 1 || !content_type_ok(v)) {
        mafd_resp_error(out, 4015, "Content-Type must be application/json");
        return false;
    }
    if (len == 0) {
        mafd_resp_error(out, 4000, "empty body");
        return false;
    }
    if (len > MAFD_BODY_MAX) {
        mafd_resp_error(out, 4000, "request body larger than %d bytes", MAFD_BODY_MAX);
        return false;
    }
    char data[MAFD_BODY_MAX];
    bool ok = evbuffer_copyout(buf, data, len) == (ev_ssize_t)len && parse_json(data, len, x, out);
    if (out->rsc == 0 && !ok)
        mafd_resp_error(out, 5000, "internal error");
    OPENSSL_cleanse(data, len);
    return ok;
}

/* Cleanup of a response body handed to evbuffer_add_reference(): it may hold a key. */
static void body_cleanup(const void *data, size_t len, void *extra)
{
    OPENSSL_cleanse((void *)data, len);
    free((void *)data);
}

static void send_response(struct evhttp_request *req, const exchange_t *x, mafd_resp_t *resp)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    char num[32];
    snprintf(num, sizeof(num), "%d", resp->rsc);
    int err = evhttp_add_header(h, "X-M2M-RSC", num);
    if (x->ri != NULL)
        err |= evhttp_add_header(h, "X-M2M-RI", x->ri);
    err |= evhttp_add_header(h, "X-M2M-RVI", "3");
    err |= evhttp_add_header(h, "Cache-Control", "no-store");
    if (resp->rsc == 4005)
        err |= evhttp_add_header(h, "Allow", x->ep->allow);
    if (resp->rsc == 2001 && resp->location[0] != '\0')
        err |= evhttp_add_header(h, "Content-Location", resp->location);
    if (x->close)
        err |= evhttp_add_header(h, "Connection", "close");

    char *text = resp->raw;
    size_t len = resp->raw_len;
    resp->raw = NULL;
    if (text == NULL && resp->rsc >= 3000) {
        json_t *dbg = json_pack("{s:s}", "m2m:dbg", resp->dbg);
        text = dbg ? json_dumps(dbg, JSON_INDENT(2)) : NULL;
        json_decref(dbg);
        len = text ? strlen(text) : 0;
    } else if (text == NULL && resp->body != NULL) {
        text = json_dumps(resp->body, JSON_INDENT(2));
        len = text ? strlen(text) : 0;
    }
    struct evbuffer *buf = evbuffer_new();
    if (buf == NULL ||
        (text != NULL && evbuffer_add_reference(buf, text, len, body_cleanup, NULL) != 0)) {
        if (text != NULL)
            body_cleanup(text, len, NULL);
        evbuffer_free(buf);
        evhttp_send_error(req, 500, "");
        return;
    }
    snprintf(num, sizeof(num), "%zu", len);
    err |= evhttp_add_header(h, "Content-Length", num);
    if (len > 0)
        err |= evhttp_add_header(h, "Content-Type", "application/json");
    if (err != 0) {
        evbuffer_free(buf); /* runs body_cleanup */
        evhttp_send_error(req, 500, "");
        return;
    }
    /* Empty reason phrase: the status line is "HTTP/1.1 201 " (5.2). */
    evhttp_send_reply(req, http_status(resp->rsc), "", buf);
    evbuffer_free(buf);
}

static void log_line(struct evhttp_request *req, const exchange_t *x, const mafd_resp_t *resp,
                     const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
    char *peer = NULL;
    ev_uint16_t port = 0;
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    if (evcon != NULL)
        evhttp_connection_get_peer(evcon, &peer, &port);
    char origin[96];
    mafd_sanitize(x->origin, x->origin ? strlen(x->origin) : 0, origin, sizeof(origin));
    const char *method = method_name(evhttp_request_get_command(req));
    if (resp->stall)
        fprintf(stderr, "saef-mafd: %s:%u %s %s origin=%s rsc=- (fault stall: no answer)\n",
                peer ? peer : "?", port, method, x->path, origin[0] ? origin : "-");
    else
        fprintf(stderr, "saef-mafd: %s:%u %s %s origin=%s rsc=%d %.1fms\n", peer ? peer : "?", port,
                method, x->path, origin[0] ? origin : "-", resp->rsc, ms);
}

void mafd_http_handle(struct evhttp_request *req, void *arg)
{
    mafd_t *d = arg;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    exchange_t x = {0};
    mafd_resp_t resp = {0};
    mafd_req_t r = {.d = d, .now = time(NULL)};
    char path_id[MAFD_M2M_ID_MAX + 1] = "";
    struct evkeyvalq *h = evhttp_request_get_input_headers(req);
    const char *ri;
    if (header_get(h, "X-M2M-RI", &ri) == 1 && ri_valid(ri))
        x.ri = ri;
    header_get(h, "X-M2M-Origin", &x.origin); /* for the log line */

    r.conn = mafd_conn_of(d, req);
    if (r.conn == NULL) {
        mafd_resp_error(&resp, 5000, "internal error");
    } else {
        bool routed = route(req, d, &x, &r, &resp);
        if (x.op == NULL)
            d->stats.unrouted++;
        else if (x.op->proc >= 0)
            d->stats.requests[x.op->proc]++;
        if (r.path_id != NULL) {
            snprintf(path_id, sizeof(path_id), "%.*s", (int)strcspn(r.path_id, "?"), r.path_id);
            r.path_id = path_id;
        }
        /* The stats extension is not a oneM2M resource: no header or body checks. */
        if (routed &&
            (x.op->proc < 0 || (check_headers(h, &x, &r, &resp) && check_body(req, &x, &resp)))) {
            r.body = x.body;
            x.op->fn(&r, &resp);
        }
        if (x.op != NULL && x.op->proc >= 0 && resp.rsc >= 2000 && resp.rsc < 3000)
            d->stats.succeeded[x.op->proc]++;
    }
    log_line(req, &x, &resp, &t0);
    wipe_evbuffer(evhttp_request_get_input_buffer(req));
    /* Last use of req: evhttp may free it once the reply is written. */
    if (!resp.stall)
        send_response(req, &x, &resp);
    mafd_json_wipe(x.body);
    json_decref(x.body);
    mafd_json_wipe(resp.body);
    json_decref(resp.body);
    if (resp.raw != NULL)
        body_cleanup(resp.raw, resp.raw_len, NULL);
}
