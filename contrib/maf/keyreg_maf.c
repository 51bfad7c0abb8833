/*
 * saef-keyreg: the MAF client of Entity A over libcurl (OpenSSL backend) and jansson, as
 * docs/maf-binding.md sections 3 and 5 describe it.
 */
#include "keyreg_internal.h"
#include "saef_ascii.h"

#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#define KR_BODY_MAX 16384 /* response body a client reads at most (binding 5.4) */
#define KR_REQ_MAX 8192   /* request body a MAF accepts at most (binding 5.4) */

/* TLS 1.2 suites of the binding (3.2, 3.3), in the client's preference order. */
#define KR_CIPHERS_CERT "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-SHA256"
#define KR_CIPHERS_PSK                                                                             \
    "ECDHE-PSK-CHACHA20-POLY1305:ECDHE-PSK-AES128-CBC-SHA256:PSK-AES128-CBC-SHA256"
#define KR_TLS13_CERT "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
/* An external PSK from the PSK client callback is bound to SHA-256 in TLS 1.3. */
#define KR_TLS13_PSK "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256"

/* State of the exchange in progress; lives on kr_request()'s stack. */
typedef struct kr_xfer {
    kr_session_t *s;
    kr_response_t *resp;
    bool want_exporter;
    bool tls_seen;
    bool too_large;
    size_t len;
} kr_xfer_t;

struct kr_session {
    const kr_conf_t *conf;         /* borrowed */
    CURL *curl;                    /* owned */
    struct curl_slist *connect_to; /* owned */
    struct curl_blob key_blob;     /* points at conf->key_pem (borrowed) */
    unsigned long seq;             /* numbers the requests of this run in X-M2M-RI */
    bool psk_cert_refused;         /* PSK mode: the MAF sent a certificate (this exchange) */
    char errbuf[CURL_ERROR_SIZE];
    uint8_t body[KR_BODY_MAX]; /* response body of the current exchange, wiped after */
    char payload[KR_REQ_MAX];  /* request body of the current exchange, wiped after */
};

/*
 * The PSK client callback has no user argument, so it finds its session through ex_data of the
 * SSL_CTX that libcurl created for the connection.  The index is allocated once per process;
 * it is the only static state of the tool, write-once and single-threaded.
 */
static int psk_ex_index = -1;

static unsigned int psk_client_cb(SSL *ssl, const char *hint, char *identity,
                                  unsigned int max_identity_len, unsigned char *psk,
                                  unsigned int max_psk_len)
{
    const kr_session_t *s = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), psk_ex_index);
    size_t idlen;

    (void)hint; /* a MAF of the binding sends no identity hint, and we would not use one */
    if (s == NULL || s->conf->kmid == NULL || s->conf->km == NULL)
        return 0;
    idlen = strlen(s->conf->kmid);
    if (idlen + 1 > max_identity_len || s->conf->km_len > max_psk_len || s->conf->km_len == 0)
        return 0;
    memcpy(identity, s->conf->kmid, idlen + 1);
    memcpy(psk, s->conf->km, s->conf->km_len);
    return (unsigned int)s->conf->km_len;
}

/*
 * PSK mode: a server Certificate message is a handshake failure (binding 3.3).  A TLS 1.3
 * server may ignore the offered PSK and authenticate with a certificate instead; without this
 * callback a client that does not verify certificates would then talk to an unauthenticated
 * peer.  In a real PSK handshake OpenSSL never calls it.
 */
static int reject_any_certificate(int preverify_ok, X509_STORE_CTX *store)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    kr_session_t *s = ssl != NULL ? SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), psk_ex_index) : NULL;

    (void)preverify_ok;
    if (s != NULL)
        s->psk_cert_refused = true; /* for a clearer error than "verification failure" */
    X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
    return 0;
}

/* Runs after libcurl configured the connection's SSL_CTX and before the handshake. */
static CURLcode ssl_ctx_cb(CURL *curl, void *sslctx, void *userptr)
{
    SSL_CTX *ctx = sslctx;
    kr_session_t *s = userptr;

    (void)curl;
    /* No resumption and no renegotiation (binding 3.1): every connection runs a full handshake,
     * so an exporter-derived key is always fresh. */
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    if (s->conf->kmid != NULL) {
        if (SSL_CTX_set_ex_data(ctx, psk_ex_index, s) != 1)
            return CURLE_SSL_CONNECT_ERROR;
        SSL_CTX_set_psk_client_callback(ctx, psk_client_cb);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, reject_any_certificate);
    }
    return CURLE_OK;
}

/*
 * Look at the connection that carries the current exchange, once, while the response headers
 * arrive.  This is the place to read the TLS object: libcurl 7.88 detaches the connection from
 * the handle when curl_easy_perform() returns, after which CURLINFO_TLS_SSL_PTR yields NULL even
 * if the connection stays open.  The exporter value does not depend on when it is computed.
 */
static void note_connection(kr_xfer_t *x)
{
    const struct curl_tlssessioninfo *tsi = NULL;
    kr_response_t *r = x->resp;
    SSL *ssl;

    if (x->tls_seen)
        return;
    x->tls_seen = true;
    r->exporter_error = "libcurl exposed no OpenSSL connection";
    if (curl_easy_getinfo(x->s->curl, CURLINFO_TLS_SSL_PTR, &tsi) != CURLE_OK || tsi == NULL ||
        tsi->backend != CURLSSLBACKEND_OPENSSL || tsi->internals == NULL)
        return;
    ssl = tsi->internals;
    snprintf(r->tls_version, sizeof(r->tls_version), "%s", SSL_get_version(ssl));
    snprintf(r->cipher, sizeof(r->cipher), "%s",
             SSL_get_current_cipher(ssl) ? SSL_CIPHER_get_name(SSL_get_current_cipher(ssl)) : "");
    if (!x->want_exporter)
        return;
    if (!SSL_is_init_finished(ssl)) {
        r->exporter_error = "the TLS handshake is not complete";
        return;
    }
    /* Without the extended master secret a TLS 1.2 exporter is not bound to the handshake
     * transcript (RFC 7627); the MAF refuses such a registration, and so do we. */
    if (SSL_version(ssl) == TLS1_2_VERSION && SSL_get_extms_support(ssl) != 1) {
        r->exporter_error = "TLS 1.2 connection without the extended master secret";
        return;
    }
    if (SSL_export_keying_material(ssl, r->ekm, sizeof(r->ekm), KR_EXPORTER_LABEL,
                                   strlen(KR_EXPORTER_LABEL), NULL, 0, 0) != 1) {
        OPENSSL_cleanse(r->ekm, sizeof(r->ekm));
        r->exporter_error = "SSL_export_keying_material failed";
        return;
    }
    r->exported = true;
    r->exporter_error = NULL;
}

static size_t header_cb(char *data, size_t size, size_t n, void *user)
{
    (void)data;
    note_connection(user);
    return size * n;
}

static size_t write_cb(char *data, size_t size, size_t n, void *user)
{
    kr_xfer_t *x = user;
    size_t len = size * n;

    note_connection(x);
    if (len > KR_BODY_MAX - x->len) {
        x->too_large = true;
        return 0; /* aborts the transfer */
    }
    memcpy(x->s->body + x->len, data, len);
    x->len += len;
    return len;
}

#define SETOPT(opt, val)                                                                           \
    do {                                                                                           \
        if (curl_easy_setopt(s->curl, (opt), (val)) != CURLE_OK) {                                 \
            bad = #opt;                                                                            \
            goto fail;                                                                             \
        }                                                                                          \
    } while (0)

saef_rc_t kr_session_new(const kr_conf_t *conf, kr_session_t **out, char *err, size_t errlen)
{
    kr_session_t *s;
    const char *bad = "curl_easy_init";
    long version;

    *out = NULL;
    if (psk_ex_index < 0) {
        psk_ex_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
        if (psk_ex_index < 0) {
            snprintf(err, errlen, "SSL_CTX_get_ex_new_index failed");
            return SAEF_E_INTERNAL;
        }
    }
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return SAEF_E_NOMEM;
    }
    s->conf = conf;
    s->curl = curl_easy_init();
    if (s->curl == NULL)
        goto fail;

    SETOPT(CURLOPT_ERRORBUFFER, s->errbuf);
    SETOPT(CURLOPT_NOSIGNAL, 1L);
    SETOPT(CURLOPT_PROTOCOLS_STR, "https");
    SETOPT(CURLOPT_FOLLOWLOCATION, 0L); /* a 3xx is a protocol error (binding 5.2) */
    SETOPT(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    /* No proxy from the environment: only a CONNECT tunnel is acceptable between us and the
     * MAF, and a proxy picked up silently would make --connect-to tests go elsewhere. */
    SETOPT(CURLOPT_PROXY, "");
    SETOPT(CURLOPT_SSL_SESSIONID_CACHE, 0L);
    SETOPT(CURLOPT_TIMEOUT, conf->timeout_s);
    SETOPT(CURLOPT_CONNECTTIMEOUT, conf->timeout_s);
    version = CURL_SSLVERSION_TLSv1_2 | CURL_SSLVERSION_MAX_DEFAULT;
    if (conf->tls == KR_TLS_12)
        version = CURL_SSLVERSION_TLSv1_2 | CURL_SSLVERSION_MAX_TLSv1_2;
    else if (conf->tls == KR_TLS_13)
        version = CURL_SSLVERSION_TLSv1_3 | CURL_SSLVERSION_MAX_TLSv1_3;
    SETOPT(CURLOPT_SSLVERSION, version);
    SETOPT(CURLOPT_SSL_CTX_FUNCTION, ssl_ctx_cb);
    SETOPT(CURLOPT_SSL_CTX_DATA, s);
    SETOPT(CURLOPT_HEADERFUNCTION, header_cb);
    SETOPT(CURLOPT_WRITEFUNCTION, write_cb);
    /* Never the system trust store: only the anchors configured for this MAF (binding 3.2). */
    SETOPT(CURLOPT_CAPATH, NULL);
    SETOPT(CURLOPT_CAINFO, NULL);
    if (conf->connect_to != NULL) {
        char spec[300];

        /* "::HOST:PORT": every request of this handle goes to HOST:PORT, while the URL's host
         * (the MAF-FQDN) stays the SNI and the name the certificate is checked against. */
        if ((size_t)snprintf(spec, sizeof(spec), "::%s", conf->connect_to) >= sizeof(spec)) {
            bad = "--connect-to (too long)";
            goto fail;
        }
        s->connect_to = curl_slist_append(NULL, spec);
        if (s->connect_to == NULL) {
            bad = "curl_slist_append";
            goto fail;
        }
        SETOPT(CURLOPT_CONNECT_TO, s->connect_to);
    }
    if (conf->kmid != NULL) {
        /* The PSK authenticates the MAF; a PSK server sends no certificate to verify. */
        SETOPT(CURLOPT_SSL_VERIFYPEER, 0L);
        SETOPT(CURLOPT_SSL_VERIFYHOST, 0L);
        SETOPT(CURLOPT_SSL_CIPHER_LIST, KR_CIPHERS_PSK);
        SETOPT(CURLOPT_TLS13_CIPHERS, KR_TLS13_PSK);
    } else {
        SETOPT(CURLOPT_SSL_VERIFYPEER, 1L);
        SETOPT(CURLOPT_SSL_VERIFYHOST, 2L);
        SETOPT(CURLOPT_CAINFO, conf->ca_file);
        SETOPT(CURLOPT_SSLCERT, conf->cert_file);
        SETOPT(CURLOPT_SSLCERTTYPE, "PEM");
        /* The key was read (and its permissions checked) by the caller; libcurl uses that
         * buffer in place, so the only copy we have to wipe is the caller's. */
        s->key_blob.data = (void *)conf->key_pem;
        s->key_blob.len = conf->key_pem_len;
        s->key_blob.flags = CURL_BLOB_NOCOPY;
        SETOPT(CURLOPT_SSLKEY_BLOB, &s->key_blob);
        SETOPT(CURLOPT_SSLKEYTYPE, "PEM");
        SETOPT(CURLOPT_SSL_CIPHER_LIST, KR_CIPHERS_CERT);
        SETOPT(CURLOPT_TLS13_CIPHERS, KR_TLS13_CERT);
    }
    *out = s;
    return SAEF_OK;

fail:
    snprintf(err, errlen, "cannot set up libcurl: %s", bad);
    kr_session_free(s);
    return SAEF_E_INTERNAL;
}

void kr_session_free(kr_session_t *s)
{
    if (s == NULL)
        return;
    if (s->curl != NULL)
        curl_easy_cleanup(s->curl);
    curl_slist_free_all(s->connect_to);
    OPENSSL_cleanse(s->body, sizeof(s->body));
    OPENSSL_cleanse(s->payload, sizeof(s->payload));
    free(s);
}

void kr_response_clear(kr_response_t *resp, bool init)
{
    if (!init)
        json_decref(resp->body);
    OPENSSL_cleanse(resp, sizeof(*resp));
    memset(resp, 0, sizeof(*resp));
}

/* TS-0009 Table 6.3.2-1: the HTTP status of each RSC (X-M2M-RSC always carries the exact RSC). */
static const struct {
    short http;
    short rsc[24]; /* 0-terminated */
} rsc_table[] = {
    {200, {2000, 2002, 2004}},
    {201, {2001}},
    {202, {1000, 1001, 1002}},
    {400, {4000, 4102, 4110, 4120, 4122, 4123, 4143, 6010, 6022, 6023, 6024}},
    {403, {4101, 4103, 4106, 4107, 4108, 4109, 4111, 4112, 4113, 4114, 4115, 4116,
           4117, 4126, 4127, 5105, 5203, 5205, 5208, 5214, 5215, 5218, 5222}},
    {404, {4004, 4118, 4119, 4121, 5103, 5107, 6003, 6005}},
    {405, {4005}},
    {406, {5207}},
    {415, {4015}},
    {409, {4104, 4105, 4124, 5106, 5219, 5220, 6028, 6029}},
    {500, {5000, 5204, 5209, 5210, 5211, 5212, 5216, 5217, 5221, 6020, 6021, 6025, 6026}},
    {501, {4001, 4125, 5001, 5206}},
    {504, {4008, 6030, 6031}},
};

/* HTTP status TS-0009 assigns to an RSC; 0 when the RSC is not in the table. */
static long rsc_http_status(int rsc)
{
    for (size_t i = 0; i < sizeof(rsc_table) / sizeof(rsc_table[0]); i++)
        for (size_t j = 0; rsc_table[i].rsc[j] != 0; j++)
            if (rsc_table[i].rsc[j] == rsc)
                return rsc_table[i].http;
    return 0;
}

/* Names of TS-0004 6.6.3 for the RSCs a MAF of the binding sends. */
static const struct {
    int rsc;
    const char *name;
} rsc_names[] = {
    {2000, "OK"},
    {2001, "CREATED"},
    {2002, "DELETED"},
    {2004, "UPDATED"},
    {4000, "BAD_REQUEST"},
    {4001, "RELEASE_VERSION_NOT_SUPPORTED"},
    {4004, "NOT_FOUND"},
    {4005, "OPERATION_NOT_ALLOWED"},
    {4008, "REQUEST_TIMEOUT"},
    {4015, "UNSUPPORTED_MEDIA_TYPE"},
    {4103, "ORIGINATOR_HAS_NO_PRIVILEGE"},
    {4105, "CONFLICT"},
    {4106, "ORIGINATOR_NOT_AUTHENTICATED"},
    {4107, "SECURITY_ASSOCIATION_REQUIRED"},
    {5000, "INTERNAL_SERVER_ERROR"},
    {5001, "NOT_IMPLEMENTED"},
};

const char *kr_rsc_name(int rsc)
{
    for (size_t i = 0; i < sizeof(rsc_names) / sizeof(rsc_names[0]); i++)
        if (rsc_names[i].rsc == rsc)
            return rsc_names[i].name;
    return "";
}

static const char *skip_ows(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* application/json, optionally with the single parameter charset=utf-8 (binding 5.1). */
static bool json_media_type(const char *v)
{
    static const char mt[] = "application/json", cs[] = "charset", utf8[] = "utf-8";
    const char *p = skip_ows(v);

    if (!saef_ascii_ieq(p, mt, sizeof(mt) - 1))
        return false;
    p = skip_ows(p + sizeof(mt) - 1);
    if (*p == '\0')
        return true;
    if (*p != ';')
        return false;
    p = skip_ows(p + 1);
    if (!saef_ascii_ieq(p, cs, sizeof(cs) - 1))
        return false;
    p = skip_ows(p + sizeof(cs) - 1);
    if (*p++ != '=')
        return false;
    p = skip_ows(p);
    if (*p == '"') {
        if (!saef_ascii_ieq(p + 1, utf8, sizeof(utf8) - 1) || p[sizeof(utf8)] != '"')
            return false;
        p += sizeof(utf8) + 1;
    } else {
        if (!saef_ascii_ieq(p, utf8, sizeof(utf8) - 1))
            return false;
        p += sizeof(utf8) - 1;
    }
    return *skip_ows(p) == '\0';
}

/* The value of a response header that must appear at most once; NULL when absent. */
static saef_rc_t one_header(CURL *curl, const char *name, const char **value, char *err,
                            size_t errlen)
{
    struct curl_header *h = NULL;
    CURLHcode hc = curl_easy_header(curl, name, 0, CURLH_HEADER, -1, &h);

    *value = NULL;
    if (hc == CURLHE_MISSING || hc == CURLHE_NOHEADERS)
        return SAEF_OK;
    if (hc != CURLHE_OK || h == NULL) {
        snprintf(err, errlen, "cannot read response header %s (curl_easy_header %d)", name,
                 (int)hc);
        return SAEF_E_INTERNAL;
    }
    if (h->amount != 1) {
        snprintf(err, errlen, "protocol error: response header %s appears %zu times", name,
                 h->amount);
        return SAEF_E_MAF_HTTP_STATUS;
    }
    *value = h->value;
    return SAEF_OK;
}

/* Explain a failed transfer.  A TLS alert on the first read after a TLS 1.3 handshake is an
 * authentication failure, not a network error (binding 3.4). */
static saef_rc_t transfer_failed(kr_session_t *s, CURLcode cc, char *err, size_t errlen)
{
    const char *detail = s->errbuf[0] != '\0' ? s->errbuf : curl_easy_strerror(cc);
    const char *what;
    saef_rc_t rc;

    if (s->psk_cert_refused) {
        /* Binding 3.4: a TLS 1.3 MAF that does not know the KmID ignores the PSK and continues
         * with its certificate, which a PSK-mode client refuses. */
        snprintf(err, errlen,
                 "TLS handshake with the MAF failed: in PSK mode the MAF presented a certificate "
                 "instead of accepting our PSK, so it does not know KmID %s (curl error %d: %s)",
                 s->conf->kmid, (int)cc, detail);
        return SAEF_E_MAF_AUTH;
    }
    switch (cc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
        rc = SAEF_E_MAF_UNREACHABLE;
        what = "cannot connect to the MAF";
        break;
    case CURLE_OPERATION_TIMEDOUT:
        rc = SAEF_E_MAF_TIMEOUT;
        what = "the MAF did not answer in time";
        break;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
        rc = SAEF_E_MAF_AUTH;
        what = "TLS handshake with the MAF failed (authentication or TLS parameters)";
        break;
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
        if (strstr(detail, "alert") != NULL) {
            rc = SAEF_E_MAF_AUTH;
            what = "the MAF refused our credentials (TLS alert on the first read)";
        } else {
            rc = SAEF_E_MAF_UNREACHABLE;
            what = "connection to the MAF failed";
        }
        break;
    case CURLE_GOT_NOTHING:
        rc = SAEF_E_MAF_UNREACHABLE;
        what = "the MAF closed the connection without an answer";
        break;
    default:
        rc = SAEF_E_MAF_UNREACHABLE;
        what = "request to the MAF failed";
        break;
    }
    snprintf(err, errlen, "%s: %s (curl error %d: %s)", what, detail, (int)cc,
             curl_easy_strerror(cc));
    return rc;
}

/* Copy m2m:dbg for printing: at most KR_DBG_MAX bytes, control characters replaced. */
static void copy_dbg(const json_t *body, char *out, size_t outlen)
{
    const json_t *v = json_is_object(body) ? json_object_get(body, "m2m:dbg") : NULL;
    const char *t;
    size_t i;

    out[0] = '\0';
    if (!json_is_string(v))
        return;
    t = json_string_value(v);
    for (i = 0; t[i] != '\0' && i + 1 < outlen && i < KR_DBG_MAX; i++) {
        unsigned char c = (unsigned char)t[i];

        out[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    out[i] = '\0';
}

/* Validate the headers and body of a response that arrived.  Fills resp. */
static saef_rc_t check_response(kr_session_t *s, kr_xfer_t *x, const char *ri, char *err,
                                size_t errlen)
{
    kr_response_t *r = x->resp;
    const char *rsc_text, *ri_text, *rvi, *ctype, *cenc;
    json_error_t jerr;
    saef_rc_t rc;
    char *end;
    long rsc, want;

    if (curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &r->http_status) != CURLE_OK) {
        snprintf(err, errlen, "cannot read the HTTP status");
        return SAEF_E_INTERNAL;
    }
    if ((rc = one_header(s->curl, "X-M2M-RSC", &rsc_text, err, errlen)) != SAEF_OK ||
        (rc = one_header(s->curl, "X-M2M-RI", &ri_text, err, errlen)) != SAEF_OK ||
        (rc = one_header(s->curl, "X-M2M-RVI", &rvi, err, errlen)) != SAEF_OK ||
        (rc = one_header(s->curl, "Content-Type", &ctype, err, errlen)) != SAEF_OK ||
        (rc = one_header(s->curl, "Content-Encoding", &cenc, err, errlen)) != SAEF_OK)
        return rc;
    if (r->http_status >= 300 && r->http_status < 400) {
        snprintf(err, errlen, "protocol error: HTTP %ld (a MAF never redirects)", r->http_status);
        return SAEF_E_MAF_HTTP_STATUS;
    }
    if (rsc_text == NULL) {
        snprintf(err, errlen, "protocol error: HTTP %ld without X-M2M-RSC (is this a MAF?)",
                 r->http_status);
        return SAEF_E_MAF_HTTP_STATUS;
    }
    rsc = strtol(rsc_text, &end, 10);
    if (end == rsc_text || *end != '\0' || rsc < 1000 || rsc > 9999) {
        snprintf(err, errlen, "protocol error: X-M2M-RSC \"%.16s\" is not an RSC", rsc_text);
        return SAEF_E_MAF_HTTP_STATUS;
    }
    r->rsc = (int)rsc;
    want = rsc_http_status(r->rsc);
    if (want != 0 && want != r->http_status) {
        snprintf(err, errlen,
                 "protocol error: HTTP %ld does not match X-M2M-RSC %d (TS-0009 assigns %ld)",
                 r->http_status, r->rsc, want);
        return SAEF_E_MAF_HTTP_STATUS;
    }
    if (ri_text == NULL || strcmp(ri_text, ri) != 0) {
        snprintf(err, errlen, "protocol error: X-M2M-RI of the response is not the request's");
        return SAEF_E_MAF_HTTP_STATUS;
    }
    if (rvi == NULL || strcmp(rvi, "3") != 0) {
        snprintf(err, errlen, "protocol error: X-M2M-RVI of the response is not 3");
        return SAEF_E_MAF_HTTP_STATUS;
    }
    if (cenc != NULL && !(strlen(cenc) == 8 && saef_ascii_ieq(cenc, "identity", 8))) {
        snprintf(err, errlen, "protocol error: response with Content-Encoding %.32s", cenc);
        return SAEF_E_MAF_HTTP_STATUS;
    }
    if (x->len == 0)
        return SAEF_OK;
    if (ctype == NULL || !json_media_type(ctype)) {
        snprintf(err, errlen, "protocol error: response body is not application/json");
        return SAEF_E_MAF_HTTP_STATUS;
    }
    r->body = json_loadb((const char *)s->body, x->len, JSON_REJECT_DUPLICATES, &jerr);
    if (r->body == NULL || !json_is_object(r->body)) {
        json_decref(r->body);
        r->body = NULL;
        /* An error answer still tells what the MAF refused; its RSC is what the user needs. */
        if (r->rsc >= 4000) {
            snprintf(r->dbg, sizeof(r->dbg), "(response body is not a strict JSON object)");
            return SAEF_OK;
        }
        snprintf(err, errlen, "protocol error: response body is not one strict JSON object: %s",
                 jerr.text);
        return SAEF_E_MAF_JSON;
    }
    copy_dbg(r->body, r->dbg, sizeof(r->dbg));
    return SAEF_OK;
}

saef_rc_t kr_request(kr_session_t *s, const char *method, const char *path, const json_t *body,
                     bool want_exporter, kr_response_t *resp, char *err, size_t errlen)
{
    struct curl_slist *hdrs = NULL, *h;
    char url[2048], ri[64], origin[300], rih[80];
    uint8_t rnd[8];
    char rndhex[2 * sizeof(rnd) + 1];
    const char *payload = NULL;
    size_t payload_len = 0;
    kr_xfer_t x = {.s = s, .resp = resp, .want_exporter = want_exporter};
    saef_rc_t rc = SAEF_E_INTERNAL;
    CURLcode cc;

    kr_response_clear(resp, false);
    err[0] = '\0';
    if ((size_t)snprintf(url, sizeof(url), "%s%s", s->conf->maf_uri, path) >= sizeof(url)) {
        snprintf(err, errlen, "request URI too long");
        return SAEF_E_INVALID_ARG;
    }
    /* A fresh X-M2M-RI per request (binding 5.1): run-local counter plus 64 random bits, so
     * the MAF's log can tell apart requests of concurrent runs. */
    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        snprintf(err, errlen, "RAND_bytes failed");
        return SAEF_E_INTERNAL;
    }
    kr_hex(rnd, sizeof(rnd), false, rndhex);
    snprintf(ri, sizeof(ri), "keyreg-%lu-%s", ++s->seq, rndhex);
    snprintf(origin, sizeof(origin), "X-M2M-Origin: %s", s->conf->origin);
    snprintf(rih, sizeof(rih), "X-M2M-RI: %s", ri);

    if (body != NULL) {
        /* Serialise straight into the session's buffer: json_dumps() would leave copies of a
         * keyValue in freed heap blocks (its growing buffer and the result). */
        payload_len = json_dumpb(body, s->payload, sizeof(s->payload), JSON_COMPACT);
        if (payload_len == 0 || payload_len > sizeof(s->payload)) {
            OPENSSL_cleanse(s->payload, sizeof(s->payload));
            snprintf(err, errlen, "cannot serialise the request body (at most %d bytes)",
                     KR_REQ_MAX);
            return SAEF_E_INVALID_ARG;
        }
        payload = s->payload;
    }
    /* The empty "Expect:" keeps libcurl from sending Expect: 100-continue (binding 5.1). */
    const char *fixed[] = {origin,         rih,
                           "X-M2M-RVI: 3", "Accept: application/json",
                           "Expect:",      body != NULL ? "Content-Type: application/json" : NULL};
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]) && fixed[i] != NULL; i++) {
        h = curl_slist_append(hdrs, fixed[i]);
        if (h == NULL) {
            snprintf(err, errlen, "out of memory");
            rc = SAEF_E_NOMEM;
            goto out;
        }
        hdrs = h;
    }

    /* The handle keeps options between exchanges: reset the method each time. */
    if (curl_easy_setopt(s->curl, CURLOPT_URL, url) != CURLE_OK ||
        curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK ||
        curl_easy_setopt(s->curl, CURLOPT_HEADERDATA, &x) != CURLE_OK ||
        curl_easy_setopt(s->curl, CURLOPT_WRITEDATA, &x) != CURLE_OK ||
        curl_easy_setopt(s->curl, CURLOPT_HTTPGET, 1L) != CURLE_OK ||
        curl_easy_setopt(s->curl, CURLOPT_CUSTOMREQUEST, NULL) != CURLE_OK) {
        snprintf(err, errlen, "cannot set up the request");
        goto out;
    }
    if (payload != NULL) {
        if (curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, payload) != CURLE_OK ||
            curl_easy_setopt(s->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)payload_len) !=
                CURLE_OK ||
            (strcmp(method, "POST") != 0 &&
             curl_easy_setopt(s->curl, CURLOPT_CUSTOMREQUEST, method) != CURLE_OK)) {
            snprintf(err, errlen, "cannot set up the request body");
            goto out;
        }
    } else if (strcmp(method, "GET") != 0 &&
               curl_easy_setopt(s->curl, CURLOPT_CUSTOMREQUEST, method) != CURLE_OK) {
        snprintf(err, errlen, "cannot set up the request method");
        goto out;
    }

    if (s->conf->trace != NULL)
        fprintf(s->conf->trace, "> %s %s (X-M2M-RI %s)\n", method, url, ri);
    s->errbuf[0] = '\0';
    s->psk_cert_refused = false;
    cc = curl_easy_perform(s->curl);
    if (x.too_large) {
        snprintf(err, errlen, "protocol error: response body larger than %d bytes", KR_BODY_MAX);
        rc = SAEF_E_MAF_HTTP_STATUS;
    } else if (cc != CURLE_OK) {
        rc = transfer_failed(s, cc, err, errlen);
    } else {
        rc = check_response(s, &x, ri, err, errlen);
    }
    if (s->conf->trace != NULL && rc != SAEF_E_MAF_AUTH && rc != SAEF_E_MAF_UNREACHABLE &&
        rc != SAEF_E_MAF_TIMEOUT)
        fprintf(s->conf->trace, "< HTTP %ld, X-M2M-RSC %d, %s %s\n", resp->http_status, resp->rsc,
                resp->tls_version, resp->cipher);

out:
    /* Drop the handle's pointers into buffers this function is about to free. */
    (void)curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, NULL);
    (void)curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, NULL);
    (void)curl_easy_setopt(s->curl, CURLOPT_HEADERDATA, NULL);
    (void)curl_easy_setopt(s->curl, CURLOPT_WRITEDATA, NULL);
    curl_slist_free_all(hdrs);
    if (payload != NULL)
        OPENSSL_cleanse(s->payload, payload_len); /* may hold keyValue */
    OPENSSL_cleanse(s->body, x.len);
    if (rc != SAEF_OK && resp->exported) {
        OPENSSL_cleanse(resp->ekm, sizeof(resp->ekm));
        resp->exported = false;
    }
    return rc;
}
