/*
 * Request member validation for saef-mafd (docs/maf-binding.md sections 2, 5.3 and 6), and the
 * small codecs the procedures share: MAF-issued IDs and base64.  Every failure is 4000 with a
 * dbg text naming the member; no dbg text ever repeats a member's value.
 */
#include <config.h>

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "mafd.h"
#include "saef_ascii.h"
#include "saef_id.h"
#include "saef_suid.h"
#include "saef_time.h"

static const char hexdig[] = "0123456789ABCDEF";
static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

bool mafd_id_syntax_ok(const char *s, size_t len)
{
    if (len < 1 || len > SAEF_ID_REL_MAX)
        return false;
    if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

bool mafd_id_parse(const char *s, size_t len, uint8_t id[MAFD_ID_LEN])
{
    return saef_hex_decode(s, len, id, MAFD_ID_LEN);
}

void mafd_id_format(const uint8_t id[MAFD_ID_LEN], char out[2 * MAFD_ID_LEN + 1])
{
    for (size_t i = 0; i < MAFD_ID_LEN; i++) {
        out[2 * i] = hexdig[id[i] >> 4];
        out[2 * i + 1] = hexdig[id[i] & 15];
    }
    out[2 * MAFD_ID_LEN] = '\0';
}

bool mafd_is_absolute_id(const char *s, size_t len)
{
    saef_m2m_id_t id;
    if (saef_id_m2m_classify(s, len, &id) != SAEF_OK)
        return false;
    return id.kind == SAEF_M2M_ID_CSE_ABSOLUTE || id.kind == SAEF_M2M_ID_AE_ABSOLUTE;
}

bool mafd_b64_encode(const uint8_t *in, size_t len, char *out, size_t outlen)
{
    if (outlen < 4 * ((len + 2) / 3) + 1 || len > 3 * 1024)
        return false;
    EVP_EncodeBlock((unsigned char *)out, in, (int)len);
    return true;
}

static int b64val(char c)
{
    const char *p = c ? strchr(b64_alphabet, c) : NULL;
    return p ? (int)(p - b64_alphabet) : -1;
}

/* Exactly 44 characters of canonical padded base64 (section 2, keyValue) into 32 bytes. */
static bool b64_decode32(const char *s, size_t len, uint8_t out[MAFD_KEY_LEN])
{
    int v[44];
    bool ok = len == 44 && s[43] == '=';
    for (size_t i = 0; ok && i < 43; i++)
        ok = (v[i] = b64val(s[i])) >= 0;
    /* Non-zero padding bits are not the canonical encoding (RFC 4648 3.5). */
    ok = ok && (v[42] & 3) == 0;
    if (ok) {
        v[43] = 0;
        for (size_t i = 0, o = 0; i < 44; i += 4) {
            uint32_t w = (uint32_t)v[i] << 18 | (uint32_t)v[i + 1] << 12 | (uint32_t)v[i + 2] << 6 |
                         (uint32_t)v[i + 3];
            for (int b = 2; b >= 0 && o < MAFD_KEY_LEN; b--)
                out[o++] = (uint8_t)(w >> (8 * b));
        }
    }
    OPENSSL_cleanse(v, sizeof(v));
    return ok;
}

void mafd_json_wipe(json_t *v)
{
    if (json_is_string(v)) {
        OPENSSL_cleanse((char *)json_string_value(v), json_string_length(v));
    } else if (json_is_object(v)) {
        for (void *it = json_object_iter(v); it != NULL; it = json_object_iter_next(v, it))
            mafd_json_wipe(json_object_iter_value(it));
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            mafd_json_wipe(json_array_get(v, i));
    }
}

bool mafd_body_only(json_t *obj, const char *const *allowed, mafd_resp_t *out)
{
    for (void *it = json_object_iter(obj); it != NULL; it = json_object_iter_next(obj, it)) {
        const char *key = json_object_iter_key(it);
        bool known = false;
        for (size_t i = 0; allowed[i] != NULL && !known; i++)
            known = strcmp(key, allowed[i]) == 0;
        if (!known) {
            char name[65];
            mafd_sanitize(key, strlen(key), name, sizeof(name));
            mafd_resp_error(out, 4000, "unknown member %s", name);
            return false;
        }
    }
    return true;
}

/* A member that must have type t when present.  *ok = false (and out set) on a type error or
 * a missing mandatory member; NULL when absent. */
static json_t *member(json_t *obj, const char *name, json_type t, bool mandatory, bool *ok,
                      mafd_resp_t *out)
{
    static const char *const tname[] = {"an object", "an array",  "a string",  "an integer",
                                        "a number",  "a boolean", "a boolean", "null"};
    json_t *v = json_object_get(obj, name);
    *ok = true;
    if (v == NULL) {
        if (mandatory) {
            mafd_resp_error(out, 4000, "missing member %s", name);
            *ok = false;
        }
        return NULL;
    }
    if (json_typeof(v) != t) {
        mafd_resp_error(out, 4000, "member %s must be %s", name, tname[t]);
        *ok = false;
        return NULL;
    }
    return v;
}

bool mafd_body_maf_fqdn(const mafd_req_t *r, mafd_resp_t *out)
{
    bool ok;
    json_t *v = member(r->body, "mafFQDN", JSON_STRING, true, &ok, out);
    if (!ok)
        return false;
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (saef_id_fqdn_check(s, len, NULL) != SAEF_OK) {
        mafd_resp_error(out, 4000, "mafFQDN is not an FQDN");
        return false;
    }
    if (!saef_id_fqdn_equal(s, len, r->d->cfg.fqdn, strlen(r->d->cfg.fqdn))) {
        mafd_resp_error(out, 4000, "mafFQDN is not this MAF");
        return false;
    }
    return true;
}

bool mafd_body_expiration(const mafd_req_t *r, bool mandatory, bool *present, time_t *t,
                          mafd_resp_t *out)
{
    bool ok;
    json_t *v = member(r->body, "expirationTime", JSON_STRING, mandatory, &ok, out);
    *present = v != NULL;
    if (v == NULL)
        return ok;
    struct timespec ts;
    if (saef_ts_parse(json_string_value(v), json_string_length(v), &ts) != SAEF_OK) {
        mafd_resp_error(out, 4000, "expirationTime is not an m2m:timestamp");
        return false;
    }
    /* The fraction is dropped (rounded towards the past), then "strictly in the future". */
    if (ts.tv_sec <= r->now) {
        mafd_resp_error(out, 4000, "expirationTime not in the future");
        return false;
    }
    *t = ts.tv_sec;
    return true;
}

static bool label_ok(const char *s, size_t len)
{
    if (len < 1 || len > MAFD_LABEL_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (s[i] < 0x21 || s[i] > 0x7e)
            return false;
    return true;
}

bool mafd_body_labels(json_t *obj, bool *present, mafd_labels_t *labels, mafd_resp_t *out)
{
    bool ok;
    json_t *v = member(obj, "labels", JSON_ARRAY, false, &ok, out);
    *present = v != NULL;
    labels->n = 0;
    if (v == NULL)
        return ok;
    if (json_array_size(v) > MAFD_LABELS_MAX) {
        mafd_resp_error(out, 4000, "labels has more than %d entries", MAFD_LABELS_MAX);
        return false;
    }
    for (size_t i = 0; i < json_array_size(v); i++) {
        const json_t *e = json_array_get(v, i);
        if (!json_is_string(e) || !label_ok(json_string_value(e), json_string_length(e))) {
            mafd_resp_error(out, 4000, "labels entry %zu is not 1-128 visible ASCII characters", i);
            return false;
        }
        memcpy(labels->v[i], json_string_value(e), json_string_length(e) + 1);
    }
    labels->n = json_array_size(v);
    return true;
}

bool mafd_body_admin_fqdn(json_t *obj, char fqdn[MAFD_FQDN_MAX + 1], mafd_resp_t *out)
{
    bool ok;
    json_t *v = member(obj, "adminFQDN", JSON_STRING, true, &ok, out);
    if (!ok)
        return false;
    saef_span_t span;
    if (saef_id_fqdn_check(json_string_value(v), json_string_length(v), &span) != SAEF_OK) {
        mafd_resp_error(out, 4000, "adminFQDN is not an FQDN");
        return false;
    }
    /* Stored and returned in lower case without the trailing dot (section 2). */
    for (size_t i = 0; i < span.len; i++) {
        char c = span.ptr[i];
        fqdn[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    fqdn[span.len] = '\0';
    return true;
}

bool mafd_body_suid(json_t *obj, unsigned *suid, mafd_resp_t *out)
{
    bool ok;
    json_t *v = member(obj, "suid", JSON_INTEGER, true, &ok, out);
    if (!ok)
        return false;
    if (json_integer_value(v) != SAEF_SUID_MAF_SAEF) {
        mafd_resp_error(out, 4000, "suid must be %d", SAEF_SUID_MAF_SAEF);
        return false;
    }
    *suid = SAEF_SUID_MAF_SAEF;
    return true;
}

bool mafd_body_targets(json_t *obj, bool mandatory, bool *present, char target[MAFD_M2M_ID_MAX + 1],
                       mafd_resp_t *out)
{
    bool ok;
    json_t *v = member(obj, "targetIDs", JSON_ARRAY, mandatory, &ok, out);
    *present = v != NULL;
    if (v == NULL)
        return ok;
    if (json_array_size(v) != 1) {
        mafd_resp_error(out, 4000, "targetIDs must hold exactly one entry for suid 32");
        return false;
    }
    json_t *e = json_array_get(v, 0);
    if (!json_is_string(e) || !mafd_is_absolute_id(json_string_value(e), json_string_length(e))) {
        mafd_resp_error(out, 4000, "targetIDs entry is not an Absolute CSE-ID or AE-ID");
        return false;
    }
    memcpy(target, json_string_value(e), json_string_length(e) + 1);
    return true;
}

bool mafd_body_key_value(json_t *obj, bool *present, uint8_t key[MAFD_KEY_LEN], mafd_resp_t *out)
{
    bool ok;
    json_t *v = member(obj, "keyValue", JSON_STRING, false, &ok, out);
    *present = v != NULL;
    if (v == NULL)
        return ok;
    if (!b64_decode32(json_string_value(v), json_string_length(v), key)) {
        OPENSSL_cleanse(key, MAFD_KEY_LEN);
        mafd_resp_error(out, 4000,
                        "keyValue must be canonical padded base64 that decodes to 32 bytes");
        return false;
    }
    return true;
}

bool mafd_body_rel_key_id(json_t *obj, const char **id, mafd_resp_t *out)
{
    bool ok;
    json_t *v = member(obj, "relativeKeyID", JSON_STRING, true, &ok, out);
    if (!ok)
        return false;
    if (!mafd_id_syntax_ok(json_string_value(v), json_string_length(v))) {
        mafd_resp_error(out, 4000, "relativeKeyID is not [A-Za-z0-9._-]{1,64}");
        return false;
    }
    *id = json_string_value(v);
    return true;
}
