/*
 * TLS for saef-mafd: one SSL_CTX serving both authentication modes of the binding (3.2, 3.3) on
 * one listener, the PSK lookups, the certificate-to-MAF-Client-ID mapping and the exporter.
 *
 * Why one listener serves both modes: OpenSSL never sends a CertificateRequest in a PSK
 * handshake (TLS 1.2 with a PSK suite, TLS 1.3 with an accepted external PSK), so "verify
 * peer, fail without certificate" applies only to certificate handshakes.  A TLS 1.2 client
 * picks its mode by the suites it offers; a TLS 1.3 client by offering a PSK.  Which mode a
 * connection used is read after the handshake from the negotiated suite (1.2) or from whether
 * the PSK was accepted (1.3), never from what a callback saw during the handshake.
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "mafd.h"
#include "saef_id.h"
#include "saef_secret.h"

/* TLS 1.2: PSK suites in the binding's server order (3.3), then the certificate suites (3.2).
 * PSK first because OpenSSL and GnuTLS clients offer PSK suites only when a PSK is configured:
 * a client that offers one wants PSK mode even if it offers ECDSA suites as well (openssl
 * s_client -psk does).  No DHE (slow, and not in the binding), no RSA-PSK. */
static const char cipher_list[] = "ECDHE-PSK-CHACHA20-POLY1305:ECDHE-PSK-AES128-CBC-SHA256:"
                                  "PSK-AES128-CBC-SHA256:PSK-AES128-CCM8:"
                                  "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-SHA256";
static const char tls13_suites[] =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
static const unsigned char tls13_aes128gcm_id[] = {0x13, 0x01};

static void set_err(char *err, size_t errlen, const char *what, const char *path)
{
    unsigned long e = ERR_get_error();
    char buf[256] = "";
    if (e != 0)
        ERR_error_string_n(e, buf, sizeof(buf));
    snprintf(err, errlen, "%s%s%s%s%s", what, path ? " " : "", path ? path : "", e ? ": " : "",
             buf);
    ERR_clear_error();
}

static void conn_free_cb(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
                         void *argp)
{
    if (ptr != NULL) {
        OPENSSL_cleanse(ptr, sizeof(mafd_conn_t));
        free(ptr);
    }
}

static mafd_conn_t *conn_get(SSL *ssl)
{
    const mafd_t *d = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    return d == NULL ? NULL : SSL_get_ex_data(ssl, d->conn_idx);
}

static const mafd_client_t *psk_lookup(const mafd_t *d, const char *id, size_t len)
{
    for (size_t i = 0; i < d->cfg.n_clients; i++) {
        const mafd_client_t *c = &d->cfg.clients[i];
        if (c->kmid != NULL && saef_id_kmid_equal(c->kmid, strlen(c->kmid), id, len))
            return c;
    }
    return NULL;
}

/* TLS 1.2 PSK suites.  Returning 0 makes OpenSSL send unknown_psk_identity. */
static unsigned int psk_server_cb(SSL *ssl, const char *identity, unsigned char *psk,
                                  unsigned int max_psk_len)
{
    mafd_conn_t *c = conn_get(ssl);
    if (c == NULL || identity == NULL)
        return 0;
    const mafd_client_t *rec = psk_lookup(c->d, identity, strlen(identity));
    if (rec == NULL || rec->km_len > max_psk_len)
        return 0;
    memcpy(psk, rec->km, rec->km_len);
    c->psk = rec;
    return (unsigned int)rec->km_len;
}

/* TLS 1.3 external PSK (SHA-256 hash, so TLS_AES_128_GCM_SHA256's session).  An unknown
 * identity returns 1 with no session: the handshake goes on with certificates (3.4). */
static int psk_find_cb(SSL *ssl, const unsigned char *identity, size_t identity_len,
                       SSL_SESSION **sess)
{
    *sess = NULL;
    mafd_conn_t *c = conn_get(ssl);
    if (c == NULL)
        return 0;
    const mafd_client_t *rec = psk_lookup(c->d, (const char *)identity, identity_len);
    if (rec == NULL)
        return 1;
    const SSL_CIPHER *cipher = SSL_CIPHER_find(ssl, tls13_aes128gcm_id);
    SSL_SESSION *s = SSL_SESSION_new();
    if (cipher == NULL || s == NULL || !SSL_SESSION_set1_master_key(s, rec->km, rec->km_len) ||
        !SSL_SESSION_set_cipher(s, cipher) ||
        !SSL_SESSION_set_protocol_version(s, TLS1_3_VERSION)) {
        SSL_SESSION_free(s);
        return 0;
    }
    c->psk = rec;
    *sess = s;
    return 1;
}

static saef_rc_t load_key(SSL_CTX *ctx, const char *path, char *err, size_t errlen)
{
    uint8_t *pem = NULL;
    size_t len = 0;
    char detail[512];
    saef_rc_t rc =
        saef_secret_read(path, 1, SAEF_SECRET_FILE_MAX, &pem, &len, detail, sizeof(detail));
    if (rc != SAEF_OK) {
        snprintf(err, errlen, "[maf] key: %s", detail);
        return SAEF_E_CFG_SECRET_FILE;
    }
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    EVP_PKEY *pkey = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    saef_secret_free(pem, len);
    if (pkey == NULL || SSL_CTX_use_PrivateKey(ctx, pkey) != 1) {
        EVP_PKEY_free(pkey);
        set_err(err, errlen, "[maf] key: cannot use private key", path);
        return SAEF_E_CFG_MALFORMED;
    }
    EVP_PKEY_free(pkey);
    if (SSL_CTX_check_private_key(ctx) != 1) {
        set_err(err, errlen, "[maf] key: does not match [maf] cert", path);
        return SAEF_E_CFG_CONFLICT;
    }
    return SAEF_OK;
}

saef_rc_t mafd_tls_init(mafd_t *d, char *err, size_t errlen)
{
    const mafd_config_t *cfg = &d->cfg;
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        set_err(err, errlen, "SSL_CTX_new failed", NULL);
        return SAEF_E_INTERNAL;
    }
    d->ssl_ctx = ctx;
    SSL_CTX_set_app_data(ctx, d);
    /* 3.1: TLS 1.2/1.3, no resumption (no tickets, no cache), no renegotiation, no
     * compression, server preference so that an ECDHE-PSK suite wins when offered. */
    if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
        !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) ||
        SSL_CTX_set_cipher_list(ctx, cipher_list) != 1 ||
        SSL_CTX_set_ciphersuites(ctx, tls13_suites) != 1 ||
        SSL_CTX_set1_groups_list(ctx, "X25519:P-256") != 1 ||
        SSL_CTX_set_num_tickets(ctx, 0) != 1 || SSL_CTX_set_max_early_data(ctx, 0) != 1) {
        set_err(err, errlen, "cannot configure TLS", NULL);
        return SAEF_E_INTERNAL;
    }
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    /* OpenSSL refuses a TLS 1.3 PSK "session" with verify-peer set and no session ID
     * context (internal_error alert), although nothing is ever cached. */
    static const unsigned char sid_ctx[] = "saef-mafd";
    if (SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1) != 1) {
        set_err(err, errlen, "cannot configure TLS", NULL);
        return SAEF_E_INTERNAL;
    }

    if (cfg->cert != NULL) {
        if (SSL_CTX_use_certificate_chain_file(ctx, cfg->cert) != 1) {
            set_err(err, errlen, "[maf] cert: cannot load", cfg->cert);
            return SAEF_E_CFG_MALFORMED;
        }
        saef_rc_t rc = load_key(ctx, cfg->key, err, errlen);
        if (rc != SAEF_OK)
            return rc;
    }
    if (cfg->ca != NULL) {
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(cfg->ca);
        if (SSL_CTX_load_verify_locations(ctx, cfg->ca, NULL) != 1 || names == NULL) {
            sk_X509_NAME_pop_free(names, X509_NAME_free);
            set_err(err, errlen, "[maf] ca: cannot load", cfg->ca);
            return SAEF_E_CFG_MALFORMED;
        }
        SSL_CTX_set_client_CA_list(ctx, names);
    }
    /* Applies to certificate handshakes only: PSK handshakes carry no CertificateRequest. */
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    SSL_CTX_set_psk_server_callback(ctx, psk_server_cb);
    SSL_CTX_set_psk_find_session_callback(ctx, psk_find_cb);

    d->conn_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, conn_free_cb);
    if (d->conn_idx < 0) {
        set_err(err, errlen, "SSL_get_ex_new_index failed", NULL);
        return SAEF_E_INTERNAL;
    }
    return SAEF_OK;
}

void mafd_tls_free(mafd_t *d)
{
    SSL_CTX_free(d->ssl_ctx);
    d->ssl_ctx = NULL;
    if (d->conn_idx >= 0)
        CRYPTO_free_ex_index(CRYPTO_EX_INDEX_SSL, d->conn_idx);
    d->conn_idx = -1;
}

struct bufferevent *mafd_tls_bevcb(struct event_base *base, void *arg)
{
    mafd_t *d = arg;
    SSL *ssl = SSL_new(d->ssl_ctx);
    if (ssl == NULL)
        return NULL;
    mafd_conn_t *c = calloc(1, sizeof(*c));
    if (c == NULL || !SSL_set_ex_data(ssl, d->conn_idx, c)) {
        free(c);
        SSL_free(ssl);
        return NULL;
    }
    c->d = d;
    c->ssl = ssl;
    /* With BEV_OPT_CLOSE_ON_FREE libevent frees the SSL (and so c) also when this fails. */
    struct bufferevent *bev = bufferevent_openssl_socket_new(
        base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
    if (bev != NULL)
        bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    return bev;
}

/* One subjectAltName URI / subject CN value as a NUL-terminated string, or false when it
 * cannot be one (embedded NUL, too long). */
static bool asn1_text(const ASN1_STRING *s, char *out, size_t outlen)
{
    int len = ASN1_STRING_length(s);
    const unsigned char *p = ASN1_STRING_get0_data(s);
    if (len <= 0 || (size_t)len >= outlen || memchr(p, 0, (size_t)len) != NULL)
        return false;
    memcpy(out, p, (size_t)len);
    out[len] = '\0';
    return true;
}

/* 3.2, rules 1-3.  Rule 0 (fingerprint records) is applied by the caller. */
static bool map_cert_names(X509 *cert, char *out, size_t outlen)
{
    char found[MAFD_M2M_ID_MAX + 1] = "", tmp[MAFD_M2M_ID_MAX + 1];
    bool ambiguous = false;
    GENERAL_NAMES *sans = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    for (int i = 0; sans != NULL && i < sk_GENERAL_NAME_num(sans); i++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(sans, i);
        if (gn->type != GEN_URI || !asn1_text(gn->d.uniformResourceIdentifier, tmp, sizeof(tmp)))
            continue;
        if (!mafd_is_absolute_id(tmp, strlen(tmp)))
            continue;
        if (found[0] == '\0')
            memcpy(found, tmp, sizeof(found));
        else if (strcmp(found, tmp) != 0)
            ambiguous = true;
    }
    GENERAL_NAMES_free(sans);
    if (ambiguous)
        return false;
    if (found[0] != '\0') {
        snprintf(out, outlen, "%s", found);
        return true;
    }
    const X509_NAME *subj = X509_get_subject_name(cert);
    int idx = X509_NAME_get_index_by_NID(subj, NID_commonName, -1);
    if (idx < 0 || X509_NAME_get_index_by_NID(subj, NID_commonName, idx) >= 0)
        return false; /* none, or more than one commonName */
    const ASN1_STRING *cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, idx));
    if (!asn1_text(cn, tmp, sizeof(tmp)) || !mafd_is_absolute_id(tmp, strlen(tmp)))
        return false;
    snprintf(out, outlen, "%s", tmp);
    return true;
}

static void identify_cert(mafd_conn_t *c)
{
    X509 *cert = SSL_get0_peer_certificate(c->ssl);
    if (cert == NULL)
        return;
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (X509_digest(cert, EVP_sha256(), md, &mdlen) == 1 && mdlen == 32) {
        for (size_t i = 0; i < c->d->cfg.n_clients; i++) {
            const mafd_client_t *rec = &c->d->cfg.clients[i];
            if (rec->has_fp && memcmp(rec->fp, md, 32) == 0) {
                snprintf(c->client_id, sizeof(c->client_id), "%s", rec->id);
                c->mapped = true;
                return;
            }
        }
    }
    c->mapped = map_cert_names(cert, c->client_id, sizeof(c->client_id));
}

/* Whether the finished handshake was authenticated by the PSK (see the top of this file). */
static bool used_psk(const mafd_conn_t *c)
{
    if (c->psk == NULL)
        return false;
    if (SSL_version(c->ssl) == TLS1_3_VERSION)
        return SSL_session_reused(c->ssl) == 1; /* no resumption: only the external PSK */
    const SSL_CIPHER *cipher = SSL_get_current_cipher(c->ssl);
    return cipher != NULL && SSL_CIPHER_get_auth_nid(cipher) == NID_auth_psk;
}

mafd_conn_t *mafd_conn_of(mafd_t *d, struct evhttp_request *req)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
    SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;
    mafd_conn_t *c = ssl ? SSL_get_ex_data(ssl, d->conn_idx) : NULL;
    if (c == NULL || c->identified)
        return c;
    c->identified = true;
    if (used_psk(c)) {
        c->is_psk = true;
        c->mapped = true;
        snprintf(c->client_id, sizeof(c->client_id), "%s",
                 c->psk->id != NULL ? c->psk->id : c->psk->kmid);
    } else {
        c->psk = NULL;
        identify_cert(c);
    }
    return c;
}

saef_rc_t mafd_tls_export(const mafd_conn_t *c, uint8_t out[MAFD_EXPORTER_LEN])
{
    /* Without the extended master secret a TLS 1.2 exporter is not bound to the handshake
     * (RFC 7627): refuse rather than derive a key a man in the middle could share. */
    if (SSL_version(c->ssl) == TLS1_2_VERSION && SSL_get_extms_support(c->ssl) != 1)
        return SAEF_E_STATE;
    if (SSL_export_keying_material(c->ssl, out, MAFD_EXPORTER_LEN, MAFD_EXPORTER_LABEL,
                                   strlen(MAFD_EXPORTER_LABEL), NULL, 0, 0) != 1) {
        OPENSSL_cleanse(out, MAFD_EXPORTER_LEN);
        ERR_clear_error();
        return SAEF_E_INTERNAL;
    }
    return SAEF_OK;
}
