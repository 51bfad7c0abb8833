/*
 * TEST-ONLY fault modes of saef-mafd (--fault=MODE).  They exist so that the MAF client's
 * negative tests can meet each broken answer of docs/maf-binding.md 6.8 from a real server.
 * A MAF that deliberately answers wrongly must never be deployed: the daemon says so at start.
 *
 * Only key retrieval is affected, after its request passed steps 1-6 of 5.5.  The answer is
 * built from the registration when the requester is an authorised target, otherwise from a
 * synthetic registration, so that a test needs no key registration to provoke a fault.
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "mafd.h"
#include "saef_suid.h"
#include "saef_time.h"

static const char *const fault_names[] = {
    [MAFD_FAULT_NONE] = "none",
    [MAFD_FAULT_STALL] = "stall",
    [MAFD_FAULT_GARBAGE] = "garbage",
    [MAFD_FAULT_WRONG_SUID] = "wrong-suid",
    [MAFD_FAULT_SHORT_KEY] = "short-key",
    [MAFD_FAULT_EXPIRED] = "expired",
    [MAFD_FAULT_DUPLICATE_KEYS] = "duplicate-keys",
    [MAFD_FAULT_BAD_SOURCE_ID] = "bad-source-id",
    [MAFD_FAULT_NO_ADMIN_FQDN] = "no-admin-fqdn",
};

bool mafd_fault_parse(const char *name, mafd_fault_t *out)
{
    for (size_t i = 0; i < sizeof(fault_names) / sizeof(fault_names[0]); i++)
        if (strcmp(name, fault_names[i]) == 0) {
            *out = (mafd_fault_t)i;
            return true;
        }
    return false;
}

const char *mafd_fault_name(mafd_fault_t f)
{
    return (size_t)f < sizeof(fault_names) / sizeof(fault_names[0]) ? fault_names[f] : "?";
}

/* A registration nobody made: random key, one hour left, a KmID as source. */
static bool synthetic(const mafd_req_t *r, mafd_kreg_t *k)
{
    memset(k, 0, sizeof(*k));
    if (RAND_bytes(k->key, MAFD_KEY_LEN) != 1)
        return false;
    snprintf(k->source_id, sizeof(k->source_id), "fault-source@%s", r->d->cfg.fqdn);
    snprintf(k->admin_fqdn, sizeof(k->admin_fqdn), "admin.invalid");
    snprintf(k->target_id, sizeof(k->target_id), "%s", r->client_id ? r->client_id : "");
    k->suid = SAEF_SUID_MAF_SAEF;
    k->expires = r->now + 3600;
    return true;
}

static bool add_b64(json_t *o, const char *name, const uint8_t *bytes, size_t len)
{
    char b64[48];
    bool ok = mafd_b64_encode(bytes, len, b64, sizeof(b64)) &&
              json_object_set_new(o, name, json_string(b64)) == 0;
    OPENSSL_cleanse(b64, sizeof(b64));
    return ok;
}

/* The 6.8 answer with the fault applied, as JSON text. */
static char *faulty_json(const mafd_req_t *r, const mafd_kreg_t *k)
{
    mafd_fault_t f = r->d->fault;
    char ts[SAEF_TS_BUF_SIZE];
    time_t exp = f == MAFD_FAULT_EXPIRED ? r->now - 3600 : k->expires;
    json_t *o = json_object();
    bool ok = o != NULL && saef_ts_from_time(exp, ts, sizeof(ts)) == SAEF_OK &&
              json_object_set_new(o, "expirationTime", json_string(ts)) == 0;
    ok = ok && json_object_set_new(o, "sourceMAFClientID",
                                   json_string(f == MAFD_FAULT_BAD_SOURCE_ID ? "not a source id"
                                                                             : k->source_id)) == 0;
    if (ok && f != MAFD_FAULT_NO_ADMIN_FQDN)
        ok = json_object_set_new(o, "adminFQDN", json_string(k->admin_fqdn)) == 0;
    ok = ok && json_object_set_new(
                   o, "suid",
                   json_integer(f == MAFD_FAULT_WRONG_SUID ? SAEF_SUID_PRE_SAEF : k->suid)) == 0;
    ok = ok && add_b64(o, "keyValue", k->key, f == MAFD_FAULT_SHORT_KEY ? 16 : MAFD_KEY_LEN);
    char *text = ok ? json_dumps(o, JSON_COMPACT) : NULL;
    mafd_json_wipe(o);
    json_decref(o);
    if (text == NULL || f != MAFD_FAULT_DUPLICATE_KEYS)
        return text;

    /* jansson cannot emit a duplicate member: append a second keyValue (another key) by hand
     * before the closing brace. */
    uint8_t other[MAFD_KEY_LEN];
    char b64[48];
    size_t len = strlen(text);
    size_t cap = len + sizeof(b64) + 16;
    char *dup = malloc(cap);
    ok = dup != NULL && len > 1 && text[len - 1] == '}' && RAND_bytes(other, sizeof(other)) == 1 &&
         mafd_b64_encode(other, sizeof(other), b64, sizeof(b64));
    if (ok)
        snprintf(dup, cap, "%.*s,\"keyValue\":\"%s\"}", (int)(len - 1), text, b64);
    OPENSSL_cleanse(other, sizeof(other));
    OPENSSL_cleanse(b64, sizeof(b64));
    OPENSSL_cleanse(text, len);
    free(text);
    if (!ok) {
        free(dup);
        return NULL;
    }
    return dup;
}

void mafd_fault_answer(const mafd_req_t *r, const mafd_kreg_t *k, mafd_resp_t *out)
{
    static const char garbage[] = "<html><body>this is not JSON</body></html>\n";
    mafd_kreg_t syn;
    if (r->d->fault == MAFD_FAULT_STALL) {
        out->stall = true;
        return;
    }
    if (r->d->fault == MAFD_FAULT_GARBAGE) {
        out->raw = strdup(garbage);
        out->raw_len = sizeof(garbage) - 1;
    } else if (k != NULL) {
        out->raw = faulty_json(r, k);
        out->raw_len = out->raw ? strlen(out->raw) : 0;
    } else {
        if (synthetic(r, &syn)) {
            out->raw = faulty_json(r, &syn);
            out->raw_len = out->raw ? strlen(out->raw) : 0;
        }
        mafd_kreg_wipe(&syn);
    }
    if (out->raw == NULL) {
        mafd_resp_error(out, 5000, "internal error");
        return;
    }
    out->rsc = 2000;
}
