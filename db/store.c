/* Associations and audit events: batched writes through unnest() of array parameters, the
 * listing, the expire sweep, revocation and NOTIFY. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "saef_db_internal.h"

/*
 * Why unnest() rather than a pipeline of single-row INSERTs: one statement per batch, planned
 * once, one round trip and one executor run however many rows; duplicates inside a batch
 * (the same peer handshaking twice) are merged by GROUP BY before ON CONFLICT sees them, where
 * a multi-row INSERT would fail with "cannot affect row a second time".  The price is encoding
 * the arrays, done by arr_text(), which quotes every element.
 */
static const db_stmt_t st_upsert = {
    DB_S_ASSOC_UPSERT, "saef_assoc_upsert",
    "WITH u AS ("
    " SELECT * FROM unnest($1::text[], $2::text[], $3::smallint[], $4::text[], $5::text[],"
    "  $6::text[], $7::text[], $8::text[], $9::bigint[], $10::bigint[])"
    "  AS t(node_id, key_id, peer_kind, peer_id, credential_id, maf_fqdn, transport,"
    "  remote_addr, at_us, kc_expiry)"
    "), g AS ("
    " SELECT node_id, key_id, peer_kind, peer_id,"
    "  (array_agg(credential_id ORDER BY at_us DESC))[1] AS credential_id,"
    "  (array_agg(maf_fqdn ORDER BY at_us DESC))[1] AS maf_fqdn,"
    "  (array_agg(transport ORDER BY at_us DESC))[1] AS transport,"
    "  (array_agg(remote_addr ORDER BY at_us DESC))[1] AS remote_addr,"
    "  'epoch'::timestamptz + min(at_us) * interval '1 microsecond' AS first_handshake,"
    "  'epoch'::timestamptz + max(at_us) * interval '1 microsecond' AS last_handshake,"
    "  count(*) AS n,"
    "  to_timestamp((array_agg(kc_expiry ORDER BY at_us DESC))[1]) AS kc_expiry"
    " FROM u GROUP BY node_id, key_id, peer_kind, peer_id"
    "), r AS ("
    /* A revocation recorded in the vault after the handshake wins over it. */
    " SELECT g.*, CASE WHEN v.revoked_at >= g.last_handshake THEN v.revoked_at END AS rev_at"
    " FROM g LEFT JOIN key_vault v ON v.key_id = g.key_id AND v.revoked"
    ")"
    "INSERT INTO associations AS a (node_id, key_id, peer_kind, peer_id, credential_id,"
    " maf_fqdn, transport, remote_addr, first_handshake, last_handshake, handshake_count,"
    " kc_expiry, state, revoked_at)"
    " SELECT node_id, key_id, peer_kind, peer_id, credential_id, maf_fqdn, transport,"
    "  remote_addr, first_handshake, last_handshake, n, kc_expiry,"
    "  CASE WHEN rev_at IS NOT NULL THEN 'revoked' WHEN kc_expiry <= now() THEN 'expired'"
    "   ELSE 'active' END,"
    "  rev_at"
    " FROM r "
    "ON CONFLICT (node_id, key_id, peer_kind, peer_id) DO UPDATE SET"
    " first_handshake = LEAST(a.first_handshake, EXCLUDED.first_handshake),"
    " last_handshake = GREATEST(a.last_handshake, EXCLUDED.last_handshake),"
    " handshake_count = a.handshake_count + EXCLUDED.handshake_count,"
    " credential_id = CASE WHEN EXCLUDED.last_handshake >= a.last_handshake"
    "  THEN EXCLUDED.credential_id ELSE a.credential_id END,"
    " maf_fqdn = CASE WHEN EXCLUDED.last_handshake >= a.last_handshake"
    "  THEN EXCLUDED.maf_fqdn ELSE a.maf_fqdn END,"
    " transport = CASE WHEN EXCLUDED.last_handshake >= a.last_handshake"
    "  THEN EXCLUDED.transport ELSE a.transport END,"
    " remote_addr = CASE WHEN EXCLUDED.last_handshake >= a.last_handshake"
    "  THEN EXCLUDED.remote_addr ELSE a.remote_addr END,"
    " kc_expiry = CASE WHEN EXCLUDED.last_handshake >= a.last_handshake"
    "  THEN EXCLUDED.kc_expiry ELSE a.kc_expiry END,"
    " state = CASE WHEN a.state = 'revoked' AND a.revoked_at >= EXCLUDED.last_handshake"
    "   THEN 'revoked'"
    "  WHEN EXCLUDED.state = 'revoked' THEN 'revoked'"
    "  WHEN (CASE WHEN EXCLUDED.last_handshake >= a.last_handshake"
    "   THEN EXCLUDED.kc_expiry ELSE a.kc_expiry END) <= now() THEN 'expired'"
    "  ELSE 'active' END,"
    " revoked_at = CASE WHEN a.state = 'revoked' AND a.revoked_at >= EXCLUDED.last_handshake"
    "   THEN a.revoked_at"
    "  WHEN EXCLUDED.state = 'revoked' THEN EXCLUDED.revoked_at"
    "  ELSE NULL END",
    10};

static const db_stmt_t st_audit = {
    DB_S_AUDIT_INSERT, "saef_audit_insert",
    "INSERT INTO audit_events (at, node_id, key_id, peer_addr, outcome, reason_code,"
    " reason_text)"
    " SELECT 'epoch'::timestamptz + at_us * interval '1 microsecond', node_id, key_id,"
    "  peer_addr, outcome, reason_code, reason_text"
    " FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[],"
    "  $6::integer[], $7::text[])"
    " AS t(at_us, node_id, key_id, peer_addr, outcome, reason_code, reason_text)",
    7};

#define ROW_COLS                                                                                   \
    "id, peer_kind, peer_id, credential_id, key_id, maf_fqdn, transport, node_id,"                 \
    " remote_addr, (extract(epoch FROM first_handshake) * 1000000)::bigint,"                       \
    " (extract(epoch FROM last_handshake) * 1000000)::bigint, handshake_count,"                    \
    " extract(epoch FROM kc_expiry)::bigint, state,"                                               \
    " coalesce(extract(epoch FROM revoked_at)::bigint, 0)"

/* Pages on the primary key; the filters are optional, so one plan serves every listing. */
static const db_stmt_t st_list = {DB_S_ASSOC_LIST, "saef_assoc_list",
                                  "SELECT " ROW_COLS " FROM associations"
                                  " WHERE ($1::text IS NULL OR node_id = $1::text)"
                                  " AND ($2::text IS NULL OR key_id = $2::text)"
                                  " AND ($3::text IS NULL OR state = $3::text)"
                                  " AND id > $4::bigint ORDER BY id LIMIT $5::bigint",
                                  5};

static const db_stmt_t st_expire = {
    DB_S_EXPIRE_SWEEP, "saef_expire_sweep",
    "UPDATE associations SET state = 'expired' WHERE state = 'active' AND kc_expiry <= now()", 0};

static const db_stmt_t st_revoke_vault = {
    DB_S_REVOKE_VAULT, "saef_revoke_vault",
    "UPDATE key_vault SET revoked = true, revoked_at = now(), updated_at = now()"
    " WHERE key_id = $1::text AND NOT revoked",
    1};

static const db_stmt_t st_revoke_assoc = {
    DB_S_REVOKE_ASSOC, "saef_revoke_assoc",
    "UPDATE associations SET state = 'revoked', revoked_at = now()"
    " WHERE key_id = $1::text AND state <> 'revoked'",
    1};

static const db_stmt_t st_notify = {DB_S_NOTIFY, "saef_notify",
                                    "SELECT pg_catalog.pg_notify($1::text, $2::text)", 2};

static const char *const state_names[] = {NULL, "active", "expired", "revoked"};

saef_db_assoc_state_t saef_db_assoc_state_parse(const char *s)
{
    int i;

    for (i = 1; s != NULL && i <= 3; i++)
        if (strcmp(s, state_names[i]) == 0)
            return (saef_db_assoc_state_t)i;
    return 0;
}

const char *saef_db_assoc_state_name(saef_db_assoc_state_t s)
{
    return (s >= SAEF_DB_ACTIVE && s <= SAEF_DB_REVOKED) ? state_names[s] : "?";
}

saef_rc_t saef_db_assoc_check(const saef_db_assoc_t *a)
{
    if (a == NULL)
        return SAEF_E_INVALID_ARG;
    if (a->peer_kind < SAEF_PEER_CSE_ID || a->peer_kind > SAEF_PEER_CREDENTIAL_ID ||
        (a->transport != SAEF_DB_TLS && a->transport != SAEF_DB_DTLS) || a->handshake_us <= 0)
        return SAEF_E_INVALID_ARG;
    if (!db_text_ok(a->peer_id, SAEF_ID_MAX - 1, false) ||
        !db_text_ok(a->credential_id, SAEF_ID_MAX - 1, true) ||
        !db_text_ok(a->key_id, SAEF_ID_MAX - 1, false) || strlen(a->key_id) < 3 ||
        !db_text_ok(a->maf_fqdn, SAEF_FQDN_MAX - 1, false) ||
        !db_text_ok(a->node_id, SAEF_DB_NAME_MAX - 1, false) ||
        !db_text_ok(a->remote_addr, SAEF_DB_ADDR_MAX - 1, true))
        return SAEF_E_INVALID_ARG;
    return SAEF_OK;
}

/* "" means absent for the optional text columns. */
static const char *opt(const char *s)
{
    return (s == NULL || *s == '\0') ? NULL : s;
}

/* Close the n array parameters b[], run st with them (unless rc already failed), free them. */
static saef_rc_t exec_arrays(saef_db_t *db, const db_stmt_t *st, db_buf_t *b, const char **vals,
                             size_t n, saef_rc_t rc)
{
    PGresult *r;
    size_t j;

    for (j = 0; j < n; j++) {
        arr_close(&b[j]);
        if ((vals[j] = buf_str(&b[j])) == NULL)
            rc = SAEF_E_NOMEM;
    }
    if (rc == SAEF_OK) {
        r = db_exec(db, st, vals, NULL, NULL);
        if (r == NULL)
            rc = SAEF_E_DB;
        PQclear(r);
    }
    for (j = 0; j < n; j++)
        buf_free(&b[j]);
    return rc;
}

saef_rc_t saef_db_assoc_upsert(saef_db_t *db, const saef_db_assoc_t *recs, size_t n)
{
    db_buf_t b[10];
    const char *vals[10];
    saef_rc_t rc = SAEF_OK;
    size_t i, j;

    if (db == NULL || (recs == NULL && n > 0))
        return SAEF_E_INVALID_ARG;
    db_clear_error(db);
    if (n == 0)
        return SAEF_OK;
    for (i = 0; i < n; i++)
        if (saef_db_assoc_check(&recs[i]) != SAEF_OK)
            return SAEF_E_INVALID_ARG;
    for (j = 0; j < 10; j++) {
        buf_init(&b[j]);
        arr_open(&b[j]);
    }
    for (i = 0; i < n; i++) {
        const saef_db_assoc_t *a = &recs[i];

        arr_text(&b[0], a->node_id);
        arr_text(&b[1], a->key_id);
        arr_int(&b[2], a->peer_kind);
        arr_text(&b[3], a->peer_id);
        arr_text(&b[4], opt(a->credential_id));
        arr_text(&b[5], a->maf_fqdn);
        arr_text(&b[6], a->transport == SAEF_DB_DTLS ? "dtls" : "tls");
        arr_text(&b[7], opt(a->remote_addr));
        arr_int(&b[8], a->handshake_us);
        arr_int(&b[9], a->kc_expiry);
    }
    return exec_arrays(db, &st_upsert, b, vals, 10, rc);
}

/* Audit text: printable ASCII verbatim, every other byte as \xHH, at most max input bytes.
 * What a refused peer sent as its identity is not trusted to be text at all. */
static void arr_sanitized(db_buf_t *b, const char *s, size_t max)
{
    static const char digits[] = "0123456789abcdef";
    db_buf_t t;
    size_t i;

    if (s == NULL) {
        arr_text(b, NULL);
        return;
    }
    buf_init(&t);
    for (i = 0; i < max && s[i] != '\0'; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c >= 0x20 && c <= 0x7e) {
            buf_putc(&t, (char)c);
        } else {
            buf_putc(&t, '\\');
            buf_putc(&t, 'x');
            buf_putc(&t, digits[c >> 4]);
            buf_putc(&t, digits[c & 0x0f]);
        }
    }
    if (buf_str(&t) == NULL)
        b->failed = true;
    else
        arr_text(b, t.p);
    buf_free(&t);
}

saef_rc_t saef_db_audit_insert(saef_db_t *db, const saef_db_audit_t *recs, size_t n)
{
    db_buf_t b[7];
    const char *vals[7];
    saef_rc_t rc = SAEF_OK;
    size_t i, j;

    if (db == NULL || (recs == NULL && n > 0))
        return SAEF_E_INVALID_ARG;
    db_clear_error(db);
    for (i = 0; i < n; i++)
        if (!db_text_ok(recs[i].node_id, SAEF_DB_NAME_MAX - 1, false) ||
            (recs[i].outcome != SAEF_DB_ACCEPTED && recs[i].outcome != SAEF_DB_REFUSED))
            return SAEF_E_INVALID_ARG;
    if (n == 0)
        return SAEF_OK;
    for (j = 0; j < 7; j++) {
        buf_init(&b[j]);
        arr_open(&b[j]);
    }
    for (i = 0; i < n; i++) {
        const saef_db_audit_t *a = &recs[i];

        arr_int(&b[0], a->at_us);
        arr_text(&b[1], a->node_id);
        arr_sanitized(&b[2], a->key_id, SAEF_ID_MAX - 1);
        arr_sanitized(&b[3], a->peer_addr, SAEF_DB_ADDR_MAX - 1);
        arr_text(&b[4], a->outcome == SAEF_DB_ACCEPTED ? "accepted" : "refused");
        arr_int(&b[5], a->reason_code);
        arr_sanitized(&b[6], a->reason_text, SAEF_DB_REASON_MAX - 1);
    }
    return exec_arrays(db, &st_audit, b, vals, 7, rc);
}

static void fill_row(const PGresult *r, int i, saef_db_assoc_row_t *o)
{
    char tmp[16];

    memset(o, 0, sizeof(*o));
    o->id = db_int_field(r, i, 0);
    o->peer_kind = (saef_peer_kind_t)db_int_field(r, i, 1);
    db_copy_field(r, i, 2, o->peer_id, sizeof(o->peer_id));
    db_copy_field(r, i, 3, o->credential_id, sizeof(o->credential_id));
    db_copy_field(r, i, 4, o->key_id, sizeof(o->key_id));
    db_copy_field(r, i, 5, o->maf_fqdn, sizeof(o->maf_fqdn));
    db_copy_field(r, i, 6, tmp, sizeof(tmp));
    o->transport = strcmp(tmp, "dtls") == 0 ? SAEF_DB_DTLS : SAEF_DB_TLS;
    db_copy_field(r, i, 7, o->node_id, sizeof(o->node_id));
    db_copy_field(r, i, 8, o->remote_addr, sizeof(o->remote_addr));
    o->first_us = db_int_field(r, i, 9);
    o->last_us = db_int_field(r, i, 10);
    o->count = db_int_field(r, i, 11);
    o->kc_expiry = db_int_field(r, i, 12);
    db_copy_field(r, i, 13, tmp, sizeof(tmp));
    o->state = saef_db_assoc_state_parse(tmp);
    o->revoked_at = db_int_field(r, i, 14);
}

saef_rc_t saef_db_assoc_list(saef_db_t *db, const saef_db_assoc_filter_t *f,
                             saef_db_assoc_row_t *rows, size_t cap, size_t *n)
{
    static const saef_db_assoc_filter_t none = {0};
    char after[24], limit[24];
    const char *vals[5];
    PGresult *r;
    int i;

    if (db == NULL || n == NULL || (rows == NULL && cap > 0))
        return SAEF_E_INVALID_ARG;
    *n = 0;
    db_clear_error(db);
    if (f == NULL)
        f = &none;
    if (f->state != 0 && saef_db_assoc_state_name(f->state)[0] == '?')
        return SAEF_E_INVALID_ARG;
    if (cap == 0)
        return SAEF_OK;
    snprintf(after, sizeof(after), "%" PRId64, f->after_id);
    snprintf(limit, sizeof(limit), "%zu", cap);
    vals[0] = opt(f->node_id);
    vals[1] = opt(f->key_id);
    vals[2] = f->state != 0 ? saef_db_assoc_state_name(f->state) : NULL;
    vals[3] = after;
    vals[4] = limit;
    r = db_exec(db, &st_list, vals, NULL, NULL);
    if (r == NULL)
        return SAEF_E_DB;
    for (i = 0; i < PQntuples(r) && (size_t)i < cap; i++)
        fill_row(r, i, &rows[i]);
    *n = (size_t)i;
    PQclear(r);
    return SAEF_OK;
}

saef_rc_t saef_db_expire_sweep(saef_db_t *db, int64_t *changed)
{
    PGresult *r;

    if (db == NULL)
        return SAEF_E_INVALID_ARG;
    db_clear_error(db);
    r = db_exec(db, &st_expire, NULL, NULL, NULL);
    if (r == NULL)
        return SAEF_E_DB;
    if (changed != NULL)
        *changed = db_affected(r);
    PQclear(r);
    return SAEF_OK;
}

saef_rc_t saef_db_notify(saef_db_t *db, const char *channel, const char *payload)
{
    const char *vals[2] = {channel, payload};
    PGresult *r;

    if (db == NULL || !db_text_ok(channel, 63, false) || !db_text_ok(payload, 255, true))
        return SAEF_E_INVALID_ARG;
    if (payload == NULL)
        vals[1] = "";
    db_clear_error(db);
    r = db_exec(db, &st_notify, vals, NULL, NULL);
    if (r == NULL)
        return SAEF_E_DB;
    PQclear(r);
    return SAEF_OK;
}

static saef_rc_t update_count(saef_db_t *db, const db_stmt_t *st, const char *key_id,
                              int64_t *count)
{
    PGresult *r = db_exec(db, st, &key_id, NULL, NULL);

    if (r == NULL)
        return SAEF_E_DB;
    if (count != NULL)
        *count = db_affected(r);
    PQclear(r);
    return SAEF_OK;
}

saef_rc_t saef_db_revoke(saef_db_t *db, const char *key_id, int64_t *vault_rows,
                         int64_t *assoc_rows)
{
    bool own;
    saef_rc_t rc;

    if (db == NULL || !db_text_ok(key_id, SAEF_ID_MAX - 1, false))
        return SAEF_E_INVALID_ARG;
    db_clear_error(db);
    rc = db_txn_enter(db, &own);
    if (rc != SAEF_OK)
        return rc;
    rc = update_count(db, &st_revoke_vault, key_id, vault_rows);
    if (rc == SAEF_OK)
        rc = update_count(db, &st_revoke_assoc, key_id, assoc_rows);
    if (rc == SAEF_OK)
        rc = saef_db_notify(db, SAEF_DB_CHANNEL_REVOCATIONS, key_id);
    return db_txn_leave(db, own, rc);
}
