/*
 * The procedures of docs/maf-binding.md section 6, steps 6 (members) to 10 of 5.5.  Each
 * function validates its members in the order of the binding's member table, then looks up the
 * target (4004), authorises (4103), and acts; any failure of the MAF itself is 5000.
 */
#include <config.h>

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "mafd.h"
#include "saef_time.h"

static const char *const creg_members[] = {"mafFQDN", "expirationTime", "labels", "adminFQDN",
                                           NULL};
static const char *const creg_update_members[] = {"mafFQDN", "expirationTime", "labels", NULL};
static const char *const kreg_members[] = {"mafFQDN", "expirationTime", "labels",   "adminFQDN",
                                           "suid",    "targetIDs",      "keyValue", NULL};
static const char *const kreg_update_members[] = {"mafFQDN", "expirationTime", "labels",
                                                  "targetIDs", NULL};
static const char *const kretrieve_members[] = {"relativeKeyID", NULL};

static const char no_creg[] = "no such client registration";
static const char no_kreg[] = "no such key registration";
static const char not_owner[] = "registration belongs to another MAF client";

static void internal(mafd_resp_t *out)
{
    json_decref(out->body);
    out->body = NULL;
    mafd_resp_error(out, 5000, "internal error");
}

static time_t min_time(time_t a, time_t b)
{
    return a < b ? a : b;
}

/* Set member name of obj to a new value; false when allocation failed. */
static bool put(json_t *obj, const char *name, json_t *value)
{
    return value != NULL && json_object_set_new(obj, name, value) == 0;
}

static bool put_time(json_t *obj, const char *name, time_t t)
{
    char buf[SAEF_TS_BUF_SIZE];
    return saef_ts_from_time(t, buf, sizeof(buf)) == SAEF_OK && put(obj, name, json_string(buf));
}

static bool put_labels(json_t *obj, const mafd_labels_t *labels)
{
    if (labels->n == 0)
        return true; /* "present when the registration has labels" */
    json_t *arr = json_array();
    for (size_t i = 0; arr != NULL && i < labels->n; i++)
        if (json_array_append_new(arr, json_string(labels->v[i])) != 0) {
            json_decref(arr);
            return false;
        }
    return put(obj, "labels", arr);
}

static json_t *creg_json(const mafd_creg_t *c)
{
    char id[2 * MAFD_ID_LEN + 1];
    mafd_id_format(c->id, id);
    json_t *o = json_object();
    if (o != NULL && put(o, "mafClientRegID", json_string(id)) &&
        put_time(o, "expirationTime", c->expires) && put_labels(o, &c->labels) &&
        put(o, "mafClientID", json_string(c->client_id)) &&
        put(o, "adminFQDN", json_string(c->admin_fqdn)))
        return o;
    json_decref(o);
    return NULL;
}

static json_t *kreg_json(const mafd_kreg_t *k)
{
    char id[2 * MAFD_ID_LEN + 1];
    mafd_id_format(k->id, id);
    json_t *o = json_object();
    if (o != NULL && put(o, "relativeKeyID", json_string(id)) &&
        put_time(o, "expirationTime", k->expires) &&
        put(o, "sourceMAFClientID", json_string(k->source_id)) && put_labels(o, &k->labels) &&
        put(o, "adminFQDN", json_string(k->admin_fqdn)) && put(o, "suid", json_integer(k->suid)) &&
        put(o, "targetIDs", json_pack("[s]", k->target_id)))
        return o;
    json_decref(o);
    return NULL;
}

static void set_location(const mafd_req_t *r, const char *collection, const uint8_t *id,
                         mafd_resp_t *out)
{
    char hex[2 * MAFD_ID_LEN + 1];
    mafd_id_format(id, hex);
    snprintf(out->location, sizeof(out->location), "%s/%s/%s", r->d->cfg.base_path, collection,
             hex);
}

/* A fresh MAF-issued ID from the CSPRNG, never issued before. */
static bool fresh_id(const mafd_req_t *r, uint8_t id[MAFD_ID_LEN])
{
    for (int attempt = 0; attempt < 8; attempt++) {
        bool fresh = false;
        if (RAND_bytes(id, MAFD_ID_LEN) != 1 ||
            r->d->store->ops->reserve_id(r->d->store, id, &fresh) != SAEF_OK)
            return false;
        if (fresh)
            return true;
    }
    return false;
}

/* The ID in the path, looked up as a client registration (step 7); 4004 when there is none. */
static bool creg_target(const mafd_req_t *r, mafd_creg_t *c, mafd_resp_t *out)
{
    uint8_t id[MAFD_ID_LEN];
    saef_rc_t rc = SAEF_E_NOT_FOUND;
    if (mafd_id_parse(r->path_id, strlen(r->path_id), id))
        rc = r->d->store->ops->creg_get(r->d->store, id, r->now, c);
    if (rc == SAEF_E_NOT_FOUND)
        mafd_resp_error(out, 4004, no_creg);
    else if (rc != SAEF_OK)
        internal(out);
    return rc == SAEF_OK;
}

static bool kreg_lookup(const mafd_req_t *r, const char *hex, mafd_kreg_t *k, mafd_resp_t *out)
{
    uint8_t id[MAFD_ID_LEN];
    saef_rc_t rc = SAEF_E_NOT_FOUND;
    if (mafd_id_parse(hex, strlen(hex), id))
        rc = r->d->store->ops->kreg_get(r->d->store, id, r->now, k);
    if (rc == SAEF_E_NOT_FOUND)
        mafd_resp_error(out, 4004, no_kreg);
    else if (rc != SAEF_OK)
        internal(out);
    return rc == SAEF_OK;
}

/* The requester's active client registration for admin_fqdn (key registration 6.5, 6.6). */
static bool source_creg(const mafd_req_t *r, const char *admin_fqdn, mafd_creg_t *c,
                        mafd_resp_t *out)
{
    saef_rc_t rc = r->d->store->ops->creg_find(r->d->store, r->client_id, admin_fqdn, r->now, c);
    if (rc == SAEF_E_NOT_FOUND)
        mafd_resp_error(out, 4103, "no active client registration for adminFQDN %s", admin_fqdn);
    else if (rc != SAEF_OK)
        internal(out);
    return rc == SAEF_OK;
}

void mafd_proc_health(const mafd_req_t *r, mafd_resp_t *out)
{
    json_t *o = json_object();
    if (o == NULL || !put(o, "mafFQDN", json_string(r->d->cfg.fqdn)) ||
        !put_time(o, "currentTime", r->now) ||
        (r->client_id != NULL && !put(o, "mafClientID", json_string(r->client_id)))) {
        json_decref(o);
        internal(out);
        return;
    }
    out->rsc = 2000;
    out->body = o;
}

void mafd_proc_creg(const mafd_req_t *r, mafd_resp_t *out)
{
    mafd_creg_t c = {0}, cur;
    bool present;
    time_t exp;
    if (!mafd_body_only(r->body, creg_members, out) || !mafd_body_maf_fqdn(r, out) ||
        !mafd_body_expiration(r, true, &present, &exp, out) ||
        !mafd_body_labels(r->body, &present, &c.labels, out) ||
        !mafd_body_admin_fqdn(r->body, c.admin_fqdn, out))
        return;
    exp = min_time(exp, r->now + r->d->cfg.max_client_lifetime);
    snprintf(c.client_id, sizeof(c.client_id), "%s", r->client_id);
    /* Upsert keyed by (MAF Client ID, adminFQDN); a refresh never shortens (6.2). */
    saef_rc_t rc =
        r->d->store->ops->creg_find(r->d->store, c.client_id, c.admin_fqdn, r->now, &cur);
    if (rc == SAEF_OK) {
        memcpy(c.id, cur.id, MAFD_ID_LEN);
        c.expires = cur.expires > exp ? cur.expires : exp;
    } else if (rc == SAEF_E_NOT_FOUND && fresh_id(r, c.id)) {
        c.expires = exp;
    } else {
        internal(out);
        return;
    }
    if (r->d->store->ops->creg_put(r->d->store, &c) != SAEF_OK ||
        (out->body = creg_json(&c)) == NULL) {
        internal(out);
        return;
    }
    out->rsc = 2001;
    set_location(r, "clientRegistrations", c.id, out);
}

void mafd_proc_creg_update(const mafd_req_t *r, mafd_resp_t *out)
{
    mafd_creg_t c;
    mafd_labels_t labels;
    bool has_exp, has_labels;
    time_t exp = 0;
    if (!mafd_body_only(r->body, creg_update_members, out) || !mafd_body_maf_fqdn(r, out) ||
        !mafd_body_expiration(r, false, &has_exp, &exp, out) ||
        !mafd_body_labels(r->body, &has_labels, &labels, out))
        return;
    if (!has_exp && !has_labels) {
        mafd_resp_error(out, 4000, "nothing to update");
        return;
    }
    if (!creg_target(r, &c, out))
        return;
    if (strcmp(c.client_id, r->client_id) != 0) {
        mafd_resp_error(out, 4103, not_owner);
        return;
    }
    if (has_exp) /* may shorten, may end earlier than the current time (6.3) */
        c.expires = min_time(exp, r->now + r->d->cfg.max_client_lifetime);
    if (has_labels)
        c.labels = labels;
    if (r->d->store->ops->creg_put(r->d->store, &c) != SAEF_OK ||
        (out->body = creg_json(&c)) == NULL) {
        internal(out);
        return;
    }
    out->rsc = 2004;
}

void mafd_proc_creg_delete(const mafd_req_t *r, mafd_resp_t *out)
{
    mafd_creg_t c;
    if (!creg_target(r, &c, out))
        return;
    if (strcmp(c.client_id, r->client_id) != 0) {
        mafd_resp_error(out, 4103, not_owner);
        return;
    }
    if (r->d->store->ops->creg_del(r->d->store, c.id) != SAEF_OK) {
        internal(out);
        return;
    }
    out->rsc = 2002;
}

/* Step 9 for a key registration without keyValue: ID and key from the TLS exporter. */
static bool exporter_key(const mafd_req_t *r, mafd_kreg_t *k, mafd_resp_t *out)
{
    uint8_t ekm[MAFD_EXPORTER_LEN];
    saef_rc_t rc = mafd_tls_export(r->conn, ekm);
    if (rc == SAEF_E_STATE) {
        mafd_resp_error(out, 4000, "exporter requires the extended master secret");
        return false;
    }
    if (rc != SAEF_OK) {
        internal(out);
        return false;
    }
    memcpy(k->id, ekm, MAFD_ID_LEN);
    memcpy(k->key, ekm + MAFD_ID_LEN, MAFD_KEY_LEN);
    OPENSSL_cleanse(ekm, sizeof(ekm));
    bool fresh = false;
    if (r->conn->exporter_used) {
        mafd_resp_error(out, 4105,
                        "a key derived by the TLS exporter is already registered on this "
                        "connection");
        return false;
    }
    if (r->d->store->ops->reserve_id(r->d->store, k->id, &fresh) != SAEF_OK) {
        internal(out);
        return false;
    }
    if (!fresh) {
        mafd_resp_error(out, 4105, "the derived relativeKeyID collides with an issued ID");
        return false;
    }
    return true;
}

void mafd_proc_kreg(const mafd_req_t *r, mafd_resp_t *out)
{
    mafd_kreg_t k = {0};
    mafd_creg_t c;
    bool present, has_key;
    time_t exp;
    if (!mafd_body_only(r->body, kreg_members, out) || !mafd_body_maf_fqdn(r, out) ||
        !mafd_body_expiration(r, true, &present, &exp, out) ||
        !mafd_body_labels(r->body, &present, &k.labels, out) ||
        !mafd_body_admin_fqdn(r->body, k.admin_fqdn, out) ||
        !mafd_body_suid(r->body, &k.suid, out) ||
        !mafd_body_targets(r->body, true, &present, k.target_id, out) ||
        !mafd_body_key_value(r->body, &has_key, k.key, out) ||
        !source_creg(r, k.admin_fqdn, &c, out))
        goto done;
    if (has_key ? !fresh_id(r, k.id) : !exporter_key(r, &k, out)) {
        if (out->rsc == 0)
            internal(out);
        goto done;
    }
    snprintf(k.source_id, sizeof(k.source_id), "%s", r->client_id);
    k.expires = min_time(min_time(exp, c.expires), r->now + r->d->cfg.max_key_lifetime);
    if (r->d->store->ops->kreg_put(r->d->store, &k) != SAEF_OK ||
        (out->body = kreg_json(&k)) == NULL) {
        internal(out);
        goto done;
    }
    /* Also after a later de-registration: the exporter value stays the same (6.5.1). */
    if (!has_key)
        r->conn->exporter_used = true;
    out->rsc = 2001;
    set_location(r, "keyRegistrations", k.id, out);
done:
    mafd_kreg_wipe(&k);
}

void mafd_proc_kreg_update(const mafd_req_t *r, mafd_resp_t *out)
{
    mafd_kreg_t k;
    mafd_creg_t c;
    mafd_labels_t labels;
    char target[MAFD_M2M_ID_MAX + 1];
    bool has_exp, has_labels, has_target;
    time_t exp = 0;
    if (!mafd_body_only(r->body, kreg_update_members, out) || !mafd_body_maf_fqdn(r, out) ||
        !mafd_body_expiration(r, false, &has_exp, &exp, out) ||
        !mafd_body_labels(r->body, &has_labels, &labels, out) ||
        !mafd_body_targets(r->body, false, &has_target, target, out))
        return;
    if (!has_exp && !has_labels && !has_target) {
        mafd_resp_error(out, 4000, "nothing to update");
        return;
    }
    if (!kreg_lookup(r, r->path_id, &k, out))
        return;
    if (strcmp(k.source_id, r->client_id) != 0)
        mafd_resp_error(out, 4103, not_owner);
    else if (source_creg(r, k.admin_fqdn, &c, out)) {
        if (has_exp)
            k.expires = min_time(min_time(exp, c.expires), r->now + r->d->cfg.max_key_lifetime);
        if (has_labels)
            k.labels = labels;
        if (has_target)
            memcpy(k.target_id, target, sizeof(target));
        if (r->d->store->ops->kreg_put(r->d->store, &k) != SAEF_OK ||
            (out->body = kreg_json(&k)) == NULL)
            internal(out);
        else
            out->rsc = 2004;
    }
    mafd_kreg_wipe(&k);
}

void mafd_proc_kreg_delete(const mafd_req_t *r, mafd_resp_t *out)
{
    mafd_kreg_t k;
    if (!kreg_lookup(r, r->path_id, &k, out))
        return;
    /* No client registration needed: a source can always clean up (6.7). */
    if (strcmp(k.source_id, r->client_id) != 0)
        mafd_resp_error(out, 4103, not_owner);
    else if (r->d->store->ops->kreg_del(r->d->store, k.id) != SAEF_OK)
        internal(out);
    else
        out->rsc = 2002;
    mafd_kreg_wipe(&k);
}

void mafd_proc_kretrieve(const mafd_req_t *r, mafd_resp_t *out)
{
    mafd_kreg_t k;
    const char *hex;
    char b64[48];
    if (!mafd_body_only(r->body, kretrieve_members, out) ||
        !mafd_body_rel_key_id(r->body, &hex, out))
        return;
    bool found = kreg_lookup(r, hex, &k, out);
    /* Authorisation by the authenticated MAF Client ID only, byte for byte (6.8). */
    bool allowed = found && r->client_id != NULL && strcmp(k.target_id, r->client_id) == 0;
    if (r->d->fault != MAFD_FAULT_NONE) {
        out->rsc = 0;
        mafd_fault_answer(r, allowed ? &k : NULL, out);
    } else if (found && !allowed) {
        mafd_resp_error(out, 4103,
                        "requester is not an authorized target of this key "
                        "registration");
    } else if (found) {
        json_t *o = json_object();
        if (o == NULL || !put_time(o, "expirationTime", k.expires) ||
            !put(o, "sourceMAFClientID", json_string(k.source_id)) || !put_labels(o, &k.labels) ||
            !put(o, "adminFQDN", json_string(k.admin_fqdn)) ||
            !put(o, "suid", json_integer(k.suid)) ||
            !mafd_b64_encode(k.key, MAFD_KEY_LEN, b64, sizeof(b64)) ||
            !put(o, "keyValue", json_string(b64))) {
            mafd_json_wipe(o);
            json_decref(o);
            internal(out);
        } else {
            out->rsc = 2000;
            out->body = o;
        }
        OPENSSL_cleanse(b64, sizeof(b64));
    }
    if (found)
        mafd_kreg_wipe(&k);
}

void mafd_proc_stats(const mafd_req_t *r, mafd_resp_t *out)
{
    static const char *const names[MAFD_P_COUNT] = {"health",
                                                    "clientRegistration",
                                                    "clientRegistrationUpdate",
                                                    "clientDeRegistration",
                                                    "keyRegistration",
                                                    "keyRegistrationUpdate",
                                                    "keyDeRegistration",
                                                    "keyRetrieval"};
    const mafd_t *d = r->d;
    size_t ncreg = 0, nkreg = 0;
    json_t *procs = json_object();
    bool ok = procs != NULL && d->store->ops->count(d->store, r->now, &ncreg, &nkreg) == SAEF_OK;
    for (int i = 0; ok && i < MAFD_P_COUNT; i++)
        ok = put(procs, names[i],
                 json_pack("{s:I,s:I}", "requests", (json_int_t)d->stats.requests[i], "succeeded",
                           (json_int_t)d->stats.succeeded[i]));
    json_t *o = ok ? json_pack("{s:o,s:I,s:I,s:I,s:s}", "procedures", procs, "unrouted",
                               (json_int_t)d->stats.unrouted, "activeClientRegistrations",
                               (json_int_t)ncreg, "activeKeyRegistrations", (json_int_t)nkreg,
                               "faultMode", mafd_fault_name(d->fault))
                   : NULL;
    if (o == NULL) {
        if (!ok)
            json_decref(procs);
        internal(out);
        return;
    }
    out->rsc = 2000;
    out->body = o;
}
