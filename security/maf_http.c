/*
 * The HTTP/1.1 + TLS + JSON binding of docs/maf-binding.md, with libcurl's multi interface on the
 * client's worker thread.
 *
 * One easy handle per MAF, and at most one transfer on it at a time: the next request to that
 * MAF waits in a FIFO here and then reuses the kept-alive connection, so a cold key costs one
 * request rather than a TLS handshake.  (CURLMOPT_MAX_HOST_CONNECTIONS would do the same per
 * host, but libcurl counts it per connect-to address, so two MAFs pinned to one address would
 * close each other's connections.)  Request deadlines are absolute, so time spent waiting in
 * the FIFO counts against request_timeout_ms.
 *
 * Process-global state: libcurl needs curl_global_init() once per process; we call it under
 * pthread_once and never call curl_global_cleanup(), because other libcurl users in the host
 * process may still need it.  One SSL_CTX ex_data index is allocated at the same time (the PSK
 * callback has no argument of its own).  Nothing else process-wide is set.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "saef_maf_internal.h"
#include "saef_time.h"

/* docs/maf-binding.md 3.2 and 3.3: the suites a client offers. */
#define CERT_CIPHERS_TLS12 "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-SHA256"
#define CERT_CIPHERS_TLS13                                                                         \
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
#define PSK_CIPHERS_TLS12                                                                          \
    "ECDHE-PSK-CHACHA20-POLY1305:ECDHE-PSK-AES128-CBC-SHA256:PSK-AES128-CBC-SHA256"
/* A TLS 1.3 external PSK from the TLS 1.2 callback is bound to SHA-256. */
#define PSK_CIPHERS_TLS13 "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256"
#define GROUPS "X25519:P-256"
#define IDLE_REUSE_MAX_S 110L /* section 8: the MAF keeps idle connections >= 120 s */

typedef struct http http_t;

typedef struct hep {
    http_t *h; /* borrowed: the binding */
    size_t idx;
    const saef_maf_endpoint_t *cfg; /* borrowed from the client */
    CURL *easy;                     /* owned */
    struct curl_slist *connect_to;  /* owned */
    struct curl_slist *headers;     /* owned, of the current request */
    char *put_url;                  /* owned, of the current request */
    char *host;                     /* owned: host of the URIs as libcurl parsed it */
    const char *origin;             /* borrowed: X-M2M-Origin */
    saef_maf_op_t *cur;             /* the transfer in progress */
    saef_maf_op_t *qhead, *qtail;   /* waiting for the connection */
    char ri[SAEF_MAF_RI_MAX + 1];   /* X-M2M-RI of the current request */
    char *body;                     /* owned: SAEF_MAF_BODY_MAX bytes, wiped after each use */
    size_t body_len;
    bool body_overflow;
    int alert_in, alert_out; /* fatal TLS alert of this transfer, -1 when none */
    bool psk_refused;        /* PSK mode: the MAF sent a certificate instead */
    char errbuf[CURL_ERROR_SIZE];
} hep_t;

struct http {
    CURLM *multi; /* owned */
    hep_t *eps;   /* owned array */
    size_t n;
    saef_maf_binding_env_t env;
    char ri_prefix[24];
    uint64_t ri_seq;
};

/* ---- process-wide, once ------------------------------------------------------------------- */

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static saef_rc_t global_rc = SAEF_E_INTERNAL; /* written once, inside pthread_once */
static int ctx_ex_index = -1;                 /* written once, inside pthread_once */

static void global_init(void)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return;
    const curl_version_info_data *vi = curl_version_info(CURLVERSION_NOW);
    /* The SSL_CTX callback and the PSK setup below are OpenSSL calls on libcurl's context. */
    if (vi == NULL || vi->ssl_version == NULL || strncmp(vi->ssl_version, "OpenSSL/", 8) != 0) {
        global_rc = SAEF_E_NOT_SUPPORTED;
        return;
    }
    ctx_ex_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    global_rc = ctx_ex_index >= 0 ? SAEF_OK : SAEF_E_INTERNAL;
}

/* ---- TLS callbacks ------------------------------------------------------------------------ */

/* Remember fatal alerts in either direction: with TLS 1.3 a rejected client certificate only
 * shows as an alert on the first read (3.4), and must count as an authentication failure, not
 * as a transport error.  close_notify and user_canceled end connections normally. */
static void on_tls_msg(int write_p, int version, int content_type, const void *buf, size_t len,
                       SSL *ssl, void *arg)
{
    hep_t *ep = arg;
    const unsigned char *b = buf;

    (void)version;
    (void)ssl;
    if (ep == NULL || content_type != SSL3_RT_ALERT || len < 2)
        return;
    if (b[1] == SSL3_AD_CLOSE_NOTIFY || b[1] == SSL_AD_USER_CANCELLED)
        return;
    if (write_p)
        ep->alert_out = b[1];
    else
        ep->alert_in = b[1];
}

/* TLS-PSK (3.3): identity = KmID, key = Km.  Used for TLS 1.2, and by OpenSSL for a TLS 1.3
 * external PSK with SHA-256. */
static unsigned int on_psk(SSL *ssl, const char *hint, char *identity,
                           unsigned int max_identity_len, unsigned char *psk,
                           unsigned int max_psk_len)
{
    (void)hint;
    const hep_t *ep = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ctx_ex_index);
    if (ep == NULL || ep->cfg->kmid == NULL || ep->cfg->km == NULL)
        return 0;
    size_t idlen = strlen(ep->cfg->kmid);
    if (idlen + 1 > max_identity_len || ep->cfg->km_len > max_psk_len)
        return 0;
    memcpy(identity, ep->cfg->kmid, idlen + 1);
    memcpy(psk, ep->cfg->km, ep->cfg->km_len);
    return (unsigned int)ep->cfg->km_len;
}

/* PSK mode: a server certificate means the PSK was not used (a TLS 1.3 server may ignore it and
 * continue with a certificate we have no anchor for): fail the handshake (3.3).  In a PSK
 * handshake this is never called. */
static int reject_any_certificate(int preverify_ok, X509_STORE_CTX *store)
{
    (void)preverify_ok;
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    hep_t *ep = ssl != NULL ? SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ctx_ex_index) : NULL;
    if (ep != NULL)
        ep->psk_refused = true; /* for the detail: say why, not just "unknown CA" */
    return 0;
}

static CURLcode on_ssl_ctx(CURL *curl, void *sslctx, void *userptr)
{
    SSL_CTX *ctx = sslctx;
    hep_t *ep = userptr;

    (void)curl;
    SSL_CTX_set_msg_callback(ctx, on_tls_msg);
    SSL_CTX_set_msg_callback_arg(ctx, ep);
    /* No resumption, no tickets, no renegotiation, no compression (3.1). */
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    if (ep->cfg->auth == SAEF_MAF_AUTH_PSK) {
        if (SSL_CTX_set_ex_data(ctx, ctx_ex_index, ep) != 1)
            return CURLE_SSL_CONNECT_ERROR;
        SSL_CTX_set_psk_client_callback(ctx, on_psk);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, reject_any_certificate);
    }
    return CURLE_OK;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
    hep_t *ep = userdata;
    size_t n = size * nmemb;

    if (n > SAEF_MAF_BODY_MAX - ep->body_len) {
        ep->body_overflow = true;
        return 0; /* libcurl aborts with CURLE_WRITE_ERROR */
    }
    memcpy(ep->body + ep->body_len, data, n);
    ep->body_len += n;
    return n;
}

/* ---- setup -------------------------------------------------------------------------------- */

#define SETOPT(ok, easy, opt, val)                                                                 \
    ((ok) = (ok) && curl_easy_setopt((easy), (opt), (val)) == CURLE_OK)

static saef_rc_t setup_easy(hep_t *ep)
{
    const saef_maf_endpoint_t *e = ep->cfg;
    CURL *c = ep->easy;
    bool ok = true;
    bool cert = e->auth == SAEF_MAF_AUTH_CERT;

    SETOPT(ok, c, CURLOPT_PRIVATE, (void *)ep);
    SETOPT(ok, c, CURLOPT_NOSIGNAL, 1L);
    SETOPT(ok, c, CURLOPT_PROTOCOLS_STR, "https");
    SETOPT(ok, c, CURLOPT_REDIR_PROTOCOLS_STR, "https");
    SETOPT(ok, c, CURLOPT_FOLLOWLOCATION, 0L);
    SETOPT(ok, c, CURLOPT_PROXY, ""); /* never a proxy from the environment */
    SETOPT(ok, c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    SETOPT(ok, c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    SETOPT(ok, c, CURLOPT_SSL_SESSIONID_CACHE, 0L);
    SETOPT(ok, c, CURLOPT_SSL_EC_CURVES, GROUPS);
    SETOPT(ok, c, CURLOPT_TCP_KEEPALIVE, 1L);
    SETOPT(ok, c, CURLOPT_MAXAGE_CONN, IDLE_REUSE_MAX_S);
    SETOPT(ok, c, CURLOPT_WRITEFUNCTION, on_body);
    SETOPT(ok, c, CURLOPT_WRITEDATA, (void *)ep);
    SETOPT(ok, c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)SAEF_MAF_BODY_MAX);
    SETOPT(ok, c, CURLOPT_ERRORBUFFER, ep->errbuf);
    SETOPT(ok, c, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx);
    SETOPT(ok, c, CURLOPT_SSL_CTX_DATA, (void *)ep);
    SETOPT(ok, c, CURLOPT_CAPATH, (char *)NULL); /* only the configured anchors */
    if (ep->connect_to != NULL)
        SETOPT(ok, c, CURLOPT_CONNECT_TO, ep->connect_to);
    if (cert) {
        SETOPT(ok, c, CURLOPT_CAINFO, e->ca_file);
        SETOPT(ok, c, CURLOPT_SSLCERT, e->client_cert);
        SETOPT(ok, c, CURLOPT_SSLCERTTYPE, "PEM");
        SETOPT(ok, c, CURLOPT_SSLKEY, e->client_key);
        SETOPT(ok, c, CURLOPT_SSLKEYTYPE, "PEM");
        SETOPT(ok, c, CURLOPT_SSL_VERIFYPEER, 1L);
        SETOPT(ok, c, CURLOPT_SSL_VERIFYHOST, 2L);
        SETOPT(ok, c, CURLOPT_SSL_CIPHER_LIST, CERT_CIPHERS_TLS12);
        SETOPT(ok, c, CURLOPT_TLS13_CIPHERS, CERT_CIPHERS_TLS13);
    } else {
        /* The PSK authenticates the MAF; libcurl's own certificate check would fail for want
         * of a certificate, and on_ssl_ctx() makes any certificate fail the handshake. */
        SETOPT(ok, c, CURLOPT_CAINFO, (char *)NULL);
        SETOPT(ok, c, CURLOPT_SSL_VERIFYPEER, 0L);
        SETOPT(ok, c, CURLOPT_SSL_VERIFYHOST, 0L);
        SETOPT(ok, c, CURLOPT_SSL_CIPHER_LIST, PSK_CIPHERS_TLS12);
        SETOPT(ok, c, CURLOPT_TLS13_CIPHERS, PSK_CIPHERS_TLS13);
    }
    return ok ? SAEF_OK : SAEF_E_INTERNAL;
}

static void http_destroy(void *b);

static saef_rc_t http_create(const saef_maf_binding_env_t *env, void **out, char *detail,
                             size_t detail_len)
{
    saef_rc_t rc;

    *out = NULL;
    pthread_once(&global_once, global_init);
    if (global_rc != SAEF_OK)
        return saef_maf_detail(global_rc, detail, detail_len,
                               global_rc == SAEF_E_NOT_SUPPORTED
                                   ? "libcurl is not built with OpenSSL"
                                   : "libcurl initialisation failed");
    http_t *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return saef_maf_detail(SAEF_E_NOMEM, detail, detail_len, "allocating the binding");
    h->env = *env;
    h->n = env->n_eps;
    h->eps = calloc(h->n, sizeof(*h->eps));
    h->multi = curl_multi_init();
    if (h->eps == NULL || h->multi == NULL) {
        http_destroy(h);
        return saef_maf_detail(SAEF_E_NOMEM, detail, detail_len, "allocating the binding");
    }
    /* Keep one idle connection per MAF (plus slack for registration racing a retrieval). */
    curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, (long)(2 * h->n + 2));

    uint8_t rnd[8];
    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        http_destroy(h);
        return saef_maf_detail(SAEF_E_INTERNAL, detail, detail_len, "RAND_bytes failed");
    }
    snprintf(h->ri_prefix, sizeof(h->ri_prefix), "saef-%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0],
             rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);

    for (size_t i = 0; i < h->n; i++) {
        hep_t *ep = &h->eps[i];
        const saef_maf_endpoint_t *e = &env->eps[i];
        char *host2 = NULL;
        ep->h = h;
        ep->idx = i;
        ep->cfg = e;
        ep->alert_in = ep->alert_out = -1;
        ep->origin = e->auth == SAEF_MAF_AUTH_PSK ? e->kmid : env->origin;
        rc = saef_maf_http_check_uri(e, "key_retrieval_uri", e->key_retrieval_uri,
                                     SAEF_MAF_SUFFIX_RETRIEVAL, &ep->host, detail, detail_len);
        if (rc == SAEF_OK && e->client_registration_uri != NULL) {
            rc = saef_maf_http_check_uri(e, "client_registration_uri", e->client_registration_uri,
                                         SAEF_MAF_SUFFIX_REGISTRATION, &host2, detail, detail_len);
            free(host2);
        }
        if (rc == SAEF_OK && e->connect_to != NULL && !saef_maf_http_connect_to_ok(e->connect_to))
            rc =
                saef_maf_detail(SAEF_E_INVALID_ARG, detail, detail_len,
                                "MAF %s: connect_to '%s' is not HOST:PORT", e->fqdn, e->connect_to);
        if (rc == SAEF_OK)
            rc = saef_maf_http_check_credentials(e, detail, detail_len);
        if (rc == SAEF_OK && e->connect_to != NULL) {
            /* "HOST::CONNECT-HOST:PORT": any port of the URI host goes to CONNECT-HOST:PORT;
             * TLS still uses the URI host for SNI and the certificate check. */
            size_t len = strlen(ep->host) + strlen(e->connect_to) + 3;
            char *rule = malloc(len);
            if (rule != NULL) {
                snprintf(rule, len, "%s::%s", ep->host, e->connect_to);
                ep->connect_to = curl_slist_append(NULL, rule);
                free(rule);
            }
            if (ep->connect_to == NULL)
                rc = saef_maf_detail(SAEF_E_NOMEM, detail, detail_len, "connect_to");
        }
        if (rc == SAEF_OK) {
            ep->body = malloc(SAEF_MAF_BODY_MAX);
            ep->easy = curl_easy_init();
            if (ep->body == NULL || ep->easy == NULL)
                rc =
                    saef_maf_detail(SAEF_E_NOMEM, detail, detail_len, "allocating MAF %s", e->fqdn);
        }
        if (rc == SAEF_OK && setup_easy(ep) != SAEF_OK)
            rc = saef_maf_detail(SAEF_E_INTERNAL, detail, detail_len,
                                 "MAF %s: libcurl refused an option", e->fqdn);
        if (rc != SAEF_OK) {
            http_destroy(h);
            return rc;
        }
    }
    *out = h;
    return SAEF_OK;
}

static void http_destroy(void *b)
{
    http_t *h = b;

    if (h == NULL)
        return;
    for (size_t i = 0; h->eps != NULL && i < h->n; i++) {
        if (h->eps[i].cur != NULL && h->multi != NULL)
            curl_multi_remove_handle(h->multi, h->eps[i].easy);
    }
    /* Cached connections close here and may still report alerts to their endpoint, so the
     * endpoints outlive the multi handle. */
    if (h->multi != NULL)
        curl_multi_cleanup(h->multi);
    for (size_t i = 0; h->eps != NULL && i < h->n; i++) {
        hep_t *ep = &h->eps[i];
        if (ep->easy != NULL)
            curl_easy_cleanup(ep->easy);
        curl_slist_free_all(ep->connect_to);
        curl_slist_free_all(ep->headers);
        free(ep->put_url);
        free(ep->host);
        if (ep->body != NULL) {
            OPENSSL_cleanse(ep->body, SAEF_MAF_BODY_MAX);
            free(ep->body);
        }
    }
    free(h->eps);
    free(h);
}

/* ---- one exchange ------------------------------------------------------------------------- */

static char *request_body(const hep_t *ep, const saef_maf_op_t *op)
{
    char ts[SAEF_TS_BUF_SIZE];
    json_t *obj;

    if (op->kind == SAEF_MAF_OP_RETRIEVE) {
        /* The RelativeKeyID travels in the body, escaped by the JSON encoder (9). */
        obj = json_pack("{s:s}", "relativeKeyID", op->rel);
    } else {
        if (saef_ts_from_time(op->proposed_expiry, ts, sizeof(ts)) != SAEF_OK)
            return NULL;
        if (op->kind == SAEF_MAF_OP_REGISTER)
            obj = json_pack("{s:s, s:s, s:s}", "mafFQDN", ep->cfg->fqdn, "expirationTime", ts,
                            "adminFQDN", ep->cfg->admin_fqdn);
        else
            obj = json_pack("{s:s, s:s}", "mafFQDN", ep->cfg->fqdn, "expirationTime", ts);
    }
    if (obj == NULL)
        return NULL;
    char *text = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    return text;
}

/* The binding's request headers (5.1); NULL when out of memory. */
static struct curl_slist *request_headers(const hep_t *ep)
{
    char origin[SAEF_MAF_ORIGIN_MAX + 32], ri[SAEF_MAF_RI_MAX + 32];
    snprintf(origin, sizeof(origin), "X-M2M-Origin: %s", ep->origin);
    snprintf(ri, sizeof(ri), "X-M2M-RI: %s", ep->ri);
    /* An empty "Expect:" stops libcurl from sending Expect: 100-continue. */
    const char *const lines[] = {
        origin,   ri, "X-M2M-RVI: 3", "Accept: application/json", "Content-Type: application/json",
        "Expect:"};
    struct curl_slist *list = NULL;

    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        struct curl_slist *next = curl_slist_append(list, lines[i]);
        if (next == NULL) {
            curl_slist_free_all(list);
            return NULL;
        }
        list = next;
    }
    return list;
}

static saef_rc_t begin(http_t *h, hep_t *ep, saef_maf_op_t *op, uint64_t remaining_ms)
{
    const saef_maf_endpoint_t *e = ep->cfg;
    CURL *c = ep->easy;
    const char *url;
    bool ok = true;

    snprintf(ep->ri, sizeof(ep->ri), "%s-%llu", h->ri_prefix, (unsigned long long)++h->ri_seq);
    curl_slist_free_all(ep->headers);
    ep->headers = request_headers(ep);
    if (ep->headers == NULL)
        return saef_maf_detail(SAEF_E_NOMEM, op->detail, sizeof(op->detail), "request headers");

    free(ep->put_url);
    ep->put_url = NULL;
    if (op->kind == SAEF_MAF_OP_RETRIEVE) {
        url = e->key_retrieval_uri;
    } else if (op->kind == SAEF_MAF_OP_REGISTER) {
        url = e->client_registration_uri;
    } else {
        size_t len = strlen(e->client_registration_uri) + strlen(op->reg_id) + 2;
        ep->put_url = malloc(len);
        if (ep->put_url == NULL)
            return saef_maf_detail(SAEF_E_NOMEM, op->detail, sizeof(op->detail), "URL");
        snprintf(ep->put_url, len, "%s/%s", e->client_registration_uri, op->reg_id);
        url = ep->put_url;
    }
    char *body = request_body(ep, op);
    if (body == NULL)
        return saef_maf_detail(SAEF_E_NOMEM, op->detail, sizeof(op->detail), "request body");

    long total = remaining_ms > 0 ? (long)remaining_ms : 1L;
    long connect = (long)e->connect_timeout_ms < total ? (long)e->connect_timeout_ms : total;
    SETOPT(ok, c, CURLOPT_URL, url);
    SETOPT(ok, c, CURLOPT_HTTPHEADER, ep->headers);
    SETOPT(ok, c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    SETOPT(ok, c, CURLOPT_COPYPOSTFIELDS, body);
    SETOPT(ok, c, CURLOPT_CUSTOMREQUEST, op->kind == SAEF_MAF_OP_REREGISTER ? "PUT" : NULL);
    SETOPT(ok, c, CURLOPT_TIMEOUT_MS, total);
    SETOPT(ok, c, CURLOPT_CONNECTTIMEOUT_MS, connect);
    free(body);
    if (!ok)
        return saef_maf_detail(SAEF_E_INTERNAL, op->detail, sizeof(op->detail),
                               "libcurl refused a request option");

    ep->body_len = 0;
    ep->body_overflow = false;
    ep->alert_in = ep->alert_out = -1;
    ep->psk_refused = false;
    ep->errbuf[0] = '\0';
    if (curl_multi_add_handle(h->multi, c) != CURLM_OK)
        return saef_maf_detail(SAEF_E_INTERNAL, op->detail, sizeof(op->detail),
                               "curl_multi_add_handle failed");
    return SAEF_OK;
}

static void start_next(http_t *h, hep_t *ep)
{
    while (ep->cur == NULL && ep->qhead != NULL) {
        saef_maf_op_t *op = ep->qhead;
        ep->qhead = op->binding_next;
        if (ep->qhead == NULL)
            ep->qtail = NULL;
        op->binding_next = NULL;
        uint64_t now = saef_maf_now_ms();
        if (now >= op->deadline_ms) {
            op->rc = saef_maf_detail(SAEF_E_MAF_TIMEOUT, op->detail, sizeof(op->detail),
                                     "deadline of %u ms passed while queued for the "
                                     "connection to %s",
                                     ep->cfg->request_timeout_ms, ep->cfg->fqdn);
            h->env.complete(h->env.ctx, op);
            continue;
        }
        op->rc = begin(h, ep, op, op->deadline_ms - now);
        if (op->rc != SAEF_OK) {
            h->env.complete(h->env.ctx, op);
            continue;
        }
        ep->cur = op;
    }
}

static void http_start(void *b, saef_maf_op_t *op)
{
    http_t *h = b;
    hep_t *ep = &h->eps[op->ep];

    op->binding_next = NULL;
    if (ep->qtail != NULL)
        ep->qtail->binding_next = op;
    else
        ep->qhead = op;
    ep->qtail = op;
    start_next(h, ep);
}

/* A transfer that ended without an HTTP response: what kind of failure was it? */
/* Certificate mode, a TLS 1.3 handshake this transfer completed, and not one response byte. */
static bool closed_after_tls_handshake(const hep_t *ep)
{
    curl_off_t app_us = 0;
    struct curl_tlssessioninfo *tls = NULL;

    if (ep->cfg->auth != SAEF_MAF_AUTH_CERT || ep->body_len > 0 ||
        curl_easy_getinfo(ep->easy, CURLINFO_APPCONNECT_TIME_T, &app_us) != CURLE_OK ||
        app_us <= 0)
        return false;
    if (curl_easy_getinfo(ep->easy, CURLINFO_TLS_SSL_PTR, &tls) == CURLE_OK && tls != NULL &&
        tls->backend == CURLSSLBACKEND_OPENSSL && tls->internals != NULL)
        return SSL_version(tls->internals) == TLS1_3_VERSION;
    return true; /* the connection is gone already: the completed handshake is what we know */
}

static void classify_transport(const hep_t *ep, saef_maf_op_t *op, CURLcode res)
{
    const char *fqdn = ep->cfg->fqdn;
    char err[CURL_ERROR_SIZE];
    saef_maf_sanitize(err, sizeof(err), ep->errbuf[0] ? ep->errbuf : curl_easy_strerror(res),
                      strlen(ep->errbuf[0] ? ep->errbuf : curl_easy_strerror(res)), 160);

    if (res == CURLE_OPERATION_TIMEDOUT) {
        op->rc = saef_maf_detail(SAEF_E_MAF_TIMEOUT, op->detail, sizeof(op->detail),
                                 "%s did not answer in time: %s", fqdn, err);
    } else if (ep->body_overflow || res == CURLE_FILESIZE_EXCEEDED) {
        op->rc = saef_maf_detail(SAEF_E_MAF_JSON, op->detail, sizeof(op->detail),
                                 "%s sent a body larger than %d bytes", fqdn, SAEF_MAF_BODY_MAX);
    } else if (ep->psk_refused) {
        op->rc = saef_maf_detail(SAEF_E_MAF_AUTH, op->detail, sizeof(op->detail),
                                 "%s answered our PSK handshake with a certificate: it does not "
                                 "know KmID %s (or it is not the MAF)",
                                 fqdn, ep->cfg->kmid);
    } else if (ep->alert_in >= 0 || ep->alert_out >= 0) {
        bool in = ep->alert_in >= 0;
        op->rc = saef_maf_detail(SAEF_E_MAF_AUTH, op->detail, sizeof(op->detail),
                                 "TLS with %s failed: alert %s %s (%s)", fqdn,
                                 SSL_alert_desc_string_long(in ? ep->alert_in : ep->alert_out),
                                 in ? "received" : "sent", err);
    } else {
        switch (res) {
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_CIPHER:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        case CURLE_SSL_INVALIDCERTSTATUS:
            op->rc = saef_maf_detail(SAEF_E_MAF_AUTH, op->detail, sizeof(op->detail),
                                     "TLS with %s failed: %s", fqdn, err);
            break;
        case CURLE_OUT_OF_MEMORY:
            op->rc =
                saef_maf_detail(SAEF_E_NOMEM, op->detail, sizeof(op->detail), "libcurl: %s", err);
            break;
        case CURLE_WEIRD_SERVER_REPLY:
        case CURLE_UNSUPPORTED_PROTOCOL:
        case CURLE_TOO_MANY_REDIRECTS:
            op->rc = saef_maf_detail(SAEF_E_MAF_HTTP_STATUS, op->detail, sizeof(op->detail),
                                     "%s did not speak the binding's HTTP: %s", fqdn, err);
            break;
        case CURLE_BAD_FUNCTION_ARGUMENT:
        case CURLE_UNKNOWN_OPTION:
        case CURLE_NOT_BUILT_IN:
        case CURLE_FAILED_INIT:
            op->rc = saef_maf_detail(SAEF_E_INTERNAL, op->detail, sizeof(op->detail), "libcurl: %s",
                                     err);
            break;
        default:
            if (closed_after_tls_handshake(ep)) {
                /* TLS 1.3 sends the server's verdict on our certificate after the handshake;
                 * a MAF that rejects it and closes at once often resets the connection before
                 * libcurl reads the alert (binding section 3.4): authentication, not an
                 * outage, and no reason to open the breaker. */
                op->rc = saef_maf_detail(SAEF_E_MAF_AUTH, op->detail, sizeof(op->detail),
                                         "%s closed the connection right after the TLS "
                                         "handshake, before any answer: it rejected our client "
                                         "certificate (%s)",
                                         fqdn, err);
                break;
            }
            /* Resolve, connect, reset, EOF before an answer: the MAF is not reachable. */
            op->rc = saef_maf_detail(SAEF_E_MAF_UNREACHABLE, op->detail, sizeof(op->detail),
                                     "%s unreachable: %s", fqdn, err);
            break;
        }
    }
}

/* Copy one response header; NULL value when absent. */
static saef_rc_t get_header(CURL *c, const char *name, saef_maf_hdr_t *out, char **copy)
{
    struct curl_header *hd = NULL;

    out->value = NULL;
    out->count = 0;
    *copy = NULL;
    if (curl_easy_header(c, name, 0, CURLH_HEADER, -1, &hd) != CURLHE_OK || hd == NULL)
        return SAEF_OK;
    *copy = strdup(hd->value != NULL ? hd->value : "");
    if (*copy == NULL)
        return SAEF_E_NOMEM;
    out->value = *copy;
    out->count = hd->amount > 0 ? (unsigned)hd->amount : 1u;
    return SAEF_OK;
}

static void validate(const hep_t *ep, saef_maf_op_t *op, long status)
{
    static const char *const names[] = {"X-M2M-RSC",    "X-M2M-RI",         "X-M2M-RVI",
                                        "Content-Type", "Content-Encoding", "Content-Location"};
    saef_maf_response_t r = {.status = status, .body = ep->body, .body_len = ep->body_len};
    saef_maf_hdr_t *slots[] = {
        &r.rsc, &r.ri, &r.rvi, &r.content_type, &r.content_encoding, &r.content_location};
    char *copies[6] = {NULL};
    saef_rc_t rc = SAEF_OK;

    for (size_t i = 0; i < 6 && rc == SAEF_OK; i++)
        rc = get_header(ep->easy, names[i], slots[i], &copies[i]);
    if (rc != SAEF_OK) {
        op->rc = saef_maf_detail(rc, op->detail, sizeof(op->detail), "response headers");
    } else {
        saef_maf_expect_t exp = {
            .ri = ep->ri, .accepted_suid = ep->cfg->accepted_suid, .psk_len = ep->cfg->psk_length};
        clock_gettime(CLOCK_REALTIME, &exp.now);
        if (op->kind == SAEF_MAF_OP_RETRIEVE)
            op->rc =
                saef_maf_answer_key(&r, &exp, &op->key, &op->rsc, op->detail, sizeof(op->detail));
        else
            op->rc = saef_maf_answer_registration(
                &r, &exp, op->kind == SAEF_MAF_OP_REGISTER ? 2001 : 2004, &op->reg, &op->rsc,
                op->detail, sizeof(op->detail));
    }
    for (size_t i = 0; i < 6; i++)
        free(copies[i]);
}

static void finish(http_t *h, hep_t *ep, CURLcode res)
{
    saef_maf_op_t *op = ep->cur;
    long connects = 0, status = 0;

    ep->cur = NULL;
    curl_multi_remove_handle(h->multi, ep->easy);
    curl_easy_getinfo(ep->easy, CURLINFO_NUM_CONNECTS, &connects);
    curl_easy_getinfo(ep->easy, CURLINFO_RESPONSE_CODE, &status);
    op->connects = connects;
    op->http_status = status;
    if (res != CURLE_OK)
        classify_transport(ep, op, res);
    else
        validate(ep, op, status);
    OPENSSL_cleanse(ep->body, ep->body_len);
    ep->body_len = 0;
    h->env.complete(h->env.ctx, op);
    start_next(h, ep);
}

static void drain(http_t *h)
{
    CURLMsg *m;
    int left;

    while ((m = curl_multi_info_read(h->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        CURL *easy = m->easy_handle;
        CURLcode res = m->data.result; /* m is invalid once the handle is removed */
        char *priv = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
        hep_t *ep = (hep_t *)(void *)priv;
        if (ep != NULL && ep->cur != NULL)
            finish(h, ep, res);
    }
}

static void http_run(void *b, int timeout_ms)
{
    http_t *h = b;
    int running = 0, numfds = 0;

    curl_multi_perform(h->multi, &running);
    drain(h);
    curl_multi_poll(h->multi, NULL, 0, timeout_ms, &numfds);
    curl_multi_perform(h->multi, &running);
    drain(h);
}

static void http_wakeup(void *b)
{
    http_t *h = b;
    curl_multi_wakeup(h->multi);
}

static void http_cancel_all(void *b, saef_rc_t rc, const char *why)
{
    http_t *h = b;

    for (size_t i = 0; i < h->n; i++) {
        hep_t *ep = &h->eps[i];
        if (ep->cur != NULL) {
            saef_maf_op_t *op = ep->cur;
            ep->cur = NULL;
            curl_multi_remove_handle(h->multi, ep->easy);
            OPENSSL_cleanse(ep->body, ep->body_len);
            ep->body_len = 0;
            op->rc = saef_maf_detail(rc, op->detail, sizeof(op->detail), "%s", why);
            h->env.complete(h->env.ctx, op);
        }
        while (ep->qhead != NULL) {
            saef_maf_op_t *op = ep->qhead;
            ep->qhead = op->binding_next;
            op->binding_next = NULL;
            op->rc = saef_maf_detail(rc, op->detail, sizeof(op->detail), "%s", why);
            h->env.complete(h->env.ctx, op);
        }
        ep->qtail = NULL;
    }
}

const saef_maf_binding_ops_t saef_maf_http_binding = {
    .name = "http",
    .create = http_create,
    .destroy = http_destroy,
    .start = http_start,
    .run = http_run,
    .wakeup = http_wakeup,
    .cancel_all = http_cancel_all,
};
