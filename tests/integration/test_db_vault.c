/*
 * The key vault in a real database: no plaintext key bytes anywhere in the table, a row
 * copied to another Key Identifier does not open, and saef-admin rotate-kek (re-seals every
 * row; the new KEK opens them, the old one no longer does; a row that does not open under the
 * old KEK stops it before anything is written; an interrupted rotation finishes on a re-run).
 */
#define _GNU_SOURCE /* memmem */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/rand.h>

#include "pgtest.h"
#include "saef_vault.h"

enum { ROWS = 57, KEYLEN = 32 };

typedef struct fixture {
    char schema[64];
    char dir[64];
    saef_db_t *db;
    PGconn *c;
    uint8_t keys[ROWS][KEYLEN];
    char old_path[128], new_path[128], third_path[128];
    saef_vault_kek_t *old_kek, *new_kek, *third_kek;
} fixture_t;

static void key_id(int i, char *buf, size_t len)
{
    snprintf(buf, len, "Rel-%03d@maf.example.com", i);
}

/* A KEK file with fresh random digits; the loaded KEK is returned too. */
static saef_vault_kek_t *make_kek(fixture_t *f, const char *name, char *path, size_t len)
{
    uint8_t raw[32];
    saef_vault_kek_t *k = NULL;
    FILE *fp;
    int i;

    assert_int_equal(RAND_bytes(raw, sizeof(raw)), 1);
    snprintf(path, len, "%s/%s", f->dir, name);
    fp = fopen(path, "w");
    assert_non_null(fp);
    for (i = 0; i < 32; i++)
        fprintf(fp, "%02x", raw[i]);
    fputc('\n', fp);
    fclose(fp);
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(saef_vault_kek_load(path, &k, NULL, 0), SAEF_OK);
    return k;
}

static void put_sealed(fixture_t *f, const saef_vault_kek_t *kek, int i)
{
    saef_db_vault_row_t row;

    memset(&row, 0, sizeof(row));
    key_id(i, row.key_id, sizeof(row.key_id));
    assert_int_equal(
        saef_vault_seal(kek, f->keys[i], KEYLEN, row.key_id, strlen(row.key_id), &row.sealed),
        SAEF_OK);
    snprintf(row.maf_fqdn, sizeof(row.maf_fqdn), "maf.example.com");
    row.expires_at = pgt_now_us() / 1000000 + 3600;
    row.suid = 32;
    snprintf(row.source_id, sizeof(row.source_id), "/cse-src");
    snprintf(row.created_by, sizeof(row.created_by), "node-v");
    assert_int_equal(saef_db_vault_put(f->db, &row), SAEF_OK);
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    int i;

    pgt_schema(f->schema, sizeof(f->schema), "vault");
    f->db = pgt_open_migrated(f->schema);
    f->c = pgt_conn(f->schema);
    strcpy(f->dir, "/tmp/saef-kek-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->old_kek = make_kek(f, "old.kek", f->old_path, sizeof(f->old_path));
    f->new_kek = make_kek(f, "new.kek", f->new_path, sizeof(f->new_path));
    f->third_kek = make_kek(f, "third.kek", f->third_path, sizeof(f->third_path));
    for (i = 0; i < ROWS; i++) {
        assert_int_equal(RAND_bytes(f->keys[i], KEYLEN), 1);
        put_sealed(f, f->old_kek, i);
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    char cmd[128];

    saef_vault_kek_free(f->old_kek);
    saef_vault_kek_free(f->new_kek);
    saef_vault_kek_free(f->third_kek);
    saef_db_close(f->db);
    PQfinish(f->c);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* Does row i open with kek, giving the original key? */
static bool opens_with(fixture_t *f, int i, const saef_vault_kek_t *kek)
{
    saef_db_vault_row_t row;
    uint8_t out[SAEF_VAULT_KEY_MAX];
    char id[64];
    size_t len = 0;

    key_id(i, id, sizeof(id));
    assert_int_equal(saef_db_vault_get(f->db, id, &row), SAEF_OK);
    if (saef_vault_open(kek, &row.sealed, id, strlen(id), out, sizeof(out), &len) != SAEF_OK)
        return false;
    assert_int_equal(len, KEYLEN);
    assert_memory_equal(out, f->keys[i], KEYLEN);
    return true;
}

static void test_no_plaintext_in_table(void **state)
{
    fixture_t *f = *state;
    char hex[2 * KEYLEN + 1];
    PGresult *r;
    int i, j, row;

    /* the whole row as the server sees it: binary columns raw, and every column as text */
    r = pgt_exec(f->c, "SELECT sealed, nonce, t::text FROM key_vault t", 0, NULL);
    assert_int_equal(PQntuples(r), ROWS);
    PQclear(r);
    r = PQexecParams(f->c, "SELECT sealed, nonce, t::text FROM key_vault t", 0, NULL, NULL, NULL,
                     NULL, 1);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    for (row = 0; row < PQntuples(r); row++) {
        for (i = 0; i < ROWS; i++) {
            /* no 8-byte window of any key appears in the sealed bytes, the nonce, or the row
             * text (where a key would show as hex) */
            for (j = 0; j + 8 <= KEYLEN; j += 4) {
                assert_null(memmem(PQgetvalue(r, row, 0), (size_t)PQgetlength(r, row, 0),
                                   f->keys[i] + j, 8));
                assert_null(memmem(PQgetvalue(r, row, 1), (size_t)PQgetlength(r, row, 1),
                                   f->keys[i] + j, 8));
            }
            for (j = 0; j < KEYLEN; j++)
                snprintf(hex + 2 * j, 3, "%02x", f->keys[i][j]);
            assert_null(memmem(PQgetvalue(r, row, 2), (size_t)PQgetlength(r, row, 2), hex, 16));
        }
    }
    PQclear(r);
    /* and the rows do open with the KEK */
    for (i = 0; i < ROWS; i++)
        assert_true(opens_with(f, i, f->old_kek));
}

static void test_row_moved_to_other_key_id(void **state)
{
    fixture_t *f = *state;
    saef_db_vault_row_t row;
    uint8_t out[SAEF_VAULT_KEY_MAX];
    const char *params[2] = {"Other-1@maf.example.com", "Rel-001@maf.example.com"};
    size_t len;

    /* an attacker with write access copies a sealed key under another Key Identifier */
    PQclear(pgt_exec(f->c,
                     "INSERT INTO key_vault (key_id, sealed, nonce, kek_id, maf_fqdn, "
                     "expires_at, suid, source_id, created_by) "
                     "SELECT $1, sealed, nonce, kek_id, maf_fqdn, expires_at, suid, source_id, "
                     "created_by FROM key_vault WHERE key_id = $2",
                     2, params));
    assert_int_equal(saef_db_vault_get(f->db, params[0], &row), SAEF_OK);
    assert_int_equal(saef_vault_open(f->old_kek, &row.sealed, params[0], strlen(params[0]), out,
                                     sizeof(out), &len),
                     SAEF_E_NOT_FOUND);
    /* swapping two rows' sealed bytes does not work either */
    PQclear(pgt_exec(f->c,
                     "UPDATE key_vault v SET sealed = o.sealed, nonce = o.nonce "
                     "FROM key_vault o WHERE v.key_id = 'Rel-002@maf.example.com' "
                     "AND o.key_id = 'Rel-003@maf.example.com'",
                     0, NULL));
    assert_false(opens_with(f, 2, f->old_kek));
    assert_true(opens_with(f, 3, f->old_kek));
}

static int admin(fixture_t *f, const char *args, char *out, size_t cap)
{
    char exe[512], cmd[2048];

    snprintf(cmd, sizeof(cmd), "'%s' --schema %s %s", pgt_built("db/saef-admin", exe, sizeof(exe)),
             f->schema, args);
    return pgt_run(cmd, out, cap);
}

static void test_rotate_kek(void **state)
{
    fixture_t *f = *state;
    char args[512], out[8192], want[128];
    int i;

    snprintf(args, sizeof(args), "rotate-kek --old %s --new %s --batch 10", f->old_path,
             f->new_path);
    if (admin(f, args, out, sizeof(out)) != 0)
        fail_msg("rotate-kek failed:\n%s", out);
    print_message("%s", out);
    snprintf(want, sizeof(want), "%d rows: %d re-sealed, 0 already under the new KEK, 0 remaining",
             ROWS, ROWS);
    assert_non_null(strstr(out, want));
    assert_non_null(strstr(out, "rotate-kek: 50/57 rows")); /* progress per batch */
    for (i = 0; i < ROWS; i++) {
        assert_true(opens_with(f, i, f->new_kek));
        assert_false(opens_with(f, i, f->old_kek));
    }
    assert_int_equal(pgt_int(f->c, "SELECT count(*) FROM key_vault WHERE kek_id = $1", 1,
                             (const char *const[]){saef_vault_kek_id(f->new_kek)}),
                     ROWS);
    /* again with the same files: nothing under the old KEK opens any more, and nothing
     * changes */
    assert_int_equal(admin(f, args, out, sizeof(out)), 0);
    snprintf(want, sizeof(want), "%d rows: 0 re-sealed, %d already", ROWS, ROWS);
    assert_non_null(strstr(out, want));
}

/* One row sealed under a third KEK: the verify pass stops before any write. */
static void test_rotate_refuses_unopenable_row(void **state)
{
    fixture_t *f = *state;
    char args[512], out[8192];
    int i;

    put_sealed(f, f->third_kek, 7);
    snprintf(args, sizeof(args), "rotate-kek --old %s --new %s --batch 10", f->old_path,
             f->new_path);
    assert_int_equal(admin(f, args, out, sizeof(out)), 1);
    assert_non_null(strstr(out, "Rel-007@maf.example.com"));
    assert_non_null(strstr(out, "nothing was written"));
    assert_int_equal(pgt_int(f->c, "SELECT count(*) FROM key_vault WHERE kek_id = $1", 1,
                             (const char *const[]){saef_vault_kek_id(f->new_kek)}),
                     0);
    for (i = 0; i < ROWS; i++)
        if (i != 7)
            assert_true(opens_with(f, i, f->old_kek));
}

/* A rotation that stopped half-way (some rows already under the new KEK) finishes. */
static void test_rotate_resumes(void **state)
{
    fixture_t *f = *state;
    char args[512], out[8192], want[128];
    int i;

    for (i = 0; i < 20; i++)
        put_sealed(f, f->new_kek, i);
    snprintf(args, sizeof(args), "rotate-kek --old=%s --new=%s", f->old_path, f->new_path);
    if (admin(f, args, out, sizeof(out)) != 0)
        fail_msg("rotate-kek failed:\n%s", out);
    snprintf(want, sizeof(want), "%d rows: %d re-sealed, 20 already", ROWS, ROWS - 20);
    assert_non_null(strstr(out, want));
    for (i = 0; i < ROWS; i++)
        assert_true(opens_with(f, i, f->new_kek));
}

static void test_admin_kek_file_checks(void **state)
{
    fixture_t *f = *state;
    char args[512], out[8192];

    assert_int_equal(chmod(f->new_path, 0644), 0);
    snprintf(args, sizeof(args), "rotate-kek --old %s --new %s", f->old_path, f->new_path);
    assert_int_equal(admin(f, args, out, sizeof(out)), 1);
    assert_non_null(strstr(out, "chmod 600"));
    assert_int_equal(chmod(f->new_path, 0600), 0);
    snprintf(args, sizeof(args), "rotate-kek --old %s --new %s", f->old_path, f->old_path);
    assert_int_equal(admin(f, args, out, sizeof(out)), 1);
    assert_non_null(strstr(out, "same KEK"));
    assert_int_equal(admin(f, "rotate-kek --old x", out, sizeof(out)), 2);
    for (int i = 0; i < ROWS; i++)
        assert_true(opens_with(f, i, f->old_kek));
}

/* The two calls the module makes: seal-and-put after a retrieval, get-and-open on a miss. */
static void test_seal_put_get_open(void **state)
{
    fixture_t *f = *state;
    int64_t now = pgt_now_us() / 1000000;
    saef_db_vault_row_t meta, got;
    uint8_t kc[32], out[SAEF_VAULT_KEY_MAX];
    size_t len = 0;

    memset(&meta, 0, sizeof(meta));
    snprintf(meta.key_id, sizeof(meta.key_id), "Fresh-1@maf.example.com");
    snprintf(meta.maf_fqdn, sizeof(meta.maf_fqdn), "maf.example.com");
    meta.expires_at = now + 600;
    meta.suid = 32;
    snprintf(meta.source_id, sizeof(meta.source_id), "/cse-src/Cdev1");
    snprintf(meta.admin_fqdn, sizeof(meta.admin_fqdn), "admin.example.com");
    snprintf(meta.created_by, sizeof(meta.created_by), "node-v");
    assert_int_equal(RAND_bytes(kc, sizeof(kc)), 1);
    assert_int_equal(saef_db_vault_seal_put(f->db, f->old_kek, kc, sizeof(kc), &meta), SAEF_OK);
    assert_int_equal(
        saef_db_vault_get_open(f->db, f->old_kek, meta.key_id, now, out, sizeof(out), &len, &got),
        SAEF_OK);
    assert_int_equal(len, sizeof(kc));
    assert_memory_equal(out, kc, sizeof(kc));
    assert_string_equal(got.admin_fqdn, "admin.example.com");
    assert_string_equal(got.sealed.kek_id, saef_vault_kek_id(f->old_kek));
    /* another KEK: as if there were no row (the module asks the MAF) */
    assert_int_equal(
        saef_db_vault_get_open(f->db, f->new_kek, meta.key_id, now, out, sizeof(out), &len, NULL),
        SAEF_E_NOT_FOUND);
    assert_int_equal(out[0] | out[31], 0);
    /* expired: refused before the key is opened */
    assert_int_equal(saef_db_vault_get_open(f->db, f->old_kek, meta.key_id, now + 600, out,
                                            sizeof(out), &len, NULL),
                     SAEF_E_KEY_EXPIRED);
    assert_int_equal(out[0] | out[31], 0);
    assert_int_equal(saef_db_vault_get_open(f->db, f->old_kek, "Absent@maf.example.com", now, out,
                                            sizeof(out), &len, NULL),
                     SAEF_E_NOT_FOUND);
    /* revoked: refused, and never replaced by a later put */
    assert_int_equal(saef_db_revoke(f->db, meta.key_id, NULL, NULL), SAEF_OK);
    assert_int_equal(
        saef_db_vault_get_open(f->db, f->old_kek, meta.key_id, now, out, sizeof(out), &len, &got),
        SAEF_E_STATE);
    assert_true(got.revoked);
    assert_int_equal(saef_db_vault_seal_put(f->db, f->old_kek, kc, sizeof(kc), &meta),
                     SAEF_E_STATE);
}

typedef struct found {
    char ids[8][64];
    int n;
} found_t;

static int note_key(void *ctx, const char *key)
{
    found_t *fd = ctx;

    assert_true(fd->n < 8);
    snprintf(fd->ids[fd->n++], sizeof(fd->ids[0]), "%s", key);
    return 0;
}

/* The re-check of a node's cached keys: one statement, only the revoked ones come back, and
 * odd Key Identifiers (quotes, braces, commas: array syntax) are plain values. */
static void test_revoked_among(void **state)
{
    fixture_t *f = *state;
    char a[64], b[64], c[64];
    const char *ids[] = {a, b, c, "Absent@maf.example.com", "x\"y,{z}\\@maf.example.com", "NULL"};
    found_t fd = {0};

    key_id(1, a, sizeof(a));
    key_id(2, b, sizeof(b));
    key_id(3, c, sizeof(c));
    assert_int_equal(saef_db_revoke(f->db, b, NULL, NULL), SAEF_OK);
    assert_int_equal(saef_db_vault_revoked_among(f->db, ids, 6, note_key, &fd), SAEF_OK);
    assert_int_equal(fd.n, 1);
    assert_string_equal(fd.ids[0], b);
    assert_int_equal(saef_db_revoke(f->db, c, NULL, NULL), SAEF_OK);
    fd.n = 0;
    assert_int_equal(saef_db_vault_revoked_among(f->db, ids, 6, note_key, &fd), SAEF_OK);
    assert_int_equal(fd.n, 2);
    fd.n = 0;
    assert_int_equal(saef_db_vault_revoked_among(f->db, ids, 0, note_key, &fd), SAEF_OK);
    assert_int_equal(fd.n, 0);
    assert_int_equal(saef_db_vault_revoked_among(f->db, NULL, 1, note_key, &fd),
                     SAEF_E_INVALID_ARG);
    assert_int_equal(saef_db_vault_revoked_among(f->db, ids, 1, NULL, NULL), SAEF_E_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_no_plaintext_in_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_row_moved_to_other_key_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotate_kek, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotate_refuses_unopenable_row, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotate_resumes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admin_kek_file_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seal_put_get_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revoked_among, setup, teardown),
    };

    pgt_require_server();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
