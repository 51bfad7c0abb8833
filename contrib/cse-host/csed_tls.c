/*
 * saef-csed: the TCP listener and the TLS handshake driver.
 *
 * Why the host drives the handshake itself
 *   The module pauses a handshake while it fetches Kc from a MAF: with SSL_MODE_ASYNC on the
 *   SSL_CTX, its PSK callback calls ASYNC_pause_job() and SSL_do_handshake() returns
 *   SSL_ERROR_WANT_ASYNC; the host waits on the job's file descriptors (SSL_get_all_async_fds)
 *   and calls SSL_do_handshake() again.  libevent's evhttp cannot do this: its OpenSSL
 *   bufferevent treats SSL_ERROR_WANT_ASYNC as an error and closes the connection, and evhttp
 *   cannot adopt a connection whose handshake someone else completed.  So this file runs the
 *   handshake with plain libevent events, and only an established connection is handed to a
 *   bufferevent_openssl in BUFFEREVENT_SSL_OPEN state (csed_http.c), with SSL_MODE_ASYNC
 *   cleared (nothing pauses after the handshake) and renegotiation disabled on the SSL_CTX.
 *
 * The driver, per connection
 *   SSL_do_handshake() ->
 *     1                      established: ask the module for the binding, hand over to HTTP
 *     WANT_READ / WANT_WRITE wait for the socket, then step again
 *     WANT_ASYNC             paused in the module: wait (EV_READ) on every async fd, then step
 *                            again; the socket is not watched meanwhile
 *     WANT_ASYNC_JOB         OpenSSL's job pool is exhausted: step again after 10 ms
 *     anything else          one log line (peer address, OpenSSL reason), free
 *   A timer bounds the whole handshake (handshake_timeout).  When it fires while the handshake
 *   waits for the socket, the connection is freed at once.  When it fires while the handshake
 *   is paused, SSL_free() would leak the module's async job (OpenSSL 3.0 cannot free a paused
 *   job) and the module's callback would never learn that its caller went away.  So the host
 *   shuts the socket down (the peer sees the connection end now) and then
 *     - with a module whose table has handshake_abort: calls it and SSL_do_handshake() once
 *       more; the resumed callback fails at once, the job ends, the SSL is freed;
 *     - otherwise (or should the module pause again): keeps waiting on the async fds and, when
 *       the module signals (its fetch is bounded by request_timeout_ms), calls
 *       SSL_do_handshake() once more: the job resumes, the callback returns, the handshake
 *       fails on the dead socket and the SSL is freed with no job attached.
 *   Should neither happen within another handshake_timeout, the SSL is freed anyway and a
 *   warning says that its job leaked.  Shutdown (SIGTERM) does the same with a shorter grace.
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/async.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "csed.h"

#define RETRY_MS 10     /* SSL_ERROR_WANT_ASYNC_JOB, or a pause without async fds */
#define STOP_GRACE_S 5u /* shutdown: longest wait for paused handshakes */

typedef struct csed_tls {
    struct evconnlistener *listener;
    struct event *accept_pause; /* re-enables the listener after EMFILE */
    struct event *close_ev;     /* close requests from module threads */
    csed_conn_t *conns;
    size_t n_conns;
    int stopping;
    pthread_mutex_t lock; /* guards close_req */
    void **close_req;
    size_t n_close, cap_close;
} csed_tls_t;

static void hs_step(csed_conn_t *c);

/* ---- connection lifetime ---- */

static void free_async(csed_conn_t *c)
{
    size_t i;

    for (i = 0; i < c->n_async; i++)
        event_free(c->async_ev[i]);
    free(c->async_ev);
    c->async_ev = NULL;
    c->n_async = 0;
}

void csed_conn_free(csed_conn_t *c)
{
    csed_t *srv = c->srv;
    csed_tls_t *t = srv->tls;

    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        t->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    t->n_conns--;
    free_async(c);
    if (c->io_ev != NULL)
        event_free(c->io_ev);
    if (c->timer != NULL)
        event_free(c->timer);
    if (c->bev != NULL) {
        csed_http_free(c); /* the bufferevent owns the SSL and the socket */
    } else {
        SSL_free(c->ssl);
        if (c->fd >= 0)
            close(c->fd);
    }
    free(c);
    if (t->stopping && t->conns == NULL)
        event_base_loopexit(srv->base, NULL);
}

/* ---- handshake ---- */

static void io_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    hs_step(arg);
}

/* Wait for the socket (what = EV_READ/EV_WRITE) or, with delay_ms, just for time to pass. */
static int arm_io(csed_conn_t *c, short what, int delay_ms)
{
    struct timeval tv = {0, delay_ms * 1000};

    event_del(c->io_ev);
    if (delay_ms > 0)
        event_assign(c->io_ev, c->srv->base, -1, 0, io_cb, c);
    else
        event_assign(c->io_ev, c->srv->base, c->fd, what, io_cb, c);
    return event_add(c->io_ev, delay_ms > 0 ? &tv : NULL);
}

static void async_cb(evutil_socket_t fd, short what, void *arg)
{
    csed_conn_t *c = arg;

    (void)fd;
    (void)what;
    free_async(c); /* one wake-up is enough: the next step re-arms what it needs */
    hs_step(c);
}

/* The handshake is paused inside the module: wait for any of the job's fds. */
static int wait_async(csed_conn_t *c)
{
    OSSL_ASYNC_FD *fds;
    size_t n = 0, i;

    free_async(c);
    event_del(c->io_ev);
    if (!SSL_get_all_async_fds(c->ssl, NULL, &n))
        return -1;
    if (n == 0) /* a module that signals some other way: poll */
        return arm_io(c, 0, RETRY_MS);
    fds = calloc(n, sizeof(*fds));
    c->async_ev = calloc(n, sizeof(*c->async_ev));
    if (fds == NULL || c->async_ev == NULL || !SSL_get_all_async_fds(c->ssl, fds, &n)) {
        free(fds);
        return -1;
    }
    for (i = 0; i < n; i++) {
        c->async_ev[i] = event_new(c->srv->base, fds[i], EV_READ, async_cb, c);
        if (c->async_ev[i] == NULL || event_add(c->async_ev[i], NULL) != 0) {
            c->n_async = i + (c->async_ev[i] != NULL);
            free(fds);
            return -1;
        }
        c->n_async = i + 1;
    }
    free(fds);
    return 0;
}

static void hs_done(csed_conn_t *c)
{
    csed_t *srv = c->srv;
    const char *id = c->peer.identity[0] ? c->peer.identity : SSL_get_psk_identity(c->ssl);
    saef_binding_t b = {.hdr = SAEF_ABI_HDR_INIT(saef_binding_t)};
    saef_rc_t rc;

    event_free(c->timer);
    c->timer = NULL;
    event_free(c->io_ev);
    c->io_ev = NULL;
    /* Nothing pauses after the handshake, and libevent's bufferevent would close the
     * connection on SSL_ERROR_WANT_ASYNC. */
    SSL_clear_mode(c->ssl, SSL_MODE_ASYNC);
    csed_count(srv, CSED_CNT_TLS_OK);
    csed_log(srv, SAEF_LOG_INFO, "tls %s: handshake ok: %s %s, psk_identity %s%s", c->peer.addr,
             SSL_get_version(c->ssl), SSL_get_cipher_name(c->ssl), id ? id : "(module)",
             c->peer.host_psk ? " (host table)" : "");
    rc = srv->mod->binding_ssl(srv->inst, c->ssl, &b);
    c->peer.binding = b;
    csed_peer_set_binding(srv, &c->peer, rc);
    if (c->peer.state == CSED_BIND_EXPIRED || c->peer.state == CSED_BIND_REFUSED ||
        csed_http_start(c) != 0)
        csed_conn_free(c);
}

static void hs_fail(csed_conn_t *c, int err, int ret)
{
    unsigned long e = ERR_peek_last_error();
    const char *reason = e ? ERR_reason_error_string(e) : NULL;
    saef_log_level_t level = SAEF_LOG_NOTICE;
    int saved = errno;

    if (reason == NULL &&
        (err == SSL_ERROR_ZERO_RETURN || (err == SSL_ERROR_SYSCALL && ret == 0))) {
        reason = "connection closed by the peer";
        level = SAEF_LOG_INFO; /* port probes and health checks */
    } else if (reason == NULL && err == SSL_ERROR_SYSCALL) {
        reason = strerror(saved);
    } else if (reason == NULL) {
        reason = "handshake failed";
    }
    if (c->peer.identity[0] == '\0' && c->ssl != NULL) {
        /* TLS 1.2 keeps the identity the peer offered (the module's too); printable part only,
         * it is the peer's text. */
        const char *id = SSL_get_psk_identity(c->ssl);
        size_t i;

        for (i = 0; id != NULL && id[i] != '\0' && i + 1 < sizeof(c->peer.identity); i++)
            c->peer.identity[i] = id[i] >= 0x20 && id[i] < 0x7f ? id[i] : '?';
        c->peer.identity[i] = '\0';
    }
    csed_count(c->srv, CSED_CNT_TLS_FAILED);
    csed_log(c->srv, level, "tls %s: handshake failed: %s%s%s%s", c->peer.addr, reason,
             c->peer.identity[0] ? " (psk_identity " : "", c->peer.identity,
             c->peer.identity[0] ? ")" : "");
    csed_conn_free(c);
}

static void hs_step(csed_conn_t *c)
{
    int ret, err;

    ERR_clear_error();
    errno = 0;
    ret = SSL_do_handshake(c->ssl);
    err = ret == 1 ? SSL_ERROR_NONE : SSL_get_error(c->ssl, ret);
    c->paused = err == SSL_ERROR_WANT_ASYNC;
    if (c->aborting && !c->paused) {
        /* Timed out while paused: the job has now finished, the SSL can go. */
        csed_log(c->srv, SAEF_LOG_INFO,
                 "tls %s: paused handshake resumed after its timeout: "
                 "freed",
                 c->peer.addr);
        csed_conn_free(c);
        return;
    }
    switch (err) {
    case SSL_ERROR_NONE:
        hs_done(c);
        return;
    case SSL_ERROR_WANT_READ:
        if (arm_io(c, EV_READ, 0) != 0)
            break;
        return;
    case SSL_ERROR_WANT_WRITE:
        if (arm_io(c, EV_WRITE, 0) != 0)
            break;
        return;
    case SSL_ERROR_WANT_ASYNC:
        if (wait_async(c) != 0)
            break;
        return;
    case SSL_ERROR_WANT_ASYNC_JOB:
        if (arm_io(c, 0, RETRY_MS) != 0)
            break;
        return;
    default:
        hs_fail(c, err, ret);
        return;
    }
    csed_log(c->srv, SAEF_LOG_ERROR, "tls %s: cannot wait for the handshake: %s", c->peer.addr,
             c->paused ? "async fds" : "event_add");
    if (c->paused) {
        /* Freeing a paused SSL leaks its job; poll it instead. */
        arm_io(c, 0, RETRY_MS);
        return;
    }
    csed_count(c->srv, CSED_CNT_TLS_FAILED);
    csed_conn_free(c);
}

/* Stop a paused handshake (see the comment at the top of the file).  May free c. */
static void abort_paused(csed_conn_t *c, unsigned grace_s)
{
    const saef_module_t *mod = c->srv->mod;
    struct timeval tv = {grace_s, 0};

    c->aborting = 1;
    shutdown(c->fd, SHUT_RDWR);
    event_del(c->io_ev);
    evtimer_add(c->timer, &tv);
    if (SAEF_HAS_FIELD(mod, saef_module_t, handshake_abort) && mod->handshake_abort != NULL) {
        /* The module fails the paused callback; the next step ends the job at once. */
        mod->handshake_abort(c->srv->inst, c->ssl);
        free_async(c);
        hs_step(c);
    }
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    csed_conn_t *c = arg;
    csed_t *srv = c->srv;

    (void)fd;
    (void)what;
    if (c->aborting) {
        csed_log(srv, SAEF_LOG_WARNING,
                 "tls %s: the module did not resume a paused handshake "
                 "in time: freeing it anyway (its async job leaks)",
                 c->peer.addr);
        csed_conn_free(c);
        return;
    }
    csed_count(srv, CSED_CNT_TLS_TIMEOUT);
    if (!c->paused) {
        csed_log(srv, SAEF_LOG_NOTICE, "tls %s: handshake timeout after %u s", c->peer.addr,
                 srv->cfg.handshake_timeout_s);
        csed_conn_free(c);
        return;
    }
    csed_log(srv, SAEF_LOG_NOTICE,
             "tls %s: handshake timeout after %u s while the module "
             "waits for a key: closing, freed when the module resumes it",
             c->peer.addr, srv->cfg.handshake_timeout_s);
    abort_paused(c, srv->cfg.handshake_timeout_s);
}

/* ---- listener ---- */

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
                      void *arg)
{
    csed_t *srv = arg;
    csed_tls_t *t = srv->tls;
    struct timeval tv = {srv->cfg.handshake_timeout_s, 0};
    csed_conn_t *c;
    int one = 1;

    (void)l;
    (void)salen;
    if (t->n_conns >= srv->cfg.max_connections) {
        char addr[64];

        csed_format_addr(sa, addr, sizeof(addr));
        csed_count(srv, CSED_CNT_TLS_REFUSED);
        csed_log(srv, SAEF_LOG_WARNING, "tls %s: refused: max_connections (%u) reached", addr,
                 srv->cfg.max_connections);
        close(fd);
        return;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        close(fd);
        return;
    }
    c->srv = srv;
    c->fd = fd;
    c->peer.transport = "tls";
    csed_format_addr(sa, c->peer.addr, sizeof(c->peer.addr));
    c->next = t->conns;
    if (t->conns != NULL)
        t->conns->prev = c;
    t->conns = c;
    t->n_conns++;
    /* Requests and responses are small: do not let Nagle hold them back. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->ssl = SSL_new(srv->ssl_ctx);
    c->io_ev = event_new(srv->base, -1, 0, io_cb, c);
    c->timer = evtimer_new(srv->base, timer_cb, c);
    if (c->ssl == NULL || c->io_ev == NULL || c->timer == NULL || !SSL_set_fd(c->ssl, fd) ||
        evtimer_add(c->timer, &tv) != 0) {
        csed_log(srv, SAEF_LOG_ERROR, "tls %s: cannot set up the connection", c->peer.addr);
        csed_conn_free(c);
        return;
    }
    /* The application's slot: the host PSK callback finds the connection through it. */
    SSL_set_app_data(c->ssl, c);
    SSL_set_accept_state(c->ssl);
    hs_step(c);
}

static void accept_resume_cb(evutil_socket_t fd, short what, void *arg)
{
    csed_tls_t *t = arg;

    (void)fd;
    (void)what;
    if (t->listener != NULL)
        evconnlistener_enable(t->listener);
}

static void accept_error_cb(struct evconnlistener *l, void *arg)
{
    csed_t *srv = arg;
    struct timeval tv = {1, 0};
    int e = EVUTIL_SOCKET_ERROR();

    /* Out of descriptors: pause accepting for a second instead of spinning on the error. */
    csed_log(srv, SAEF_LOG_ERROR, "accept: %s: pausing the listener for 1 s",
             evutil_socket_error_to_string(e));
    evconnlistener_disable(l);
    evtimer_add(srv->tls->accept_pause, &tv);
}

unsigned int csed_tls_host_psk_cb(SSL *ssl, const char *identity, unsigned char *psk,
                                  unsigned int max_psk_len)
{
    csed_t *srv = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    csed_conn_t *c = SSL_get_app_data(ssl);
    const csed_psk_entry_t *e;

    if (srv == NULL || identity == NULL)
        return 0;
    /* Kept for the log line: TLS 1.3 servers cannot read the identity back
     * (SSL_get_psk_identity is NULL there).  The identity is public; the logger escapes it. */
    if (c != NULL)
        snprintf(c->peer.identity, sizeof(c->peer.identity), "%s", identity);
    e = csed_psk_find(&srv->psk, identity, strlen(identity));
    if (e == NULL || e->key_len > max_psk_len)
        return 0; /* unknown_psk_identity */
    memcpy(psk, e->key, e->key_len);
    if (c != NULL)
        c->peer.host_psk = 1;
    return (unsigned int)e->key_len;
}

static void close_cb(evutil_socket_t fd, short what, void *arg)
{
    csed_t *srv = arg;
    csed_tls_t *t = srv->tls;
    void **req;
    size_t n, i;
    csed_conn_t *c;

    (void)fd;
    (void)what;
    pthread_mutex_lock(&t->lock);
    req = t->close_req;
    n = t->n_close;
    t->close_req = NULL;
    t->n_close = t->cap_close = 0;
    pthread_mutex_unlock(&t->lock);
    /* Match by pointer against live connections only: the SSL may be gone already, and a new
     * connection may have its address by now, so the module is asked again whether this one's
     * Kc is over. */
    for (i = 0; i < n; i++) {
        saef_binding_t b = {.hdr = SAEF_ABI_HDR_INIT(saef_binding_t)};

        for (c = t->conns; c != NULL && (void *)c->ssl != req[i]; c = c->next)
            ;
        if (c != NULL && !c->paused &&
            srv->mod->binding_ssl(srv->inst, c->ssl, &b) == SAEF_E_KEY_EXPIRED) {
            csed_log(srv, SAEF_LOG_NOTICE,
                     "tls %s: closed on the module's request (Kc "
                     "lifetime over)",
                     c->peer.addr);
            csed_conn_free(c);
        }
    }
    free(req);
}

void csed_tls_request_close(csed_t *srv, void *ssl)
{
    csed_tls_t *t = srv->tls;

    if (t == NULL || ssl == NULL)
        return;
    pthread_mutex_lock(&t->lock);
    if (t->n_close == t->cap_close) {
        size_t cap = t->cap_close ? t->cap_close * 2 : 16;
        void **g = realloc(t->close_req, cap * sizeof(*g));

        if (g == NULL) {
            pthread_mutex_unlock(&t->lock);
            return;
        }
        t->close_req = g;
        t->cap_close = cap;
    }
    t->close_req[t->n_close++] = ssl;
    pthread_mutex_unlock(&t->lock);
    event_active(t->close_ev, EV_READ, 0);
}

int csed_tls_start(csed_t *srv)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    unsigned sslen;
    csed_tls_t *t = calloc(1, sizeof(*t));

    if (t == NULL)
        return -1;
    pthread_mutex_init(&t->lock, NULL);
    srv->tls = t;
    t->accept_pause = evtimer_new(srv->base, accept_resume_cb, t);
    t->close_ev = event_new(srv->base, -1, 0, close_cb, srv);
    if (t->accept_pause == NULL || t->close_ev == NULL ||
        csed_parse_listen(srv->cfg.http_listen, &ss, &sslen) != 0)
        return -1;
    t->listener =
        evconnlistener_new_bind(srv->base, accept_cb, srv,
                                LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
                                -1, (struct sockaddr *)&ss, (int)sslen);
    if (t->listener == NULL) {
        csed_log(srv, SAEF_LOG_ERROR, "http_listen %s: cannot listen: %s", srv->cfg.http_listen,
                 strerror(errno));
        return -1;
    }
    evconnlistener_set_error_cb(t->listener, accept_error_cb);
    if (getsockname(evconnlistener_get_fd(t->listener), (struct sockaddr *)&ss, &len) != 0)
        return -1;
    csed_format_addr(&ss, srv->http_addr, sizeof(srv->http_addr));
    snprintf(srv->poa_http, sizeof(srv->poa_http), "https://%s", srv->http_addr);
    return 0;
}

void csed_tls_stop(csed_t *srv)
{
    csed_tls_t *t = srv->tls;
    csed_conn_t *c, *next;
    unsigned grace =
        srv->cfg.handshake_timeout_s < STOP_GRACE_S ? srv->cfg.handshake_timeout_s : STOP_GRACE_S;

    if (t == NULL || t->stopping)
        return;
    t->stopping = 1;
    if (t->listener != NULL)
        evconnlistener_free(t->listener);
    t->listener = NULL;
    for (c = t->conns; c != NULL; c = next) {
        next = c->next;
        if (c->paused && !c->aborting)
            abort_paused(c, grace);
        else if (!c->paused)
            csed_conn_free(c);
    }
    if (t->conns == NULL)
        event_base_loopexit(srv->base, NULL);
    else
        csed_log(srv, SAEF_LOG_NOTICE, "waiting up to %u s for %zu paused handshake(s)", grace,
                 t->n_conns);
}

void csed_tls_release(csed_t *srv)
{
    csed_tls_t *t = srv->tls;

    if (t == NULL)
        return;
    t->stopping = 0; /* the loop is over: no loopexit from here on */
    while (t->conns != NULL)
        csed_conn_free(t->conns);
    if (t->listener != NULL)
        evconnlistener_free(t->listener);
    t->listener = NULL;
}

void csed_tls_free(csed_t *srv)
{
    csed_tls_t *t = srv->tls;

    if (t == NULL)
        return;
    csed_tls_release(srv);
    if (t->accept_pause != NULL)
        event_free(t->accept_pause);
    if (t->close_ev != NULL)
        event_free(t->close_ev);
    free(t->close_req);
    pthread_mutex_destroy(&t->lock);
    free(t);
    srv->tls = NULL;
}
