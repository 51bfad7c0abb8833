/*
 * OpenSSL adapter: PSK server callbacks for TLS 1.2 / DTLS 1.2 (psk_server_callback) and TLS 1.3
 * (psk_find_session_callback), pausing an SSL_MODE_ASYNC handshake while its key is fetched,
 * bindings for completed and resumed connections, and resumption bounded by Kc's lifetime.
 *
 * Everything that runs inside the PSK callbacks may run on an OpenSSL ASYNC fibre whose stack
 * is 32 KiB in OpenSSL 3.0: only parsing, cache lookups and queueing happen there.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/async.h>
#include <openssl/err.h>

#include "tls_internal.h"

/* TS-0003 10.2.2 mandates PSK-AES128-CBC-SHA256 (TLS) and PSK-AES128-CCM8 (DTLS); the ECDHE-PSK
 * suites add forward secrecy.  DHE-PSK is left out on purpose: it costs ~16 ms per handshake. */
#define SAEF_PSK_CIPHERS                                                                      \
    "ECDHE-PSK-AES128-CBC-SHA256:ECDHE-PSK-CHACHA20-POLY1305:PSK-AES128-GCM-SHA256:"            \
    "PSK-AES128-CCM8:PSK-AES128-CCM:PSK-AES128-CBC-SHA256:PSK-AES256-GCM-SHA384"

#define TICKET_APPDATA_MAX 1400

static void peer_of(SSL *ssl, char *buf, size_t cap)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char host[INET6_ADDRSTRLEN];
    int fd = SSL_get_fd(ssl);

    snprintf(buf, cap, "-");
    if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &len) != 0)
        return;
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;

        if (inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host)) != NULL)
            snprintf(buf, cap, "%s:%u", host, (unsigned)ntohs(a->sin_port));
    } else if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;

        if (inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host)) != NULL)
            snprintf(buf, cap, "[%s]:%u", host, (unsigned)ntohs(a->sin6_port));
    }
}

static const char *transport_of(const SSL *ssl)
{
    return SSL_is_dtls(ssl) ? "dtls" : "tls";
}

/*
 * Wait for a fetch.  Inside an ASYNC job (the host set SSL_MODE_ASYNC): hand OpenSSL an eventfd
 * the completion signals and pause the job until the flight is done or the host aborts.
 * Otherwise block for at most block_timeout_ms.
 */
static saef_rc_t wait_fetch(saef_tls_t *t, tls_conn_t *c, saef_cache_flight_t *flight,
                            saef_eb_answer_t *ans, char *detail, size_t detail_len)
{
    ASYNC_JOB *job = ASYNC_get_current_job();
    ASYNC_WAIT_CTX *wctx;
    struct timespec deadline, now;
    saef_rc_t rc = SAEF_OK;
    uint64_t drain;
    int efd;

    if (job == NULL || (wctx = ASYNC_get_wait_ctx(job)) == NULL ||
        (efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
        deadline = tls_deadline(t->p.block_timeout_ms);
        return saef_eb_finish(t->p.eb, flight, &deadline, ans, detail, detail_len);
    }
    if (!ASYNC_WAIT_CTX_set_wait_fd(wctx, t, efd, NULL, NULL) ||
        saef_cache_flight_subscribe_fd(flight, efd) != SAEF_OK) {
        ASYNC_WAIT_CTX_clear_fd(wctx, t);
        close(efd);
        deadline = tls_deadline(t->p.block_timeout_ms);
        return saef_eb_finish(t->p.eb, flight, &deadline, ans, detail, detail_len);
    }
    for (;;) {
        clock_gettime(CLOCK_REALTIME, &now);
        if (saef_cache_flight_poll(flight, &now, &rc, NULL))
            break;
        if (atomic_load(&c->aborted)) {
            rc = SAEF_E_STATE;
            snprintf(detail, detail_len, "handshake aborted by the host while the key was fetched");
            break;
        }
        if (!ASYNC_pause_job()) {
            rc = SAEF_E_INTERNAL;
            snprintf(detail, detail_len, "ASYNC_pause_job failed");
            break;
        }
        while (read(efd, &drain, sizeof(drain)) > 0)
            ;
    }
    saef_cache_flight_unsubscribe_fd(flight, efd);
    ASYNC_WAIT_CTX_clear_fd(wctx, t);
    close(efd);
    if (rc != SAEF_OK) {
        if (detail[0] == '\0')
            snprintf(detail, detail_len, "key retrieval: %s", saef_strerror(rc));
        saef_cache_flight_release(flight);
        return rc;
    }
    return saef_eb_finish(t->p.eb, flight, NULL, ans, detail, detail_len);
}

/* Bound what a session may do beyond this handshake: resumption never outlives Kc, and with
 * resumption off it never happens (the ticket data says so; see decrypt_ticket()). */
static void bound_session(saef_tls_t *t, SSL *ssl, SSL_SESSION *sess, const saef_eb_binding_t *b)
{
    char data[TICKET_APPDATA_MAX];
    struct timespec now;
    size_t n;
    long remaining;

    clock_gettime(CLOCK_REALTIME, &now);
    remaining = (long)(b->kc_expiry.tv_sec - now.tv_sec);
    if (remaining < 1 || !t->p.resumption) {
        remaining = 1;
        SSL_set_num_tickets(ssl, 0); /* TLS 1.3: no tickets for this connection */
    }
    if (sess == NULL)
        return;
    if (SSL_SESSION_get_timeout(sess) > remaining)
        SSL_SESSION_set_timeout(sess, remaining);
    n = saef_tls_binding_encode(b, t->p.resumption, data, sizeof(data));
    if (n > 0)
        SSL_SESSION_set1_ticket_appdata(sess, data, n);
}

/* The common decision.  Returns 1 with the answer when the module supplied the key, 0 when the
 * handshake must fail, -1 when the identity is not ours (try the host's callback). */
static int decide(saef_tls_t *t, SSL *ssl, const char *identity, size_t len,
                  saef_eb_answer_t *ans)
{
    char detail[SAEF_EB_DETAIL_MAX] = "";
    char peer[64];
    saef_cache_flight_t *flight;
    struct timespec now;
    tls_conn_t *c;
    saef_rc_t rc, cause;

    clock_gettime(CLOCK_REALTIME, &now);
    /* Before any wait: a host that gives up on a paused handshake shuts the socket down. */
    peer_of(ssl, peer, sizeof(peer));
    switch (saef_eb_begin(t->p.eb, identity, len, &now, ans, &rc, &cause, &flight, detail,
                          sizeof(detail))) {
    case SAEF_EB_NOT_OURS:
        return -1;
    case SAEF_EB_WAIT:
        c = tls_conn_get(t, ssl, ssl, 0);
        if (c == NULL) {
            saef_cache_flight_release(flight);
            rc = cause = SAEF_E_NOMEM;
            break;
        }
        rc = cause = wait_fetch(t, c, flight, ans, detail, sizeof(detail));
        break;
    case SAEF_EB_DONE:
        break;
    }
    if (rc == SAEF_OK && (rc = cause = tls_admit_room(t)) != SAEF_OK)
        snprintf(detail, sizeof(detail), "no room to record the association");
    if (rc == SAEF_OK) {
        c = tls_conn_get(t, ssl, ssl, 0);
        if (c == NULL)
            rc = cause = SAEF_E_NOMEM;
        else
            tls_conn_bind(t, c, &ans->binding, peer, transport_of(ssl));
    }
    tls_report(t, rc, cause, ans, peer, transport_of(ssl), detail);
    return rc == SAEF_OK ? 1 : 0;
}

static unsigned int psk_server_cb(SSL *ssl, const char *identity, unsigned char *psk,
                                  unsigned int max_psk_len)
{
    tls_attach_t *a = tls_attach_of(ssl);
    saef_eb_answer_t ans;
    unsigned int n = 0;
    int r = -1;

    if (a != NULL && identity != NULL)
        r = decide(a->t, ssl, identity, strlen(identity), &ans);
    if (r < 0) {
        char peer[64];

        if (a != NULL && a->prev.psk_server != NULL)
            return a->prev.psk_server(ssl, identity, psk, max_psk_len);
        if (a != NULL && identity != NULL) {
            peer_of(ssl, peer, sizeof(peer));
            tls_report_unknown(a->t, identity, strlen(identity), peer, transport_of(ssl));
        }
        return tls_decoy_key(psk, max_psk_len, SAEF_CACHE_PSK_MAX / 2);
    }
    if (r == 1 && ans.psk_len <= max_psk_len) {
        memcpy(psk, ans.psk, ans.psk_len);
        n = (unsigned int)ans.psk_len;
        bound_session(a->t, ssl, SSL_get_session(ssl), &ans.binding);
    } else {
        /* A refusal looks like a wrong key: the peer's Finished will not verify. */
        n = tls_decoy_key(psk, max_psk_len, SAEF_CACHE_PSK_MAX / 2);
    }
    saef_eb_answer_clear(&ans);
    return n;
}

/* TLS 1.3 external PSK: build the session OpenSSL resumes from.  The hash of the cipher must be
 * the negotiated one; TLS_AES_128_GCM_SHA256 when none is pending yet. */
static SSL_SESSION *psk_session(SSL *ssl, const uint8_t *key, size_t len)
{
    static const unsigned char aes128gcm[] = {0x13, 0x01};
    const SSL_CIPHER *cipher = SSL_get_pending_cipher(ssl);
    SSL_SESSION *sess;

    if (cipher == NULL || SSL_CIPHER_get_kx_nid(cipher) != NID_kx_any) /* not a TLS 1.3 suite */
        cipher = SSL_CIPHER_find(ssl, aes128gcm);
    sess = SSL_SESSION_new();
    if (sess == NULL || cipher == NULL || !SSL_SESSION_set1_master_key(sess, key, len) ||
        !SSL_SESSION_set_cipher(sess, cipher) ||
        !SSL_SESSION_set_protocol_version(sess, TLS1_3_VERSION)) {
        SSL_SESSION_free(sess);
        return NULL;
    }
    return sess;
}

/* A session with a random key: the peer's binder does not verify, exactly as with a wrong key. */
static SSL_SESSION *decoy_session(SSL *ssl)
{
    unsigned char key[SAEF_CACHE_PSK_MAX / 2];
    SSL_SESSION *sess = NULL;
    unsigned int n = tls_decoy_key(key, sizeof(key), sizeof(key));

    if (n > 0)
        sess = psk_session(ssl, key, n);
    OPENSSL_cleanse(key, sizeof(key));
    return sess;
}

/* Not ours: the host's TLS 1.3 callback, else its TLS 1.2 callback as OpenSSL itself would use
 * it without a find-session callback, else a decoy. */
static int find_session_host(tls_attach_t *a, SSL *ssl, const unsigned char *identity,
                             size_t identity_len, SSL_SESSION **sess)
{
    unsigned char host_psk[PSK_MAX_PSK_LEN];
    char id[PSK_MAX_IDENTITY_LEN + 1];
    char peer[64];
    unsigned int n;
    size_t i;
    bool binary = identity_len > PSK_MAX_IDENTITY_LEN;

    if (a != NULL && a->prev.find_session != NULL)
        return a->prev.find_session(ssl, identity, identity_len, sess);
    /* OpenSSL offers resumption tickets to this callback too: binary data that no identity
     * looks like.  Leave those to OpenSSL (no session: it decrypts the ticket itself). */
    for (i = 0; i < identity_len && !binary; i++)
        binary = identity[i] < 0x20 || identity[i] > 0x7e;
    if (binary)
        return 1;
    if (a != NULL && a->prev.psk_server != NULL) {
        memcpy(id, identity, identity_len);
        id[identity_len] = '\0';
        n = a->prev.psk_server(ssl, id, host_psk, sizeof(host_psk));
        *sess = n > 0 ? psk_session(ssl, host_psk, n) : decoy_session(ssl);
        OPENSSL_cleanse(host_psk, sizeof(host_psk));
        return 1;
    }
    if (a != NULL) {
        peer_of(ssl, peer, sizeof(peer));
        tls_report_unknown(a->t, (const char *)identity, identity_len, peer, transport_of(ssl));
    }
    *sess = decoy_session(ssl); /* an unknown identity fails like a wrong key */
    return 1;
}

static int find_session_cb(SSL *ssl, const unsigned char *identity, size_t identity_len,
                           SSL_SESSION **sess)
{
    tls_attach_t *a = tls_attach_of(ssl);
    saef_eb_answer_t ans;
    int r;

    *sess = NULL;
    if (a == NULL)
        return find_session_host(NULL, ssl, identity, identity_len, sess);
    r = decide(a->t, ssl, (const char *)identity, identity_len, &ans);
    if (r < 0)
        return find_session_host(a, ssl, identity, identity_len, sess);
    if (r == 1) {
        *sess = psk_session(ssl, ans.psk, ans.psk_len);
        if (*sess != NULL)
            bound_session(a->t, ssl, *sess, &ans.binding);
    }
    saef_eb_answer_clear(&ans);
    if (*sess == NULL)
        *sess = decoy_session(ssl);
    return 1;
}

/* Resumption of a module session (TLS 1.2 ticket, TLS 1.3 resumption PSK): only while resumption
 * is allowed and Kc still lives; then the connection keeps its binding.  Other sessions are the
 * host's business and pass unchanged. */
static SSL_TICKET_RETURN decrypt_ticket(SSL *ssl, SSL_SESSION *sess, const unsigned char *keyname,
                                        size_t keyname_len, SSL_TICKET_STATUS status, void *arg)
{
    char peer[80];
    tls_attach_t *a = arg;
    saef_eb_binding_t b;
    struct timespec now;
    void *data = NULL;
    size_t len = 0;
    bool resumable;
    tls_conn_t *c;

    (void)keyname;
    (void)keyname_len;
    if (status != SSL_TICKET_SUCCESS && status != SSL_TICKET_SUCCESS_RENEW)
        return status == SSL_TICKET_FATAL_ERR_MALLOC || status == SSL_TICKET_FATAL_ERR_OTHER
                   ? SSL_TICKET_RETURN_ABORT
                   : SSL_TICKET_RETURN_IGNORE_RENEW;
    if (!SSL_SESSION_get0_ticket_appdata(sess, &data, &len) || len == 0 ||
        saef_tls_binding_decode(data, len, &b, &resumable) != SAEF_OK)
        return status == SSL_TICKET_SUCCESS ? SSL_TICKET_RETURN_USE : SSL_TICKET_RETURN_USE_RENEW;
    clock_gettime(CLOCK_REALTIME, &now);
    if (!resumable || !a->t->p.resumption || b.kc_expiry.tv_sec <= now.tv_sec)
        return SSL_TICKET_RETURN_IGNORE; /* full handshake: the PSK callback decides afresh */
    c = tls_conn_get(a->t, ssl, ssl, 0);
    if (c == NULL)
        return SSL_TICKET_RETURN_IGNORE;
    peer_of(ssl, peer, sizeof(peer));
    tls_conn_bind(a->t, c, &b, peer, transport_of(ssl));
    return SSL_TICKET_RETURN_USE;
}

static int generate_ticket(SSL *ssl, void *arg)
{
    (void)ssl;
    (void)arg;
    return 1; /* the application data was set on the session by bound_session() */
}

/* Our PSK suites first, then the host's own non-PSK suites (certificates keep working). */
static saef_rc_t set_ciphers(SSL_CTX *ctx)
{
    STACK_OF(SSL_CIPHER) *sk = SSL_CTX_get_ciphers(ctx);
    char list[4096];
    size_t used;
    int i;

    used = (size_t)snprintf(list, sizeof(list), "%s", SAEF_PSK_CIPHERS);
    for (i = 0; sk != NULL && i < sk_SSL_CIPHER_num(sk); i++) {
        const SSL_CIPHER *c = sk_SSL_CIPHER_value(sk, i);
        int kx = SSL_CIPHER_get_kx_nid(c);
        int n;

        if (kx == NID_kx_psk || kx == NID_kx_dhe_psk || kx == NID_kx_ecdhe_psk ||
            kx == NID_kx_rsa_psk || kx == NID_kx_any)
            continue; /* PSK suites are ours to choose; TLS 1.3 suites have their own list */
        n = snprintf(list + used, sizeof(list) - used, ":%s", SSL_CIPHER_get_name(c));
        if (n < 0 || (size_t)n >= sizeof(list) - used)
            break;
        used += (size_t)n;
    }
    return SSL_CTX_set_cipher_list(ctx, list) == 1 ? SAEF_OK : SAEF_E_INTERNAL;
}

/* After a module handshake without resumption: take the session out of the server cache so a
 * session ID cannot bring it back (tickets are refused in decrypt_ticket()). */
static void info_cb(const SSL *ssl, int type, int val)
{
    tls_attach_t *a = tls_attach_of(ssl);
    int ic, in;

    if (a == NULL)
        return;
    if ((type & SSL_CB_HANDSHAKE_DONE) && !a->t->p.resumption && tls_indexes(&ic, &in) &&
        SSL_get_ex_data(ssl, in) != NULL && SSL_get_session(ssl) != NULL)
        SSL_CTX_remove_session(SSL_get_SSL_CTX(ssl), SSL_get_session(ssl));
    if (a->prev_info != NULL)
        a->prev_info(ssl, type, val);
}

saef_rc_t saef_tls_attach_openssl(saef_tls_t *t, struct ssl_ctx_st *ctx,
                                  const saef_psk_chain_t *prev)
{
    tls_attach_t *a;
    int ic, in;

    if (t == NULL || ctx == NULL)
        return SAEF_E_INVALID_ARG;
    if (!tls_indexes(&ic, &in))
        return SAEF_E_INTERNAL;
    a = tls_attach_new(t, prev);
    if (a == NULL)
        return SAEF_E_NOMEM;
    a->prev_info = SSL_CTX_get_info_callback(ctx);
    if (set_ciphers(ctx) != SAEF_OK || !SSL_CTX_set_ex_data(ctx, ic, a) ||
        !SSL_CTX_set_session_ticket_cb(ctx, generate_ticket, decrypt_ticket, a))
        return SAEF_E_INTERNAL;
    if (t->p.resumption) {
        /* resumption = bounded is the module's policy for its sessions: tickets and the server
         * session cache on, each module session bounded by its Kc (bound_session()). */
        SSL_CTX_clear_options(ctx, SSL_OP_NO_TICKET);
        if (SSL_CTX_get_num_tickets(ctx) == 0)
            SSL_CTX_set_num_tickets(ctx, 1);
        if ((SSL_CTX_get_session_cache_mode(ctx) & SSL_SESS_CACHE_SERVER) == 0)
            SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    }
    SSL_CTX_set_psk_server_callback(ctx, psk_server_cb);
    SSL_CTX_set_psk_find_session_callback(ctx, find_session_cb);
    SSL_CTX_set_info_callback(ctx, info_cb);
    return SAEF_OK;
}

saef_rc_t saef_tls_binding_ssl(saef_tls_t *t, const struct ssl_st *ssl, saef_eb_binding_t *out)
{
    if (t == NULL || ssl == NULL || out == NULL)
        return SAEF_E_INVALID_ARG;
    return tls_conn_binding(t, ssl, out);
}

void saef_tls_abort(saef_tls_t *t, struct ssl_st *ssl)
{
    tls_conn_t *c;
    int ic, in;

    if (t == NULL || ssl == NULL || !tls_indexes(&ic, &in))
        return;
    c = SSL_get_ex_data(ssl, in);
    if (c != NULL)
        atomic_store(&c->aborted, 1);
}
