/*
 * The endpoint description: validation of what the generic client understands (the binding
 * checks URIs and credential files) and the client's deep copies.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "saef_maf_internal.h"
#include "saef_suid.h"

#define TIMEOUT_MIN_MS 100u
#define TIMEOUT_MAX_MS 600000u
#define MAF_FQDN_MAX 190 /* docs/maf-binding.md section 2 */
#define REG_LIFETIME_MAX_S (366u * 86400u)

static saef_rc_t dup_str(const char *s, char **out)
{
    *out = NULL;
    if (s == NULL)
        return SAEF_OK;
    *out = strdup(s);
    return *out != NULL ? SAEF_OK : SAEF_E_NOMEM;
}

void saef_maf_endpoint_free(saef_maf_endpoint_t *e)
{
    free((char *)e->fqdn);
    free((char *)e->key_retrieval_uri);
    free((char *)e->client_registration_uri);
    free((char *)e->admin_fqdn);
    free((char *)e->ca_file);
    free((char *)e->client_cert);
    free((char *)e->client_key);
    free((char *)e->kmid);
    free((char *)e->connect_to);
    if (e->km != NULL) {
        OPENSSL_cleanse((uint8_t *)e->km, e->km_len);
        free((uint8_t *)e->km);
    }
    memset(e, 0, sizeof(*e));
}

saef_rc_t saef_maf_endpoint_copy(const saef_maf_endpoint_t *src, saef_maf_endpoint_t *dst)
{
    char *s[9];
    const char *const in[9] = {src->fqdn,
                               src->key_retrieval_uri,
                               src->client_registration_uri,
                               src->admin_fqdn,
                               src->ca_file,
                               src->client_cert,
                               src->client_key,
                               src->kmid,
                               src->connect_to};
    saef_rc_t rc = SAEF_OK;

    *dst = *src;
    for (int i = 0; i < 9; i++) {
        if (rc == SAEF_OK)
            rc = dup_str(in[i], &s[i]);
        else
            s[i] = NULL;
    }
    dst->fqdn = s[0];
    dst->key_retrieval_uri = s[1];
    dst->client_registration_uri = s[2];
    dst->admin_fqdn = s[3];
    dst->ca_file = s[4];
    dst->client_cert = s[5];
    dst->client_key = s[6];
    dst->kmid = s[7];
    dst->connect_to = s[8];
    dst->km = NULL;
    if (rc == SAEF_OK && src->km != NULL && src->km_len > 0) {
        uint8_t *km = malloc(src->km_len);
        if (km == NULL) {
            rc = SAEF_E_NOMEM;
        } else {
            memcpy(km, src->km, src->km_len);
            dst->km = km;
        }
    }
    if (rc != SAEF_OK)
        saef_maf_endpoint_free(dst);
    return rc;
}

static bool in_range_u32(uint32_t v, uint32_t lo, uint32_t hi)
{
    return v >= lo && v <= hi;
}

saef_rc_t saef_maf_endpoint_check(const saef_maf_endpoint_t *e, const char *origin, char *detail,
                                  size_t detail_len)
{
    const char *name = e->fqdn != NULL ? e->fqdn : "(no fqdn)";
    saef_rc_t rc;

    if (e->fqdn == NULL || saef_id_fqdn_check(e->fqdn, strlen(e->fqdn), NULL) != SAEF_OK ||
        strlen(e->fqdn) > MAF_FQDN_MAX)
        return saef_maf_detail(SAEF_E_INVALID_ARG, detail, detail_len,
                               "MAF %s: fqdn is not an FQDN of at most %d characters", name,
                               MAF_FQDN_MAX);
    if (e->key_retrieval_uri == NULL)
        return saef_maf_detail(SAEF_E_INVALID_ARG, detail, detail_len,
                               "MAF %s: key_retrieval_uri missing", name);
    if (e->register_client && (e->client_registration_uri == NULL || e->admin_fqdn == NULL))
        return saef_maf_detail(SAEF_E_CFG_CONFLICT, detail, detail_len,
                               "MAF %s: registering needs client_registration_uri and admin_fqdn",
                               name);
    if (e->admin_fqdn != NULL &&
        (rc = saef_id_fqdn_check(e->admin_fqdn, strlen(e->admin_fqdn), NULL)) != SAEF_OK)
        return saef_maf_detail(SAEF_E_INVALID_ARG, detail, detail_len, "MAF %s: admin_fqdn: %s",
                               name, saef_strerror(rc));
    if (e->registration_lifetime_s > REG_LIFETIME_MAX_S)
        return saef_maf_detail(SAEF_E_INVALID_ARG, detail, detail_len,
                               "MAF %s: registration_lifetime_s above %u", name,
                               REG_LIFETIME_MAX_S);
    if (e->auth == SAEF_MAF_AUTH_CERT) {
        if (e->ca_file == NULL || e->client_cert == NULL || e->client_key == NULL)
            return saef_maf_detail(SAEF_E_CFG_CONFLICT, detail, detail_len,
                                   "MAF %s: certificate mode needs ca_file, client_cert and "
                                   "client_key",
                                   name);
        saef_m2m_id_t id;
        if (origin == NULL || saef_id_m2m_classify(origin, strlen(origin), &id) != SAEF_OK ||
            (id.kind != SAEF_M2M_ID_CSE_ABSOLUTE && id.kind != SAEF_M2M_ID_AE_ABSOLUTE))
            return saef_maf_detail(SAEF_E_CFG_CONFLICT, detail, detail_len,
                                   "MAF %s: certificate mode sends our Absolute CSE-ID or AE-ID "
                                   "as X-M2M-Origin, and the origin given is not one",
                                   name);
    } else if (e->auth == SAEF_MAF_AUTH_PSK) {
        saef_id_scoped_t km;
        if (e->kmid == NULL || (rc = saef_id_kmid_parse(e->kmid, strlen(e->kmid), &km)) != SAEF_OK)
            return saef_maf_detail(SAEF_E_INVALID_ARG, detail, detail_len,
                                   "MAF %s: kmid missing or not a KmID (%s)", name,
                                   e->kmid == NULL ? "missing" : saef_strerror(rc));
        if (!saef_id_fqdn_equal(km.fqdn.ptr, km.fqdn.len, e->fqdn, strlen(e->fqdn)))
            return saef_maf_detail(SAEF_E_CFG_CONFLICT, detail, detail_len,
                                   "MAF %s: kmid %s belongs to another MAF", name, e->kmid);
        if (e->km == NULL || e->km_len < 16 || e->km_len > 64)
            return saef_maf_detail(SAEF_E_INVALID_ARG, detail, detail_len,
                                   "MAF %s: Km must be 16 to 64 bytes, got %zu", name,
                                   e->km == NULL ? (size_t)0 : e->km_len);
    } else {
        return saef_maf_detail(SAEF_E_INVALID_ARG, detail, detail_len,
                               "MAF %s: auth is neither certificate nor PSK", name);
    }
    if (!in_range_u32(e->connect_timeout_ms, TIMEOUT_MIN_MS, TIMEOUT_MAX_MS) ||
        !in_range_u32(e->request_timeout_ms, TIMEOUT_MIN_MS, TIMEOUT_MAX_MS) ||
        e->connect_timeout_ms > e->request_timeout_ms)
        return saef_maf_detail(SAEF_E_INVALID_ARG, detail, detail_len,
                               "MAF %s: timeouts must be %u..%u ms, connect <= request", name,
                               TIMEOUT_MIN_MS, TIMEOUT_MAX_MS);
    if (!in_range_u32(e->max_inflight, 1, SAEF_MAF_INFLIGHT_LIMIT))
        return saef_maf_detail(SAEF_E_INVALID_ARG, detail, detail_len,
                               "MAF %s: max_inflight must be 1..%u", name, SAEF_MAF_INFLIGHT_LIMIT);
    if (e->breaker_threshold > 0 &&
        !in_range_u32(e->breaker_cooldown_ms, TIMEOUT_MIN_MS, TIMEOUT_MAX_MS))
        return saef_maf_detail(SAEF_E_INVALID_ARG, detail, detail_len,
                               "MAF %s: breaker_cooldown_ms must be %u..%u", name, TIMEOUT_MIN_MS,
                               TIMEOUT_MAX_MS);
    if (e->psk_length != 16 && e->psk_length != SAEF_MAF_KEY_MAX)
        return saef_maf_detail(SAEF_E_INVALID_ARG, detail, detail_len,
                               "MAF %s: psk_length must be 16 or 32", name);
    if (!saef_suid_known(e->accepted_suid))
        return saef_maf_detail(SAEF_E_INVALID_ARG, detail, detail_len,
                               "MAF %s: accepted_suid %u is not an m2m:suid", name,
                               e->accepted_suid);
    return SAEF_OK;
}
