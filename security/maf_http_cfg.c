/*
 * Start-time checks of the HTTP binding's configuration (docs/maf-binding.md section 4): the
 * URIs, the connect-to override and the credential files, so that a mistake fails when the
 * client is created rather than at the first handshake that needs a key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "saef_maf_internal.h"
#include "saef_secret.h"

/* ---- configuration checks ----------------------------------------------------------------- */

static bool segment_ok(const char *s, size_t len)
{
    if (len == 0 || (len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '~' || c == '-'))
            return false;
    }
    return true;
}

saef_rc_t saef_maf_http_check_uri(const saef_maf_endpoint_t *e, const char *what, const char *uri,
                                  const char *suffix, char **host_out, char *detail,
                                  size_t detail_len)
{
    char *scheme = NULL, *host = NULL, *path = NULL, *part = NULL;
    saef_rc_t rc = SAEF_E_INVALID_ARG;
    const char *why = NULL;
    char suffix_why[64];

    *host_out = NULL;
    for (const char *p = uri; *p != '\0'; p++) {
        if (*p < 0x21 || *p > 0x7e || *p == '%')
            return saef_maf_detail(SAEF_E_INVALID_ARG, detail, detail_len,
                                   "MAF %s: %s has a space, control character, non-ASCII byte "
                                   "or '%%'",
                                   e->fqdn, what);
    }
    CURLU *u = curl_url();
    if (u == NULL)
        return saef_maf_detail(SAEF_E_NOMEM, detail, detail_len, "curl_url");
    if (curl_url_set(u, CURLUPART_URL, uri, CURLU_PATH_AS_IS) != CURLUE_OK)
        why = "does not parse as a URI";
    else if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
             strcmp(scheme, "https") != 0)
        why = "is not an https URI";
    else if (curl_url_get(u, CURLUPART_USER, &part, 0) != CURLUE_NO_USER)
        why = "has userinfo";
    else if (curl_url_get(u, CURLUPART_QUERY, &part, 0) != CURLUE_NO_QUERY)
        why = "has a query";
    else if (curl_url_get(u, CURLUPART_FRAGMENT, &part, 0) != CURLUE_NO_FRAGMENT)
        why = "has a fragment";
    else if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
        why = "has no host";
    else if (!saef_id_fqdn_equal(host, strlen(host), e->fqdn, strlen(e->fqdn))) {
        why = "names another host than the MAF-FQDN";
        rc = SAEF_E_CFG_CONFLICT;
    } else if (curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK)
        why = "has no path";
    else {
        size_t plen = strlen(path), slen = strlen(suffix);
        if (plen < slen || strcmp(path + plen - slen, suffix) != 0) {
            snprintf(suffix_why, sizeof(suffix_why), "does not end in %s", suffix);
            why = suffix_why;
        } else {
            /* basePath: zero or more "/segment" */
            const char *p = path;
            const char *end = path + plen - slen;
            while (why == NULL && p < end) {
                const char *seg = ++p;
                while (p < end && *p != '/')
                    p++;
                if (!segment_ok(seg, (size_t)(p - seg)))
                    why = "has a base path segment outside [A-Za-z0-9._~-] (or . or ..)";
            }
        }
    }
    if (why == NULL) {
        *host_out = strdup(host);
        rc = *host_out != NULL ? SAEF_OK : SAEF_E_NOMEM;
    }
    curl_free(part);
    curl_free(scheme);
    curl_free(host);
    curl_free(path);
    curl_url_cleanup(u);
    if (why != NULL)
        return saef_maf_detail(rc, detail, detail_len, "MAF %s: %s '%s' %s", e->fqdn, what, uri,
                               why);
    return rc;
}

bool saef_maf_http_connect_to_ok(const char *s)
{
    const char *colon = strrchr(s, ':');
    if (colon == NULL || colon == s || colon[1] == '\0' || strlen(colon + 1) > 5)
        return false;
    long port = 0;
    for (const char *p = colon + 1; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return false;
        port = port * 10 + (*p - '0');
    }
    if (port < 1 || port > 65535)
        return false;
    for (const char *p = s; p < colon; p++) {
        char c = *p;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '[' || c == ']' || c == ':'))
            return false;
    }
    /* A ':' in the host part only inside brackets. */
    const char *inner = memchr(s, ':', (size_t)(colon - s));
    return inner == NULL || (s[0] == '[' && colon[-1] == ']');
}

saef_rc_t saef_maf_http_check_credentials(const saef_maf_endpoint_t *e, char *detail,
                                          size_t detail_len)
{
    char why[SAEF_MAF_DETAIL_MAX];
    saef_rc_t rc = SAEF_OK;

    if (e->auth != SAEF_MAF_AUTH_CERT)
        return SAEF_OK;
    rc = saef_secret_check(e->client_key, 1, SAEF_SECRET_FILE_MAX, why, sizeof(why));
    if (rc != SAEF_OK)
        return saef_maf_detail(rc, detail, detail_len, "MAF %s: client_key %s", e->fqdn, why);
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL)
        return saef_maf_detail(SAEF_E_NOMEM, detail, detail_len, "SSL_CTX_new");
    if (SSL_CTX_load_verify_locations(ctx, e->ca_file, NULL) != 1)
        rc = saef_maf_detail(SAEF_E_IO, detail, detail_len,
                             "MAF %s: cannot load trust anchors from ca_file %s", e->fqdn,
                             e->ca_file);
    else if (SSL_CTX_use_certificate_chain_file(ctx, e->client_cert) != 1)
        rc = saef_maf_detail(SAEF_E_IO, detail, detail_len,
                             "MAF %s: cannot load a PEM certificate from client_cert %s", e->fqdn,
                             e->client_cert);
    else if (SSL_CTX_use_PrivateKey_file(ctx, e->client_key, SSL_FILETYPE_PEM) != 1)
        rc = saef_maf_detail(SAEF_E_IO, detail, detail_len,
                             "MAF %s: cannot load a PEM private key from client_key %s", e->fqdn,
                             e->client_key);
    else if (SSL_CTX_check_private_key(ctx) != 1)
        rc = saef_maf_detail(SAEF_E_CFG_CONFLICT, detail, detail_len,
                             "MAF %s: client_key does not belong to client_cert", e->fqdn);
    SSL_CTX_free(ctx);
    /* Leave no OpenSSL error of ours in this thread's queue for the next user to trip over. */
    ERR_clear_error();
    return rc;
}
