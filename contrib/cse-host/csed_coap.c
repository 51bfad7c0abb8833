/*
 * saef-csed: the oneM2M CoAP binding (TS-0008) over DTLS-PSK with libcoap, in its own thread.
 *
 * Why a thread of its own: libcoap cannot pause a handshake.  When the module needs a key it
 * does not have, its PSK callback waits (bounded by coap_fetch_timeout_ms) and every session
 * of this context waits with it; the HTTP loop must not.  libcoap is not thread-safe, so the
 * context is touched only by this thread once it runs (created before, freed after it).
 *
 * libcoap has one event handler and one app_data slot per context and per session, with no
 * way to read the previous value: the host, as the application, owns them.  A module keeps its
 * per-session state elsewhere (e.g. ex_data of the session's SSL).
 *
 * oneM2M options: the numbers of TS-0008 V3.7.0 and later (FR 279, RQI 283, RVI 271, TY 267,
 * RSC 307); From is also read from its older number 256, which earlier peers still send.
 * Responses carry the current numbers only.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>

#include <coap3/coap.h>

#include "csed.h"

#define OPT_TY 267
#define OPT_RVI 271
#define OPT_FR 279
#define OPT_RQI 283
#define OPT_RSC 307
#define OPT_FR_OLD 256 /* before TS-0008 V3.7.0; elective, so libcoap never refuses it */
#define MEDIA_ONEM2M_RES_JSON 10001

/* Every oneM2M option is critical (odd number): libcoap answers 4.02 Bad Option to a request
 * carrying one it does not know, before the host sees it.  libcoap 4.3.1 remembers at most two
 * registered numbers above 255 (COAP_OPT_FILTER_LONG), so only From and Request Identifier are
 * registered; a request that also carries oneM2M-RVI or oneM2M-TY is refused by libcoap.  See
 * docs/reference-host.md. */
static const uint16_t onem2m_options[] = {OPT_FR, OPT_RQI};

typedef struct sess {
    csed_peer_t peer;
    coap_session_t *session; /* borrowed: freed by libcoap, which tells us (SESSION_DEL) */
    struct sess *prev, *next;
} sess_t;

typedef struct csed_coap {
    csed_t *srv;
    coap_context_t *ctx;
    coap_endpoint_t *ep;    /* owned by ctx; freed early to end every session */
    coap_bin_const_t *keys; /* views of the host PSK table, for libcoap (it copies them) */
    sess_t *sessions;
    pthread_t thread;
    int running;
    int wake[2]; /* self-pipe: stop and close requests */
    atomic_int stop;
    pthread_mutex_t lock; /* guards close_req */
    void **close_req;
    size_t n_close, cap_close;
} csed_coap_t;

/* ---- per-session state ---- */

static sess_t *sess_get(csed_coap_t *k, coap_session_t *session)
{
    sess_t *s = coap_session_get_app_data(session);

    if (s != NULL)
        return s;
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->session = session;
    s->peer.transport = "dtls";
    coap_print_addr(coap_session_get_addr_remote(session), (unsigned char *)s->peer.addr,
                    sizeof(s->peer.addr));
    s->next = k->sessions;
    if (k->sessions != NULL)
        k->sessions->prev = s;
    k->sessions = s;
    coap_session_set_app_data(session, s);
    return s;
}

static void sess_free(csed_coap_t *k, sess_t *s)
{
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        k->sessions = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    coap_session_set_app_data(s->session, NULL);
    free(s);
}

/* A new (D)TLS connection on the same session object starts from nothing. */
static void sess_reset(sess_t *s)
{
    memset(&s->peer.binding, 0, sizeof(s->peer.binding));
    s->peer.state = CSED_BIND_UNKNOWN;
    s->peer.host_psk = 0;
    s->peer.identity[0] = '\0';
    s->peer.warned = 0;
}

static const coap_bin_const_t *host_psk(coap_bin_const_t *identity, coap_session_t *session,
                                        void *arg)
{
    csed_coap_t *k = arg;
    const csed_psk_entry_t *e;
    sess_t *s;

    if (identity == NULL)
        return NULL;
    e = csed_psk_find(&k->srv->psk, (const char *)identity->s, identity->length);
    if (e == NULL)
        return NULL; /* libcoap sends unknown_psk_identity */
    s = sess_get(k, session);
    if (s == NULL)
        return NULL;
    s->peer.host_psk = 1;
    snprintf(s->peer.identity, sizeof(s->peer.identity), "%s", e->identity);
    return &k->keys[e - k->srv->psk.entries];
}

static int on_event(coap_session_t *session, const coap_event_t event)
{
    csed_coap_t *k = coap_get_app_data(coap_session_get_context(session));
    sess_t *s = coap_session_get_app_data(session);
    const coap_bin_const_t *id;

    switch (event) {
    case COAP_EVENT_DTLS_CONNECTED:
        s = sess_get(k, session);
        if (s == NULL)
            break;
        s->peer.state = CSED_BIND_UNKNOWN; /* asked at the first request */
        id = coap_session_get_psk_identity(session);
        csed_count(k->srv, CSED_CNT_DTLS_OK);
        csed_log(k->srv, SAEF_LOG_INFO, "dtls %s: handshake ok, psk_identity %.*s%s", s->peer.addr,
                 id ? (int)id->length : 1, id ? (const char *)id->s : "?",
                 s->peer.host_psk ? " (host table)" : "");
        break;
    case COAP_EVENT_DTLS_ERROR:
        csed_count(k->srv, CSED_CNT_DTLS_FAILED);
        if (s == NULL)
            s = sess_get(k, session);
        csed_log(k->srv, SAEF_LOG_NOTICE, "dtls %s: handshake failed%s%s%s", s ? s->peer.addr : "?",
                 s && s->peer.identity[0] ? " (psk_identity " : "", s ? s->peer.identity : "",
                 s && s->peer.identity[0] ? ")" : "");
        if (s != NULL)
            sess_reset(s);
        break;
    case COAP_EVENT_DTLS_CLOSED:
        if (s != NULL)
            sess_reset(s);
        break;
    case COAP_EVENT_SERVER_SESSION_DEL:
        if (s != NULL)
            sess_free(k, s);
        break;
    default:
        break;
    }
    return 0;
}

/* ---- requests ---- */

/* Append one option value to a growing string; sep precedes all but the first part. */
static int add_part(char **dst, size_t *len, const char *sep, const uint8_t *v, size_t n)
{
    size_t slen = *len ? strlen(sep) : 0;
    char *g = realloc(*dst, *len + slen + n + 1);

    if (g == NULL)
        return -1;
    memcpy(g + *len, sep, slen);
    memcpy(g + *len + slen, v, n);
    *len += slen + n;
    g[*len] = '\0';
    *dst = g;
    return 0;
}

static char *opt_string(const coap_opt_t *opt)
{
    return strndup((const char *)coap_opt_value(opt), coap_opt_length(opt));
}

static void release_body(coap_session_t *session, void *app_ptr)
{
    (void)session;
    free(app_ptr);
}

typedef struct parsed {
    const char *prefix; /* "", "/" (SP-relative) or "//" (absolute) */
    char *path, *to, *query, *from, *from_old, *rqi, *rvi;
    size_t path_len, query_len, segments;
    int has_ty, accept;
    const char *bad;
} parsed_t;

static void parse_options(const coap_pdu_t *request, parsed_t *q)
{
    coap_opt_iterator_t it;
    coap_opt_t *opt;
    char **slot;

    q->accept = -1;
    q->prefix = "";
    coap_option_iterator_init(request, &it, COAP_OPT_ALL);
    while ((opt = coap_option_next(&it)) != NULL) {
        const uint8_t *v = coap_opt_value(opt);
        size_t n = coap_opt_length(opt);

        slot = NULL;
        switch (it.number) {
        case COAP_OPTION_URI_PATH:
            /* TS-0008 6.2.2.3: a first segment "~" is SP-relative, "_" absolute */
            if (memchr(v, '/', n) != NULL || memchr(v, '\0', n) != NULL)
                q->bad = "Uri-Path segment with '/' or NUL";
            else if (q->segments++ == 0 && n == 1 && (v[0] == '~' || v[0] == '_'))
                q->prefix = v[0] == '~' ? "/" : "//";
            else if (add_part(&q->path, &q->path_len, "/", v, n) != 0)
                q->bad = "out of memory";
            break;
        case COAP_OPTION_URI_QUERY:
            if (add_part(&q->query, &q->query_len, "&", v, n))
                q->bad = "out of memory";
            break;
        case COAP_OPTION_ACCEPT:
            q->accept = (int)coap_decode_var_bytes(v, n);
            break;
        case OPT_TY:
            q->has_ty = 1;
            break;
        case OPT_FR:
            slot = &q->from;
            break;
        case OPT_FR_OLD:
            slot = &q->from_old;
            break;
        case OPT_RQI:
            slot = &q->rqi;
            break;
        case OPT_RVI:
            slot = &q->rvi;
            break;
        }
        if (slot != NULL) {
            if (*slot != NULL)
                q->bad = "a oneM2M option is repeated";
            else if (memchr(v, '\0', n) != NULL || (*slot = opt_string(opt)) == NULL)
                q->bad = "malformed oneM2M option";
        }
    }
    if (q->from && q->from_old && strcmp(q->from, q->from_old) != 0)
        q->bad = "oneM2M-FR under the old and the new option number differ";
    q->to = malloc(strlen(q->prefix) + q->path_len + 1);
    if (q->to == NULL) {
        q->bad = "out of memory";
        return;
    }
    strcpy(q->to, q->prefix);
    if (q->path != NULL)
        strcat(q->to, q->path);
}

static void parsed_free(parsed_t *q)
{
    free(q->path);
    free(q->to);
    free(q->query);
    free(q->from);
    free(q->from_old);
    free(q->rqi);
    free(q->rvi);
}

static void add_string_option(coap_pdu_t *pdu, uint16_t number, const char *s)
{
    coap_add_option(pdu, number, strlen(s), (const uint8_t *)s);
}

static void on_request(coap_resource_t *resource, coap_session_t *session,
                       const coap_pdu_t *request, const coap_string_t *query, coap_pdu_t *response)
{
    csed_coap_t *k = coap_resource_get_userdata(resource);
    csed_t *srv = k->srv;
    sess_t *s = sess_get(k, session);
    parsed_t q = {0};
    csed_req_t req = {0};
    csed_rsp_t rsp = {0};
    const uint8_t *data = NULL;
    size_t len = 0, offset, total;
    uint8_t rsc_buf[4];
    int code;

    parse_options(request, &q);
    req.rqi = q.rqi; /* echoed even when the request is refused */
    if (s != NULL && s->peer.state == CSED_BIND_UNKNOWN) {
        saef_binding_t b = {.hdr = SAEF_ABI_HDR_INIT(saef_binding_t)};
        saef_rc_t rc = srv->mod->binding_coap(srv->inst, session, &b);

        s->peer.binding = b;
        csed_peer_set_binding(srv, &s->peer, rc);
        if (s->peer.state == CSED_BIND_EXPIRED || s->peer.state == CSED_BIND_REFUSED)
            csed_coap_request_close(srv, session); /* after this answer (4107, 5000) is sent */
    }
    switch (coap_pdu_get_code(request)) {
    case COAP_REQUEST_CODE_GET:
        req.op = SAEF_OP_RETRIEVE;
        break;
    case COAP_REQUEST_CODE_PUT:
        req.op = SAEF_OP_UPDATE;
        break;
    case COAP_REQUEST_CODE_DELETE:
        req.op = SAEF_OP_DELETE;
        break;
    case COAP_REQUEST_CODE_POST:
        req.op = q.has_ty ? SAEF_OP_CREATE : SAEF_OP_NOTIFY; /* TS-0008 6.2.1 */
        break;
    default:
        req.op = 0;
    }
    if (s == NULL) {
        csed_rsp_dbg(&rsp, 5000, "out of memory");
        csed_count_rsc(srv, rsp.rsc);
    } else if (q.bad != NULL) {
        csed_rsp_dbg(&rsp, 4000, q.bad);
        csed_count_rsc(srv, rsp.rsc);
    } else {
        coap_get_data_large(request, &len, &data, &offset, &total);
        req.to = q.to ? q.to : "";
        req.query = q.query;
        req.from = q.from ? q.from : q.from_old;
        req.rvi = q.rvi;
        req.body = (const char *)data;
        req.body_len = len;
        req.accept_ok = q.accept < 0 || q.accept == COAP_MEDIATYPE_APPLICATION_JSON ||
                        q.accept == MEDIA_ONEM2M_RES_JSON;
        csed_onem2m_handle(srv, &s->peer, &req, &rsp);
    }
    code = csed_rsc_coap(rsp.rsc, req.op);
    coap_pdu_set_code(response, COAP_RESPONSE_CODE(code ? code : 204));
    if (rsp.rvi != NULL)
        add_string_option(response, OPT_RVI, rsp.rvi);
    if (req.rqi != NULL)
        add_string_option(response, OPT_RQI, req.rqi);
    coap_add_option(response, OPT_RSC, coap_encode_var_safe(rsc_buf, sizeof(rsc_buf), rsp.rsc),
                    rsc_buf);
    if (rsp.body != NULL &&
        coap_add_data_large_response(
            resource, session, request, response, query,
            q.accept == MEDIA_ONEM2M_RES_JSON ? MEDIA_ONEM2M_RES_JSON
                                              : COAP_MEDIATYPE_APPLICATION_JSON,
            -1, 0, rsp.body_len, (const uint8_t *)rsp.body, release_body, rsp.body))
        rsp.body = NULL; /* libcoap releases it */
    csed_log(srv, SAEF_LOG_DEBUG, "dtls %s: %s From %s -> %d", s ? s->peer.addr : "?",
             req.to ? req.to : "-", req.from ? req.from : "-", rsp.rsc);
    csed_rsp_clear(&rsp);
    parsed_free(&q);
}

/* ---- thread ---- */

static void handle_close_requests(csed_coap_t *k)
{
    void **req;
    size_t n, i;
    sess_t *s;

    pthread_mutex_lock(&k->lock);
    req = k->close_req;
    n = k->n_close;
    k->close_req = NULL;
    k->n_close = k->cap_close = 0;
    pthread_mutex_unlock(&k->lock);
    for (i = 0; i < n; i++) {
        saef_binding_t b = {.hdr = SAEF_ABI_HDR_INIT(saef_binding_t)};

        /* Only sessions still alive (the pointer may be stale), and only when the module still
         * says Kc is over (a new session may have the old one's address by now). */
        for (s = k->sessions; s != NULL && (void *)s->session != req[i]; s = s->next)
            ;
        if (s == NULL ||
            k->srv->mod->binding_coap(k->srv->inst, s->session, &b) != SAEF_E_KEY_EXPIRED)
            continue;
        csed_log(k->srv, SAEF_LOG_NOTICE,
                 "dtls %s: closed on the module's request (Kc "
                 "lifetime over)",
                 s->peer.addr);
        sess_reset(s);
        coap_session_disconnected(s->session, COAP_NACK_NOT_DELIVERABLE);
    }
    free(req);
}

/* Wait up to 1 s for CoAP traffic or the wake pipe; 0, or -1 when libcoap failed.  libcoap
 * 4.3.1 built with epoll (Debian's) ignores the extra fds of coap_io_process_with_fds(), so the
 * thread polls libcoap's epoll fd itself; its timers are a timerfd inside that fd. */
static int coap_wait(csed_coap_t *k, int coap_fd)
{
    if (coap_fd >= 0) {
        struct pollfd p[2] = {{.fd = coap_fd, .events = POLLIN},
                              {.fd = k->wake[0], .events = POLLIN}};

        if (poll(p, 2, 1000) < 0 && errno != EINTR)
            return -1;
        return coap_io_process(k->ctx, COAP_IO_NO_WAIT) < 0 ? -1 : 0;
    } else {
        fd_set rfds;

        FD_ZERO(&rfds);
        FD_SET(k->wake[0], &rfds);
        return coap_io_process_with_fds(k->ctx, 1000, k->wake[0] + 1, &rfds, NULL, NULL) < 0 ? -1
                                                                                             : 0;
    }
}

static void *coap_main(void *arg)
{
    csed_coap_t *k = arg;
    int coap_fd = coap_context_get_coap_fd(k->ctx);
    char drain[64];

    while (!atomic_load(&k->stop)) {
        if (coap_wait(k, coap_fd) != 0) {
            csed_log(k->srv, SAEF_LOG_ERROR, "coap: coap_io_process failed: CoAP stopped");
            break;
        }
        /* The pipe is non-blocking: drained without waiting, then the queue is looked at. */
        while (read(k->wake[0], drain, sizeof(drain)) > 0)
            ;
        handle_close_requests(k);
    }
    return NULL;
}

static void wake(csed_coap_t *k)
{
    ssize_t w = write(k->wake[1], "x", 1);

    (void)w; /* a full pipe already wakes the thread */
}

void csed_coap_request_close(csed_t *srv, void *session)
{
    csed_coap_t *k = srv->coap;

    if (k == NULL || session == NULL)
        return;
    pthread_mutex_lock(&k->lock);
    if (k->n_close == k->cap_close) {
        size_t cap = k->cap_close ? k->cap_close * 2 : 16;
        void **g = realloc(k->close_req, cap * sizeof(*g));

        if (g == NULL) {
            pthread_mutex_unlock(&k->lock);
            return;
        }
        k->close_req = g;
        k->cap_close = cap;
    }
    k->close_req[k->n_close++] = session;
    pthread_mutex_unlock(&k->lock);
    wake(k);
}

/* Context, PSK, module, resources, endpoint. */
static int coap_setup(csed_coap_t *k)
{
    csed_t *srv = k->srv;
    coap_dtls_spsk_t spsk = {.version = COAP_DTLS_SPSK_SETUP_VERSION};
    saef_psk_chain_t chain = {.hdr = SAEF_ABI_HDR_INIT(saef_psk_chain_t)};
    struct sockaddr_storage ss;
    coap_address_t addr;
    coap_endpoint_t *ep;
    coap_resource_t *r;
    const char *ep_str;
    unsigned sslen;
    size_t i;
    saef_rc_t rc;

    k->ctx = coap_new_context(NULL);
    if (k->ctx == NULL)
        return -1;
    coap_set_app_data(k->ctx, k);
    coap_context_set_block_mode(k->ctx, COAP_BLOCK_USE_LIBCOAP | COAP_BLOCK_SINGLE_BODY);
    for (i = 0; i < sizeof(onem2m_options) / sizeof(onem2m_options[0]); i++)
        coap_register_option(k->ctx, onem2m_options[i]);
    k->keys = calloc(srv->psk.n ? srv->psk.n : 1, sizeof(*k->keys));
    if (k->keys == NULL)
        return -1;
    for (i = 0; i < srv->psk.n; i++) {
        k->keys[i].s = srv->psk.entries[i].key;
        k->keys[i].length = srv->psk.entries[i].key_len;
    }
    /* The host's own PSK validation first (libcoap needs one before a DTLS endpoint); the
     * module keeps it for identities that are not its own (handed over in chain: libcoap has no
     * getter). */
    spsk.validate_id_call_back = host_psk;
    spsk.id_call_back_arg = k;
    spsk.psk_info.hint.s = (const uint8_t *)"";
    if (!coap_context_set_psk2(k->ctx, &spsk))
        return -1;
    chain.coap_validate_id = host_psk;
    chain.coap_arg = k;
    rc = srv->mod->attach_coap(srv->inst, k->ctx, &chain);
    if (rc == SAEF_OK) {
        srv->module_coap = 1;
    } else if (rc == SAEF_E_NOT_SUPPORTED) {
        csed_log(srv, SAEF_LOG_WARNING,
                 "module: attach_coap not supported by this module "
                 "build: CoAP serves only the host's own PSK identities (%zu)",
                 srv->psk.n);
    } else {
        csed_log(srv, SAEF_LOG_ERROR, "module: attach_coap: %s", srv->mod->strerror(rc));
        return -1;
    }
    /* Registered after attach_coap: libcoap keeps one handler per context. */
    coap_register_event_handler(k->ctx, on_event);
    r = coap_resource_unknown_init2(on_request, 0);
    if (r == NULL)
        return -1;
    coap_resource_set_userdata(r, k);
    coap_register_handler(r, COAP_REQUEST_GET, on_request);
    coap_register_handler(r, COAP_REQUEST_POST, on_request);
    coap_register_handler(r, COAP_REQUEST_DELETE, on_request);
    coap_register_handler(r, COAP_REQUEST_FETCH, on_request);
    coap_register_handler(r, COAP_REQUEST_PATCH, on_request);
    coap_add_resource(k->ctx, r);

    if (csed_parse_listen(srv->cfg.coap_listen, &ss, &sslen) != 0)
        return -1;
    coap_address_init(&addr);
    memcpy(&addr.addr, &ss, sslen);
    addr.size = sslen;
    ep = k->ep = coap_new_endpoint(k->ctx, &addr, COAP_PROTO_DTLS);
    if (ep == NULL) {
        csed_log(srv, SAEF_LOG_ERROR, "coap_listen %s: cannot listen (DTLS endpoint)",
                 srv->cfg.coap_listen);
        return -1;
    }
    /* "ADDR:PORT" with the port the system picked when the configuration says 0. */
    ep_str = coap_endpoint_str(ep);
    snprintf(srv->coap_addr, sizeof(srv->coap_addr), "%.*s", (int)strcspn(ep_str, " "), ep_str);
    snprintf(srv->poa_coap, sizeof(srv->poa_coap), "coaps://%s", srv->coap_addr);
    return 0;
}

int csed_coap_start(csed_t *srv)
{
    csed_coap_t *k = calloc(1, sizeof(*k));
    sigset_t all, old;
    int i;

    if (k == NULL)
        return -1;
    srv->coap = k;
    k->srv = srv;
    k->wake[0] = k->wake[1] = -1;
    pthread_mutex_init(&k->lock, NULL);
    atomic_init(&k->stop, 0);
    if (pipe(k->wake) != 0 || k->wake[0] >= FD_SETSIZE)
        return -1;
    for (i = 0; i < 2; i++)
        fcntl(k->wake[i], F_SETFL, fcntl(k->wake[i], F_GETFL) | O_NONBLOCK);
    if (coap_setup(k) != 0) {
        csed_log(srv, SAEF_LOG_ERROR, "coap: setup failed");
        return -1;
    }
    /* Signals belong to the loop thread (libevent's evsignal). */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    k->running = pthread_create(&k->thread, NULL, coap_main, k) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return k->running ? 0 : -1;
}

void csed_coap_stop(csed_t *srv)
{
    csed_coap_t *k = srv->coap;

    if (k == NULL || !k->running)
        return;
    atomic_store(&k->stop, 1);
    wake(k);
    pthread_join(k->thread, NULL);
    k->running = 0;
}

void csed_coap_release(csed_t *srv)
{
    csed_coap_t *k = srv->coap;

    if (k == NULL)
        return;
    csed_coap_stop(srv);
    if (k->ep != NULL)
        coap_free_endpoint(k->ep); /* frees its sessions; SESSION_DEL frees their states */
    k->ep = NULL;
}

void csed_coap_free(csed_t *srv)
{
    csed_coap_t *k = srv->coap;

    if (k == NULL)
        return;
    csed_coap_release(srv);
    if (k->ctx != NULL)
        coap_free_context(k->ctx); /* SESSION_DEL events free most session states */
    while (k->sessions != NULL) {
        sess_t *s = k->sessions;

        k->sessions = s->next;
        free(s);
    }
    free(k->keys);
    free(k->close_req);
    for (int i = 0; i < 2; i++)
        if (k->wake[i] >= 0)
            close(k->wake[i]);
    pthread_mutex_destroy(&k->lock);
    free(k);
    srv->coap = NULL;
}
