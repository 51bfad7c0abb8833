/*
 * The module's management resources (saef_module_t.admin_request), mounted by the host below
 * its CSEBase (the reference host: <CSEBase>/saef/<path>):
 *
 *   status                RETRIEVE  counters of this node: handshakes, MAF retrievals, key
 *                                   cache, database writer and listener
 *   keys                  RETRIEVE  the key cache's entries (metadata only, never key bytes)
 *   keys/<Key Identifier> DELETE    revoke: every node drops the key (with a database, the
 *                                   vault row and associations are marked revoked and the
 *                                   other nodes told through NOTIFY); without one, this node
 *   associations          RETRIEVE  association rows; query node=, state=, key=, limit= (100,
 *                                   at most 1000), after= (paging by id)
 *   credmap               RETRIEVE  the credential map;  CREATE {"pattern":..,"target":..}
 *   credmap/<pattern>     UPDATE {"target":..}, DELETE
 *
 * Only originators listed in admin_originators (compared exactly with the From the host
 * authenticated) get anything but 4103.  Request errors are SAEF_OK with a 4xxx rsc and an
 * {"m2m:dbg": reason} body; the database's failures are 5000 with its reason.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "saef_admin.h"
#include "saef_rc.h"
#include "saef_runtime_db.h"
#include "saef_time.h"

#define LIST_DEFAULT 100
#define LIST_MAX 1000

static void reply(saef_admin_response_t *resp, int rsc, json_t *body)
{
    resp->rsc = rsc;
    resp->body = NULL;
    resp->content_type = "application/json";
    if (body != NULL) {
        resp->body = json_dumps(body, JSON_COMPACT);
        json_decref(body);
    }
    if (resp->body == NULL) {
        resp->rsc = 5000; /* out of memory: no body at all */
        resp->content_type = NULL;
    }
}

static void reply_dbg(saef_admin_response_t *resp, int rsc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void reply_dbg(saef_admin_response_t *resp, int rsc, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    size_t i;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    /* It may quote what the requester sent: printable ASCII only, so that it is valid UTF-8
     * whatever was sent and wherever the text was cut. */
    for (i = 0; text[i] != '\0'; i++)
        if ((unsigned char)text[i] < 0x20 || (unsigned char)text[i] > 0x7e)
            text[i] = '?';
    reply(resp, rsc, json_pack("{s:s}", "m2m:dbg", text));
}

static bool is_admin(const saef_cfg_t *cfg, const char *originator)
{
    size_t i;

    for (i = 0; originator != NULL && i < cfg->n_admin_originators; i++)
        if (strcmp(cfg->admin_originators[i], originator) == 0)
            return true;
    return false;
}

/* The value of name in a query string "a=1&b=2" (no percent-decoding: the values used here
 * are identifiers and numbers), copied into buf; NULL when absent. */
static const char *query_get(const char *query, const char *name, char *buf, size_t cap)
{
    size_t n = strlen(name);
    const char *p = query;

    while (p != NULL && *p != '\0') {
        const char *end = strchr(p, '&');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);

        if (len > n && strncmp(p, name, n) == 0 && p[n] == '=') {
            snprintf(buf, cap, "%.*s", (int)(len - n - 1), p + n + 1);
            return buf;
        }
        p = end != NULL ? end + 1 : NULL;
    }
    return NULL;
}

/* A time as m2m:timestamp (UTC, "20261129T104510"), the form oneM2M resources use. */
static json_t *ts_json(time_t t)
{
    char buf[32];

    return saef_ts_from_time(t, buf, sizeof(buf)) == SAEF_OK ? json_string(buf) : json_null();
}

/* ---------------------------------------------------------------- status, keys */

static void get_status(saef_instance_t *inst, saef_admin_response_t *resp)
{
    saef_runtime_t *rt = &inst->rt;
    saef_cache_stats_t cs;
    json_t *st, *db = json_null();

    memset(&cs, 0, sizeof(cs));
    (void)saef_cache_stats(rt->cache, &cs);
    if (rt->db != NULL) {
        saef_db_writer_stats_t w;
        saef_db_listener_stats_t l;

        saef_rtdb_stats(rt->db, &w, &l);
        db = json_pack("{s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:s,s:b,s:I}", "writerConnected",
                       w.connected, "queued", (json_int_t)(w.queued_assoc + w.queued_audit),
                       "writtenAssociations", (json_int_t)w.written_assoc, "writtenAudit",
                       (json_int_t)w.written_audit, "retries", (json_int_t)w.retries,
                       "refused", (json_int_t)w.refused, "droppedAudit",
                       (json_int_t)w.dropped_audit, "lost", (json_int_t)w.lost, "lastError",
                       w.last_error, "listenerConnected", l.connected, "notifications",
                       (json_int_t)l.events);
    }
    st = json_pack("{s:{s:s,s:s,s:{s:I,s:I},s:I,s:{s:I,s:I,s:I,s:I,s:I,s:I},s:o}}",
                   "saef:status", "cseID", inst->cfg->cse_id, "nodeID", inst->cfg->node_id,
                   "handshakes", "accepted", (json_int_t)atomic_load(&rt->handshakes_ok),
                   "refused", (json_int_t)atomic_load(&rt->handshakes_failed), "retrievals",
                   (json_int_t)atomic_load(&rt->retrievals), "keyCache", "entries",
                   (json_int_t)cs.entries, "refusals", (json_int_t)cs.negative_entries,
                   "capacity", (json_int_t)cs.capacity, "hits", (json_int_t)cs.hits, "misses",
                   (json_int_t)cs.misses, "inFlight", (json_int_t)cs.flights, "database", db);
    reply(resp, 2000, st);
}

typedef struct key_list {
    json_t *arr;
    size_t left;
    bool failed; /* out of memory: the list is incomplete */
} key_list_t;

static int add_key(void *arg, const saef_cache_meta_t *m)
{
    key_list_t *l = arg;
    json_t *o;

    if (l->left == 0)
        return 1;
    l->left--;
    if (m->negative)
        o = json_pack("{s:s,s:b,s:i,s:s,s:o}", "keyID", m->key_id, "refusal", 1, "reasonCode",
                      (int)m->refusal, "reason", saef_strerror(m->refusal), "until",
                      ts_json(m->expires.tv_sec));
    else
        o = json_pack("{s:s,s:b,s:o,s:i,s:s,s:s,s:I}", "keyID", m->key_id, "refusal", 0,
                      "kcExpiry", ts_json(m->kc_expiry.tv_sec), "suid", (int)m->suid,
                      "sourceID", m->source_id, "adminFQDN", m->admin_fqdn, "hits",
                      (json_int_t)m->hits);
    l->failed = o == NULL || json_array_append_new(l->arr, o) != 0;
    return l->failed;
}

static void get_keys(saef_instance_t *inst, saef_admin_response_t *resp)
{
    key_list_t l = {.arr = json_array(), .left = LIST_MAX};
    struct timespec now;

    clock_gettime(CLOCK_REALTIME, &now);
    if (l.arr == NULL || saef_cache_foreach_meta(inst->rt.cache, &now, add_key, &l) != SAEF_OK ||
        l.failed) {
        json_decref(l.arr);
        reply_dbg(resp, 5000, "cannot list the key cache: out of memory");
        return;
    }
    reply(resp, 2000, json_pack("{s:o}", "saef:keys", l.arr));
}

/* ---------------------------------------------------------------- database resources */

/* Run op on the admin connection, once more after a lost connection.  Returns its rc, or
 * SAEF_E_DB with err set when the database is unavailable. */
typedef saef_rc_t (*db_op_t)(saef_db_t *db, void *arg);

typedef struct db_error {
    char text[SAEF_DB_ERRMSG_MAX + 64];
    saef_db_errclass_t cls;
} db_error_t;

static saef_rc_t with_db(saef_instance_t *inst, db_op_t op, void *arg, db_error_t *err)
{
    saef_db_t *db = saef_rtdb_admin_begin(inst->rt.db, err->text, sizeof(err->text));
    saef_rc_t rc;

    err->cls = SAEF_DB_ERR_RETRY;
    if (db == NULL)
        return SAEF_E_DB;
    rc = op(db, arg);
    if (rc == SAEF_E_DB && saef_rtdb_admin_retry(inst->rt.db))
        rc = op(db, arg);
    err->cls = rc == SAEF_E_DB ? saef_db_errclass(db) : SAEF_DB_ERR_NONE;
    if (rc == SAEF_E_DB)
        snprintf(err->text, sizeof(err->text), "database: %s", saef_db_errmsg(db));
    else
        err->text[0] = '\0';
    saef_rtdb_admin_end(inst->rt.db);
    return rc;
}

typedef struct revoke_op {
    const char *key_id;
    int64_t vault, assoc;
} revoke_op_t;

static saef_rc_t op_revoke(saef_db_t *db, void *arg)
{
    revoke_op_t *r = arg;

    return saef_db_revoke(db, r->key_id, &r->vault, &r->assoc);
}

static void delete_key(saef_instance_t *inst, const char *given, const char *originator,
                       saef_admin_response_t *resp)
{
    char key_id[SAEF_ID_MAX];
    revoke_op_t r = {.key_id = key_id};
    db_error_t err;
    saef_rc_t rc;
    bool cached;

    /* The form the cache and the vault use, however the MAF-FQDN is spelled. */
    rc = saef_eb_key_id(given, strlen(given), key_id, sizeof(key_id));
    if (rc != SAEF_OK) {
        reply_dbg(resp, 4000, "keys/%s: not a Key Identifier (%s)", given, saef_strerror(rc));
        return;
    }
    /* This node at once, whatever the database says. */
    cached = saef_cache_evict(inst->rt.cache, key_id, strlen(key_id)) == SAEF_OK;
    if (inst->rt.db == NULL) {
        saef_log(inst, SAEF_LOG_NOTICE, "key %s revoked by %s on this node (no database)",
                 key_id, originator);
        reply(resp, 2002,
              json_pack("{s:{s:s,s:b,s:b}}", "saef:revocation", "keyID", key_id, "wasCached",
                        cached, "nodesNotified", 0));
        return;
    }
    rc = with_db(inst, op_revoke, &r, &err);
    if (rc == SAEF_E_INVALID_ARG) {
        reply_dbg(resp, 4000, "keys/%s: the database refuses this Key Identifier", key_id);
        return;
    }
    if (rc != SAEF_OK) {
        saef_log(inst, SAEF_LOG_ERROR,
                 "revocation of %s by %s reached this node only: %s", key_id, originator,
                 err.text[0] ? err.text : saef_strerror(rc));
        reply_dbg(resp, 5000, "revoked on this node only: %s",
                  err.text[0] ? err.text : saef_strerror(rc));
        return;
    }
    saef_log(inst, SAEF_LOG_NOTICE,
             "key %s revoked by %s: %lld vault row(s), %lld association(s); nodes notified",
             key_id, originator, (long long)r.vault, (long long)r.assoc);
    reply(resp, 2002,
          json_pack("{s:{s:s,s:b,s:I,s:I,s:b}}", "saef:revocation", "keyID", key_id,
                    "wasCached", cached, "vaultRows", (json_int_t)r.vault, "associations",
                    (json_int_t)r.assoc, "nodesNotified", 1));
}

typedef struct assoc_op {
    saef_db_assoc_filter_t f;
    saef_db_assoc_row_t *rows;
    size_t cap, n;
} assoc_op_t;

static saef_rc_t op_assoc(saef_db_t *db, void *arg)
{
    assoc_op_t *a = arg;

    return saef_db_assoc_list(db, &a->f, a->rows, a->cap, &a->n);
}

static void get_associations(saef_instance_t *inst, const char *query,
                             saef_admin_response_t *resp)
{
    char node[SAEF_DB_NAME_MAX], key[SAEF_ID_MAX], state[16], num[24];
    db_error_t err;
    assoc_op_t a = {.cap = LIST_DEFAULT};
    const char *v;
    json_t *arr;
    size_t i;
    saef_rc_t rc;

    a.f.node_id = query_get(query, "node", node, sizeof(node));
    a.f.key_id = query_get(query, "key", key, sizeof(key));
    if ((v = query_get(query, "state", state, sizeof(state))) != NULL &&
        (a.f.state = saef_db_assoc_state_parse(v)) == 0) {
        reply_dbg(resp, 4000, "state=%s: expected active, expired or revoked", v);
        return;
    }
    if ((v = query_get(query, "limit", num, sizeof(num))) != NULL) {
        char *end;
        unsigned long n = strtoul(v, &end, 10);

        if (*v == '\0' || *end != '\0' || n == 0 || n > LIST_MAX) {
            reply_dbg(resp, 4000, "limit=%s: expected 1 to %d", v, LIST_MAX);
            return;
        }
        a.cap = n;
    }
    if ((v = query_get(query, "after", num, sizeof(num))) != NULL) {
        char *end;
        long long n = strtoll(v, &end, 10);

        if (*v == '\0' || *end != '\0' || n < 0) {
            reply_dbg(resp, 4000, "after=%s: expected an association id", v);
            return;
        }
        a.f.after_id = n;
    }
    a.rows = calloc(a.cap, sizeof(*a.rows));
    arr = json_array();
    if (a.rows == NULL || arr == NULL) {
        free(a.rows);
        json_decref(arr);
        reply_dbg(resp, 5000, "out of memory");
        return;
    }
    rc = with_db(inst, op_assoc, &a, &err);
    for (i = 0; rc == SAEF_OK && i < a.n; i++) {
        const saef_db_assoc_row_t *r = &a.rows[i];

        if (json_array_append_new(
            arr, json_pack("{s:I,s:s,s:s,s:s,s:s*,s:s,s:s,s:s,s:s*,s:o,s:o,s:I,s:o,s:s}", "id",
                           (json_int_t)r->id, "nodeID", r->node_id, "keyID", r->key_id,
                           "peerKind", saef_peer_kind_name(r->peer_kind), "credentialID",
                           r->credential_id[0] ? r->credential_id : NULL, "peerID", r->peer_id,
                           "mafFQDN", r->maf_fqdn, "transport",
                           r->transport == SAEF_DB_TLS ? "tls" : "dtls", "remoteAddress",
                           r->remote_addr[0] ? r->remote_addr : NULL, "firstHandshake",
                           ts_json((time_t)(r->first_us / 1000000)), "lastHandshake",
                           ts_json((time_t)(r->last_us / 1000000)), "handshakes",
                           (json_int_t)r->count, "kcExpiry", ts_json((time_t)r->kc_expiry),
                           "state", saef_db_assoc_state_name(r->state))) != 0)
            rc = SAEF_E_NOMEM;
    }
    free(a.rows);
    if (rc != SAEF_OK) {
        json_decref(arr);
        reply_dbg(resp, rc == SAEF_E_INVALID_ARG ? 4000 : 5000, "%s",
                  rc == SAEF_E_DB ? err.text : saef_strerror(rc));
        return;
    }
    reply(resp, 2000, json_pack("{s:o}", "saef:associations", arr));
}

typedef struct credmap_op {
    saef_operation_t op;
    const char *pattern, *target;
    json_t *arr; /* RETRIEVE */
} credmap_op_t;

static int add_mapping(void *ctx, const saef_db_credmap_row_t *row)
{
    json_t *arr = ctx;

    return json_array_append_new(arr, json_pack("{s:s,s:s,s:s}", "pattern", row->pattern,
                                                "target", row->target, "targetKind",
                                                saef_peer_kind_name(row->kind))) != 0;
}

static saef_rc_t op_credmap(saef_db_t *db, void *arg)
{
    credmap_op_t *c = arg;

    switch (c->op) {
    case SAEF_OP_RETRIEVE:
        json_array_clear(c->arr);
        return saef_db_credmap_list(db, add_mapping, c->arr);
    case SAEF_OP_CREATE:
        return saef_db_credmap_add(db, c->pattern, c->target);
    case SAEF_OP_UPDATE:
        return saef_db_credmap_update(db, c->pattern, c->target);
    case SAEF_OP_DELETE:
        return saef_db_credmap_delete(db, c->pattern);
    default:
        return SAEF_E_INVALID_ARG;
    }
}

/* The request body: {"pattern": "...", "target": "..."} (pattern only for CREATE). */
static bool parse_mapping(const saef_admin_request_t *req, bool want_pattern, credmap_op_t *c,
                          json_t **root, saef_admin_response_t *resp)
{
    json_error_t je;

    *root = req->body != NULL ? json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &je)
                              : NULL;
    if (*root == NULL || !json_is_object(*root)) {
        reply_dbg(resp, 4000, "the content must be a JSON object with %s\"target\"",
                  want_pattern ? "\"pattern\" and " : "");
        return false;
    }
    c->target = json_string_value(json_object_get(*root, "target"));
    if (want_pattern)
        c->pattern = json_string_value(json_object_get(*root, "pattern"));
    if (c->target == NULL || c->pattern == NULL) {
        reply_dbg(resp, 4000, "\"%s\" is missing or not a string",
                  c->pattern == NULL ? "pattern" : "target");
        return false;
    }
    return true;
}

static void credmap(saef_instance_t *inst, const saef_admin_request_t *req, const char *pattern,
                    saef_admin_response_t *resp)
{
    credmap_op_t c = {.op = req->operation, .pattern = pattern};
    db_error_t err;
    json_t *root = NULL;
    saef_rc_t rc;
    int ok_rsc;

    if (pattern == NULL && req->operation == SAEF_OP_RETRIEVE) {
        c.arr = json_array();
        ok_rsc = 2000;
    } else if (pattern == NULL && req->operation == SAEF_OP_CREATE) {
        if (!parse_mapping(req, true, &c, &root, resp))
            goto out;
        ok_rsc = 2001;
    } else if (pattern != NULL && req->operation == SAEF_OP_UPDATE) {
        if (!parse_mapping(req, false, &c, &root, resp))
            goto out;
        ok_rsc = 2004;
    } else if (pattern != NULL && req->operation == SAEF_OP_DELETE) {
        ok_rsc = 2002;
    } else {
        reply_dbg(resp, 4005, "credmap: RETRIEVE or CREATE; credmap/<pattern>: UPDATE or DELETE");
        goto out;
    }
    rc = with_db(inst, op_credmap, &c, &err);
    if (rc == SAEF_OK && c.arr != NULL) {
        reply(resp, 2000, json_pack("{s:O}", "saef:credmap", c.arr));
    } else if (rc == SAEF_OK) {
        saef_log(inst, SAEF_LOG_NOTICE, "credential map: %s %s%s%s by %s",
                 req->operation == SAEF_OP_DELETE ? "deleted" : "set", c.pattern,
                 c.target != NULL ? " -> " : "", c.target != NULL ? c.target : "",
                 req->originator);
        reply(resp, ok_rsc,
              json_pack("{s:{s:s,s:s*}}", "saef:mapping", "pattern", c.pattern, "target",
                        c.target));
    } else if (rc == SAEF_E_NOT_FOUND) {
        reply_dbg(resp, 4004, "no mapping for the pattern %s", c.pattern);
    } else if (rc == SAEF_E_DB && err.cls == SAEF_DB_ERR_EXISTS) {
        reply_dbg(resp, 4105, "the pattern %s is already mapped", c.pattern);
    } else if (rc == SAEF_E_DB) {
        reply_dbg(resp, 5000, "%s", err.text);
    } else {
        reply_dbg(resp, 4000, "%s: %s", c.pattern != NULL ? c.pattern : "credmap",
                  saef_strerror(rc));
    }
out:
    json_decref(c.arr);
    json_decref(root);
}

/* ---------------------------------------------------------------- dispatch */

saef_rc_t saef_admin_serve(saef_instance_t *inst, const saef_admin_request_t *req,
                           saef_admin_response_t *resp)
{
    const char *path = req->path != NULL ? req->path : "";
    const char *slash;

    resp->rsc = 0;
    resp->body = NULL;
    resp->content_type = NULL;
    if (!is_admin(inst->cfg, req->originator)) {
        saef_log(inst, SAEF_LOG_NOTICE, "management resource %s refused to %s: not in admin_originators",
                 path, req->originator != NULL ? req->originator : "(no From)");
        reply_dbg(resp, 4103, "%s is not an administrator of this module (admin_originators)",
                  req->originator != NULL ? req->originator : "(no From)");
        return SAEF_OK;
    }
    slash = strchr(path, '/');
    if (strcmp(path, "status") == 0 || strcmp(path, "keys") == 0) {
        if (req->operation != SAEF_OP_RETRIEVE)
            reply_dbg(resp, 4005, "%s: RETRIEVE only", path);
        else if (path[0] == 's')
            get_status(inst, resp);
        else
            get_keys(inst, resp);
    } else if (strncmp(path, "keys/", 5) == 0) {
        if (req->operation != SAEF_OP_DELETE)
            reply_dbg(resp, 4005, "keys/<Key Identifier>: DELETE (revoke) only");
        else
            delete_key(inst, path + 5, req->originator, resp);
    } else if (strcmp(path, "associations") == 0 || strcmp(path, "credmap") == 0 ||
               (slash != NULL && strncmp(path, "credmap/", 8) == 0 && slash[1] != '\0')) {
        if (inst->rt.db == NULL)
            reply_dbg(resp, 4005, "%s: the module has no database (db_conninfo)", path);
        else if (path[0] == 'a' && req->operation != SAEF_OP_RETRIEVE)
            reply_dbg(resp, 4005, "associations: RETRIEVE only");
        else if (path[0] == 'a')
            get_associations(inst, req->query, resp);
        else
            credmap(inst, req, slash != NULL ? slash + 1 : NULL, resp);
    } else {
        reply_dbg(resp, 4004, "no management resource %s (status, keys, keys/<Key Identifier>, "
                              "associations, credmap, credmap/<pattern>)",
                  path);
    }
    return SAEF_OK;
}

void saef_admin_free(saef_admin_response_t *resp)
{
    if (resp == NULL)
        return;
    free(resp->body);
    resp->body = NULL;
}
