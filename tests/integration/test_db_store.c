/*
 * The store against a real server: hostile strings stored verbatim, batch merging, the
 * revocation guard, the expire sweep, credential map CRUD and load, vault rows, status and
 * prune, SQLSTATE classes of real errors, transactions, and that statements are prepared.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pgtest.h"
#include "saef_db_internal.h"

typedef struct fixture {
    char schema[64];
    saef_db_t *db;
    PGconn *c;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));

    pgt_schema(f->schema, sizeof(f->schema), "store");
    f->db = pgt_open_migrated(f->schema);
    f->c = pgt_conn(f->schema);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;

    saef_db_close(f->db);
    PQfinish(f->c);
    free(f);
    return 0;
}

static saef_db_assoc_t assoc(const char *peer, const char *key, int64_t at_us)
{
    saef_db_assoc_t a = {
        .peer_kind = SAEF_PEER_AE_ID,
        .peer_id = peer,
        .key_id = key,
        .maf_fqdn = "maf.example.com",
        .transport = SAEF_DB_TLS,
        .node_id = "node-a",
        .remote_addr = "192.0.2.1:40000",
        .handshake_us = at_us,
        .kc_expiry = at_us / 1000000 + 3600,
    };
    return a;
}

/* Build a string of len bytes cycling through characters that mean something to SQL, to the
 * array literal parser or to C. */
static char *hostile(size_t len)
{
    static const char pool[] = "'\"\\{},; NULL()$1--/*%_\t";
    char *s = malloc(len + 1);
    size_t i;

    for (i = 0; i < len; i++) {
        s[i] = pool[i % (sizeof(pool) - 1)];
        if (s[i] == '\t')
            s[i] = '`'; /* printable only: associations refuse control characters */
    }
    s[len] = '\0';
    return s;
}

static void test_hostile_strings_verbatim(void **state)
{
    fixture_t *f = *state;
    char *peer = hostile(255), *reason = hostile(1023), *got;
    const char *cred = "\\\\server\\share\"; DROP TABLE associations; --";
    saef_db_assoc_t a[3];
    saef_db_audit_t ev;
    saef_db_assoc_row_t rows[4];
    size_t n;
    const char *p[1];

    a[0] = assoc(peer, "k1@maf.example.com", pgt_now_us());
    a[0].credential_id = cred;
    a[1] = assoc("NULL", "k1@maf.example.com", pgt_now_us());
    a[1].remote_addr = "{\"a\",b}";
    a[2] = assoc("", "k1@maf.example.com", pgt_now_us()); /* empty peer: refused */
    assert_int_equal(saef_db_assoc_upsert(f->db, a, 3), SAEF_E_INVALID_ARG);
    assert_int_equal(pgt_int(f->c, "SELECT count(*) FROM associations", 0, NULL), 0);
    assert_int_equal(saef_db_assoc_upsert(f->db, a, 2), SAEF_OK);

    p[0] = peer;
    got = pgt_text(f->c, "SELECT credential_id FROM associations WHERE peer_id = $1", 1, p);
    assert_string_equal(got, cred);
    free(got);
    got = pgt_text(f->c, "SELECT remote_addr FROM associations WHERE peer_id = 'NULL'", 0, NULL);
    assert_string_equal(got, "{\"a\",b}");
    free(got);
    /* the string "NULL" is data, not an SQL NULL */
    assert_int_equal(
        pgt_int(f->c, "SELECT count(*) FROM associations WHERE peer_id IS NULL", 0, NULL), 0);
    /* and through the store's own listing */
    assert_int_equal(saef_db_assoc_list(f->db, NULL, rows, 4, &n), SAEF_OK);
    assert_int_equal(n, 2);
    assert_string_equal(rows[0].peer_id, peer);
    assert_string_equal(rows[0].credential_id, cred);
    assert_string_equal(rows[1].peer_id, "NULL");

    /* audit: printable text verbatim, other bytes as \xHH */
    ev = (saef_db_audit_t){.at_us = pgt_now_us(),
                           .node_id = "node-a",
                           .key_id = "bad\x01\xff'@x",
                           .peer_addr = NULL,
                           .outcome = SAEF_DB_REFUSED,
                           .reason_code = SAEF_E_ID_NON_ASCII,
                           .reason_text = reason};
    assert_int_equal(saef_db_audit_insert(f->db, &ev, 1), SAEF_OK);
    got = pgt_text(f->c, "SELECT key_id FROM audit_events", 0, NULL);
    assert_string_equal(got, "bad\\x01\\xff'@x");
    free(got);
    got = pgt_text(f->c, "SELECT reason_text FROM audit_events", 0, NULL);
    assert_string_equal(got, reason);
    free(got);
    assert_int_equal(pgt_int(f->c,
                             "SELECT count(*) FROM audit_events WHERE peer_addr IS NULL"
                             " AND outcome = 'refused' AND reason_code = $1",
                             1, (const char *const[]){"-103"}),
                     1);
    free(peer);
    free(reason);
}

/* Our array literals, parsed back by the server, give the strings we put in. */
static void test_array_literal_round_trip(void **state)
{
    fixture_t *f = *state;
    static const char *const items[] = {
        "",      "NULL",        "null",  "a,b",    "{x}",
        "\"q\"", "back\\slash", " lead", "trail ", "'; DROP TABLE x; --"};
    db_buf_t b;
    const char *p[1];
    PGresult *r;
    size_t i;

    buf_init(&b);
    arr_open(&b);
    for (i = 0; i < sizeof(items) / sizeof(items[0]); i++)
        arr_text(&b, items[i]);
    arr_text(&b, NULL);
    arr_close(&b);
    p[0] = buf_str(&b);
    r = pgt_exec(f->c,
                 "SELECT x, x IS NULL FROM unnest($1::text[]) WITH ORDINALITY AS t(x, i)"
                 " ORDER BY i",
                 1, p);
    assert_int_equal(PQntuples(r), sizeof(items) / sizeof(items[0]) + 1);
    for (i = 0; i < sizeof(items) / sizeof(items[0]); i++) {
        assert_string_equal(PQgetvalue(r, (int)i, 0), items[i]);
        assert_string_equal(PQgetvalue(r, (int)i, 1), "f");
    }
    assert_string_equal(PQgetvalue(r, (int)i, 1), "t");
    PQclear(r);
    buf_free(&b);
}

static void test_batch_merges(void **state)
{
    fixture_t *f = *state;
    int64_t t0 = pgt_now_us() - 10000000;
    saef_db_assoc_t a[4];
    saef_db_assoc_row_t row, rows[3];
    saef_db_assoc_filter_t flt = {.key_id = "km@maf.example.com"};
    size_t n;

    /* one batch: three handshakes of one peer (out of order) and one of another */
    a[0] = assoc("Cae1", "km@maf.example.com", t0 + 2000000);
    a[0].remote_addr = "192.0.2.1:2";
    a[1] = assoc("Cae1", "km@maf.example.com", t0);
    a[1].remote_addr = "192.0.2.1:0";
    a[2] = assoc("Cae1", "km@maf.example.com", t0 + 1000000);
    a[3] = assoc("Cae2", "km@maf.example.com", t0);
    assert_int_equal(saef_db_assoc_upsert(f->db, a, 4), SAEF_OK);
    /* a later batch with an older handshake: count grows, latest values stay */
    a[0] = assoc("Cae1", "km@maf.example.com", t0 - 5000000);
    a[0].remote_addr = "192.0.2.1:9";
    assert_int_equal(saef_db_assoc_upsert(f->db, a, 1), SAEF_OK);

    flt.node_id = "node-a";
    assert_int_equal(saef_db_assoc_list(f->db, &flt, rows, 3, &n), SAEF_OK);
    assert_int_equal(n, 2);
    row = strcmp(rows[0].peer_id, "Cae1") == 0 ? rows[0] : rows[1];
    assert_string_equal(row.peer_id, "Cae1");
    assert_int_equal(row.count, 4);
    assert_int_equal(row.first_us, t0 - 5000000);
    assert_int_equal(row.last_us, t0 + 2000000);
    assert_string_equal(row.remote_addr, "192.0.2.1:2");
    assert_int_equal(row.state, SAEF_DB_ACTIVE);
    assert_int_equal(pgt_int(f->c, "SELECT count(*) FROM associations", 0, NULL), 2);
    /* paging: one row at a time, continuing after the last id, in id order */
    assert_int_equal(saef_db_assoc_list(f->db, &flt, &row, 1, &n), SAEF_OK);
    assert_int_equal(n, 1);
    assert_int_equal(row.id, rows[0].id);
    flt.after_id = row.id;
    assert_int_equal(saef_db_assoc_list(f->db, &flt, &row, 1, &n), SAEF_OK);
    assert_int_equal(n, 1);
    assert_int_equal(row.id, rows[1].id);
    assert_true(rows[1].id > rows[0].id);
    flt.after_id = row.id;
    assert_int_equal(saef_db_assoc_list(f->db, &flt, &row, 1, &n), SAEF_OK);
    assert_int_equal(n, 0);
    /* filters: another node, another state */
    flt.after_id = 0;
    flt.node_id = "node-b";
    assert_int_equal(saef_db_assoc_list(f->db, &flt, rows, 3, &n), SAEF_OK);
    assert_int_equal(n, 0);
    flt.node_id = NULL;
    flt.state = SAEF_DB_REVOKED;
    assert_int_equal(saef_db_assoc_list(f->db, &flt, rows, 3, &n), SAEF_OK);
    assert_int_equal(n, 0);
    flt.state = SAEF_DB_ACTIVE;
    assert_int_equal(saef_db_assoc_list(f->db, &flt, rows, 3, &n), SAEF_OK);
    assert_int_equal(n, 2);
}

static void test_revocation_guard_and_sweep(void **state)
{
    fixture_t *f = *state;
    int64_t before = pgt_now_us() - 60000000, vault = -1, assoc_n = -1, changed = -1;
    saef_db_assoc_t a = assoc("Cae1", "rv@maf.example.com", before);
    saef_db_vault_row_t v = {0};
    char *state_s;

    snprintf(v.key_id, sizeof(v.key_id), "rv@maf.example.com");
    memset(v.sealed.ct, 7, 48);
    v.sealed.ct_len = 48;
    snprintf(v.sealed.kek_id, sizeof(v.sealed.kek_id), "0123456789abcdef");
    snprintf(v.maf_fqdn, sizeof(v.maf_fqdn), "maf.example.com");
    v.expires_at = before / 1000000 + 3600;
    v.suid = 32;
    snprintf(v.source_id, sizeof(v.source_id), "/cse-src");
    snprintf(v.created_by, sizeof(v.created_by), "node-a");
    assert_int_equal(saef_db_vault_put(f->db, &v), SAEF_OK);
    assert_int_equal(saef_db_assoc_upsert(f->db, &a, 1), SAEF_OK);
    assert_int_equal(saef_db_revoke(f->db, "rv@maf.example.com", &vault, &assoc_n), SAEF_OK);
    assert_int_equal(vault, 1);
    assert_int_equal(assoc_n, 1);
    /* revoking twice changes nothing more */
    assert_int_equal(saef_db_revoke(f->db, "rv@maf.example.com", &vault, &assoc_n), SAEF_OK);
    assert_int_equal(vault, 0);
    assert_int_equal(assoc_n, 0);

    /* a handshake from before the revocation, written late, does not undo it ... */
    a.handshake_us = before + 1000000;
    assert_int_equal(saef_db_assoc_upsert(f->db, &a, 1), SAEF_OK);
    state_s = pgt_text(f->c, "SELECT state FROM associations WHERE peer_id = 'Cae1'", 0, NULL);
    assert_string_equal(state_s, "revoked");
    free(state_s);
    /* ... nor does a new peer's early handshake with that key (the vault remembers) */
    a.peer_id = "Cae2";
    assert_int_equal(saef_db_assoc_upsert(f->db, &a, 1), SAEF_OK);
    state_s = pgt_text(f->c, "SELECT state FROM associations WHERE peer_id = 'Cae2'", 0, NULL);
    assert_string_equal(state_s, "revoked");
    free(state_s);
    /* a revoked vault row is not replaced */
    assert_int_equal(saef_db_vault_put(f->db, &v), SAEF_E_STATE);

    /* expire sweep: an active association whose Kc expired */
    a = assoc("Cae3", "ex@maf.example.com", pgt_now_us());
    assert_int_equal(saef_db_assoc_upsert(f->db, &a, 1), SAEF_OK);
    PQclear(pgt_exec(f->c,
                     "UPDATE associations SET kc_expiry = now() - interval '1 s'"
                     " WHERE peer_id = 'Cae3'",
                     0, NULL));
    assert_int_equal(saef_db_expire_sweep(f->db, &changed), SAEF_OK);
    assert_int_equal(changed, 1);
    assert_int_equal(saef_db_expire_sweep(f->db, &changed), SAEF_OK);
    assert_int_equal(changed, 0);
    /* a record whose Kc already expired is stored as expired */
    a = assoc("Cae4", "ex@maf.example.com", pgt_now_us());
    a.kc_expiry = a.handshake_us / 1000000 - 10;
    assert_int_equal(saef_db_assoc_upsert(f->db, &a, 1), SAEF_OK);
    state_s = pgt_text(f->c, "SELECT state FROM associations WHERE peer_id = 'Cae4'", 0, NULL);
    assert_string_equal(state_s, "expired");
    free(state_s);
}

static int collect(void *ctx, const saef_db_credmap_row_t *row)
{
    char *buf = ctx;

    strcat(buf, row->pattern);
    strcat(buf, "=");
    strcat(buf, row->target);
    strcat(buf, ";");
    return 0;
}

static void test_credmap_crud_and_load(void **state)
{
    fixture_t *f = *state;
    saef_db_credmap_row_t row;
    saef_credmap_t *map = NULL;
    saef_credmap_hit_t hit;
    char listed[512] = "";
    size_t skipped = 99;
    const char *id = "11-device7@maf.example.com";

    assert_int_equal(saef_db_credmap_add(f->db, "11-*@maf.example.com", "//sp.example/cse9"),
                     SAEF_OK);
    assert_int_equal(saef_db_credmap_add(f->db, id, "/cse1/Cdevice7"), SAEF_OK);
    /* the same pattern in another case is a duplicate */
    assert_int_equal(saef_db_credmap_add(f->db, "11-DEVICE7@maf.example.com", "/cse2"), SAEF_E_DB);
    assert_int_equal(saef_db_errclass(f->db), SAEF_DB_ERR_EXISTS);
    assert_string_equal(saef_db_sqlstate(f->db), "23505");
    /* invalid input never reaches the database */
    assert_int_equal(saef_db_credmap_add(f->db, "11-x'; DROP TABLE credential_map; --", "/c"),
                     SAEF_E_ID_CREDID_VALUE);
    assert_int_equal(saef_db_credmap_add(f->db, "11-y", "not an id"), SAEF_E_ID_AE_ID);
    assert_int_equal(pgt_int(f->c, "SELECT count(*) FROM credential_map", 0, NULL), 2);

    assert_int_equal(saef_db_credmap_get(f->db, "11-Device7@MAF.example.com", &row), SAEF_OK);
    assert_string_equal(row.pattern, id);
    assert_string_equal(row.target, "/cse1/Cdevice7");
    assert_int_equal(row.kind, SAEF_PEER_AE_ID);
    assert_int_equal(saef_db_credmap_update(f->db, id, "/cse1"), SAEF_OK);
    assert_int_equal(saef_db_credmap_get(f->db, id, &row), SAEF_OK);
    assert_string_equal(row.target, "/cse1");
    assert_int_equal(row.kind, SAEF_PEER_CSE_ID);
    assert_int_equal(saef_db_credmap_update(f->db, "11-none", "/cse1"), SAEF_E_NOT_FOUND);

    assert_int_equal(saef_db_credmap_list(f->db, collect, listed), SAEF_OK);
    assert_string_equal(listed, "11-*@maf.example.com=//sp.example/cse9;"
                                "11-device7@maf.example.com=/cse1;");

    /* a row written with SQL that the checks refuse is skipped, not fatal */
    PQclear(pgt_exec(f->c,
                     "INSERT INTO credential_map (pattern, target_id, target_kind)"
                     " VALUES ('11-bad', 'no/such id', 1)",
                     0, NULL));
    assert_int_equal(saef_db_credmap_load(f->db, &map, &skipped), SAEF_OK);
    assert_int_equal(skipped, 1);
    assert_int_equal(saef_credmap_count(map), 2);
    assert_int_equal(saef_credmap_match(map, id, strlen(id), &hit), SAEF_OK);
    assert_string_equal(hit.target, "/cse1");
    assert_int_equal(saef_credmap_match(map, "11-other@maf.example.com", 24, &hit), SAEF_OK);
    assert_string_equal(hit.target, "//sp.example/cse9");
    saef_credmap_free(map);

    assert_int_equal(saef_db_credmap_delete(f->db, "11-DEVICE7@maf.example.com"), SAEF_OK);
    assert_int_equal(saef_db_credmap_delete(f->db, id), SAEF_E_NOT_FOUND);
    assert_int_equal(saef_db_credmap_get(f->db, id, &row), SAEF_E_NOT_FOUND);
}

static saef_db_vault_row_t vrow(const char *key_id, int64_t expires, uint8_t fill)
{
    saef_db_vault_row_t v;

    memset(&v, 0, sizeof(v));
    snprintf(v.key_id, sizeof(v.key_id), "%s", key_id);
    memset(v.sealed.ct, fill, 48);
    v.sealed.ct[0] = 0; /* a NUL inside binary data must survive */
    v.sealed.ct_len = 48;
    memset(v.sealed.nonce, fill ^ 0x5a, sizeof(v.sealed.nonce));
    snprintf(v.sealed.kek_id, sizeof(v.sealed.kek_id), "00112233445566ff");
    snprintf(v.maf_fqdn, sizeof(v.maf_fqdn), "maf.example.com");
    v.expires_at = expires;
    v.suid = 32;
    snprintf(v.source_id, sizeof(v.source_id), "KmID-1@maf.example.com");
    snprintf(v.admin_fqdn, sizeof(v.admin_fqdn), "admin.example.com");
    snprintf(v.created_by, sizeof(v.created_by), "node-b");
    return v;
}

static void test_vault_rows(void **state)
{
    fixture_t *f = *state;
    int64_t now = pgt_now_us() / 1000000;
    saef_db_vault_row_t v = vrow("k0@maf.example.com", now + 100, 0xa5), got, list[10];
    size_t n, i;
    char key[64];

    assert_int_equal(saef_db_vault_put(f->db, &v), SAEF_OK);
    assert_int_equal(saef_db_vault_get(f->db, v.key_id, &got), SAEF_OK);
    assert_string_equal(got.key_id, v.key_id);
    assert_int_equal(got.sealed.ct_len, 48);
    assert_memory_equal(got.sealed.ct, v.sealed.ct, 48);
    assert_memory_equal(got.sealed.nonce, v.sealed.nonce, SAEF_VAULT_NONCE_LEN);
    assert_string_equal(got.sealed.kek_id, v.sealed.kek_id);
    assert_int_equal(got.expires_at, v.expires_at);
    assert_int_equal(got.suid, 32);
    assert_string_equal(got.source_id, v.source_id);
    assert_string_equal(got.admin_fqdn, v.admin_fqdn);
    assert_string_equal(got.created_by, "node-b");
    assert_false(got.revoked);
    assert_true(got.created_at > 0);
    /* replace: new bytes, the creator stays */
    v = vrow("k0@maf.example.com", now + 200, 0x3c);
    snprintf(v.created_by, sizeof(v.created_by), "node-c");
    v.admin_fqdn[0] = '\0';
    assert_int_equal(saef_db_vault_put(f->db, &v), SAEF_OK);
    assert_int_equal(saef_db_vault_get(f->db, v.key_id, &got), SAEF_OK);
    assert_memory_equal(got.sealed.ct, v.sealed.ct, 48);
    assert_string_equal(got.created_by, "node-b");
    assert_string_equal(got.admin_fqdn, "");

    /* list of usable rows: bounded, latest expiry first, expired and revoked left out */
    for (i = 1; i <= 5; i++) {
        snprintf(key, sizeof(key), "k%zu@maf.example.com", i);
        v = vrow(key, now + 1000 * (int64_t)i, (uint8_t)i);
        assert_int_equal(saef_db_vault_put(f->db, &v), SAEF_OK);
    }
    v = vrow("old@maf.example.com", now - 10, 9);
    assert_int_equal(saef_db_vault_put(f->db, &v), SAEF_OK);
    assert_int_equal(saef_db_revoke(f->db, "k5@maf.example.com", NULL, NULL), SAEF_OK);
    assert_int_equal(saef_db_vault_list_valid(f->db, list, 3, &n), SAEF_OK);
    assert_int_equal(n, 3);
    assert_string_equal(list[0].key_id, "k4@maf.example.com");
    assert_string_equal(list[1].key_id, "k3@maf.example.com");
    assert_string_equal(list[2].key_id, "k2@maf.example.com");
    assert_int_equal(saef_db_vault_list_valid(f->db, list, 10, &n), SAEF_OK);
    assert_int_equal(n, 5); /* k0..k4 */
    assert_int_equal(saef_db_vault_get(f->db, "k5@maf.example.com", &got), SAEF_OK);
    assert_true(got.revoked);
    assert_true(got.revoked_at > 0);

    assert_int_equal(saef_db_vault_delete(f->db, "k1@maf.example.com"), SAEF_OK);
    assert_int_equal(saef_db_vault_delete(f->db, "k1@maf.example.com"), SAEF_E_NOT_FOUND);
    assert_int_equal(saef_db_vault_get(f->db, "k1@maf.example.com", &got), SAEF_E_NOT_FOUND);
    /* bad rows are refused before the database */
    v = vrow("k9@maf.example.com", now + 10, 1);
    v.sealed.ct_len = 200;
    assert_int_equal(saef_db_vault_put(f->db, &v), SAEF_E_INVALID_ARG);
}

static void test_status_and_prune(void **state)
{
    fixture_t *f = *state;
    int64_t now = pgt_now_us();
    saef_db_audit_t ev[3];
    saef_db_assoc_t a = assoc("Cae1", "st@maf.example.com", now);
    saef_db_status_t st;
    saef_db_prune_result_t pr;
    int i;

    for (i = 0; i < 3; i++)
        ev[i] = (saef_db_audit_t){.at_us = now - (int64_t)i * 40 * 86400 * 1000000,
                                  .node_id = "node-a",
                                  .key_id = "st@maf.example.com",
                                  .outcome = SAEF_DB_ACCEPTED,
                                  .reason_code = 0,
                                  .reason_text = "ok"};
    assert_int_equal(saef_db_audit_insert(f->db, ev, 3), SAEF_OK);
    assert_int_equal(saef_db_assoc_upsert(f->db, &a, 1), SAEF_OK);
    assert_int_equal(saef_db_credmap_add(f->db, "11-*", "/cse1"), SAEF_OK);
    assert_int_equal(saef_db_status(f->db, &st), SAEF_OK);
    assert_int_equal(st.db_version, saef_db_module_version());
    assert_int_equal(st.module_version, saef_db_module_version());
    assert_int_equal(st.assoc_active, 1);
    assert_int_equal(st.credmap_rows, 1);
    assert_int_equal(st.audit_rows, 3);
    assert_int_equal(st.vault_rows, 0);

    /* events 40 and 80 days old go with a 30-day retention */
    assert_int_equal(saef_db_prune(f->db, now / 1000000 - 30 * 86400, 0, 0, &pr), SAEF_OK);
    assert_int_equal(pr.audit, 2);
    assert_int_equal(pgt_int(f->c, "SELECT count(*) FROM audit_events", 0, NULL), 1);
    /* non-active associations go once their last handshake is old enough */
    PQclear(pgt_exec(f->c,
                     "UPDATE associations SET state = 'expired',"
                     " last_handshake = now() - interval '40 days',"
                     " first_handshake = now() - interval '41 days'",
                     0, NULL));
    assert_int_equal(saef_db_prune(f->db, 0, now / 1000000 - 30 * 86400, 0, &pr), SAEF_OK);
    assert_int_equal(pr.assoc, 1);
}

/* The classes of errors a real server returns. */
static void test_error_classes(void **state)
{
    char schema[64];
    saef_db_t *db = NULL;
    saef_db_status_t st;
    saef_db_assoc_t a = assoc("Cae1", "e@maf.example.com", pgt_now_us());

    /* a schema that was never migrated: the tables are missing (42P01, fatal) */
    pgt_schema(schema, sizeof(schema), "nomig");
    assert_int_equal(saef_db_open(NULL, schema, &db), SAEF_OK);
    assert_int_equal(saef_db_assoc_upsert(db, &a, 1), SAEF_E_DB);
    assert_int_equal(saef_db_errclass(db), SAEF_DB_ERR_FATAL);
    assert_string_equal(saef_db_sqlstate(db), "42P01");
    assert_non_null(strstr(saef_db_errmsg(db), "does not exist"));
    /* status of an unmigrated schema: version 0, no error */
    assert_int_equal(saef_db_status(db, &st), SAEF_OK);
    assert_int_equal(st.db_version, 0);
    saef_db_close(db);
}

static void test_transactions_and_prepared(void **state)
{
    fixture_t *f = *state;
    saef_db_credmap_row_t row;

    assert_int_equal(saef_db_commit(f->db), SAEF_E_STATE);
    assert_int_equal(saef_db_begin(f->db), SAEF_OK);
    assert_int_equal(saef_db_credmap_add(f->db, "11-tx1", "/cse1"), SAEF_OK);
    assert_int_equal(saef_db_rollback(f->db), SAEF_OK);
    assert_int_equal(saef_db_credmap_get(f->db, "11-tx1", &row), SAEF_E_NOT_FOUND);

    /* nested: the inner commit is not the real one */
    assert_int_equal(saef_db_begin(f->db), SAEF_OK);
    assert_int_equal(saef_db_begin(f->db), SAEF_OK);
    assert_int_equal(saef_db_credmap_add(f->db, "11-tx2", "/cse1"), SAEF_OK);
    assert_int_equal(saef_db_commit(f->db), SAEF_OK);
    assert_int_equal(pgt_int(f->c, "SELECT count(*) FROM credential_map", 0, NULL), 0);
    assert_int_equal(saef_db_commit(f->db), SAEF_OK);
    assert_int_equal(pgt_int(f->c, "SELECT count(*) FROM credential_map", 0, NULL), 1);

    /* a failed statement dooms the transaction, and its error is the one reported */
    assert_int_equal(saef_db_begin(f->db), SAEF_OK);
    assert_int_equal(saef_db_credmap_add(f->db, "11-TX2", "/cse2"), SAEF_E_DB);
    assert_int_equal(saef_db_credmap_add(f->db, "11-tx3", "/cse3"), SAEF_E_DB);
    assert_int_equal(saef_db_commit(f->db), SAEF_E_DB);
    assert_string_equal(saef_db_sqlstate(f->db), "23505");
    assert_int_equal(saef_db_credmap_get(f->db, "11-tx3", &row), SAEF_E_NOT_FOUND);

    /* the statements run as named prepared statements on this connection */
    {
        PGresult *r = PQexec(f->db->conn, "SELECT count(*) FROM pg_prepared_statements"
                                          " WHERE name LIKE 'saef\\_%' AND NOT from_sql");

        assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
        assert_true(atoi(PQgetvalue(r, 0, 0)) >= 4);
        PQclear(r);
    }
}

static char *setting(saef_db_t *db, const char *sql)
{
    PGresult *r = PQexec(db->conn, sql);
    char *v;

    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    v = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

/* Our connection defaults apply, and whatever the conninfo says overrides them. */
static void test_conninfo_overrides_defaults(void **state)
{
    saef_db_t *db = NULL;
    char *v;

    assert_int_equal(saef_db_open(NULL, "saef", &db), SAEF_OK);
    v = setting(db, "SHOW application_name");
    assert_string_equal(v, "maf-saef");
    free(v);
    v = setting(db, "SHOW search_path");
    assert_string_equal(v, "\"saef\""); /* the quoted identifier */
    free(v);
    v = setting(db, "SHOW bytea_output");
    assert_string_equal(v, "hex");
    free(v);
    saef_db_close(db);
    assert_int_equal(saef_db_open("application_name=operator-tool", "other", &db), SAEF_OK);
    v = setting(db, "SHOW application_name");
    assert_string_equal(v, "operator-tool");
    free(v);
    v = setting(db, "SHOW search_path");
    assert_string_equal(v, "\"other\"");
    free(v);
    saef_db_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hostile_strings_verbatim, setup, teardown),
        cmocka_unit_test_setup_teardown(test_array_literal_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_merges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revocation_guard_and_sweep, setup, teardown),
        cmocka_unit_test_setup_teardown(test_credmap_crud_and_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vault_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_and_prune, setup, teardown),
        cmocka_unit_test(test_error_classes),
        cmocka_unit_test_setup_teardown(test_transactions_and_prepared, setup, teardown),
        cmocka_unit_test(test_conninfo_overrides_defaults),
    };

    pgt_require_server();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
