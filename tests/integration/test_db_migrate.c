/*
 * Migrations against a real server: fresh, idempotent, two processes at once, a newer database,
 * a changed migration, a failing migration that leaves nothing behind, schema names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "pgtest.h"

/* SHA-256 (hex) of a source file, computed here independently of the migrator. */
static void file_sha256(const char *rel, char hex[65])
{
    const char *top = getenv("top_srcdir");
    unsigned char md[32], buf[4096];
    unsigned int len = 0, i;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    char path[1024];
    size_t n;
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", top != NULL ? top : ".", rel);
    f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(EVP_DigestInit_ex(ctx, EVP_sha256(), NULL), 1);
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        assert_int_equal(EVP_DigestUpdate(ctx, buf, n), 1);
    fclose(f);
    assert_int_equal(EVP_DigestFinal_ex(ctx, md, &len), 1);
    EVP_MD_CTX_free(ctx);
    for (i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static const char *const tables[] = {"schema_version", "associations", "key_vault",
                                     "credential_map", "audit_events"};

static long long count_tables(PGconn *c, const char *schema)
{
    return pgt_int(c,
                   "SELECT count(*) FROM pg_tables WHERE schemaname = $1 AND tablename IN "
                   "('schema_version', 'associations', 'key_vault', 'credential_map', "
                   "'audit_events')",
                   1, &schema);
}

static void test_fresh_then_idempotent(void **state)
{
    char schema[64], *applied1, *applied2, *sum;
    saef_db_migrate_result_t res;
    saef_db_t *db = NULL;
    PGconn *c = pgt_conn(NULL);
    int version = -1;

    pgt_schema(schema, sizeof(schema), "fresh");
    assert_int_equal(saef_db_open(NULL, schema, &db), SAEF_OK);
    assert_int_equal(saef_db_schema_version(db, &version), SAEF_OK);
    assert_int_equal(version, 0); /* the schema does not even exist yet */
    assert_int_equal(saef_db_migrate(db, &res), SAEF_OK);
    assert_int_equal(res.from_version, 0);
    assert_int_equal(res.to_version, saef_db_module_version());
    assert_int_equal(res.applied, saef_db_module_version());
    assert_true(saef_db_module_version() >= 1);
    assert_int_equal(count_tables(c, schema), sizeof(tables) / sizeof(tables[0]));
    /* recorded with a SHA-256 and the migration's name */
    PQclear(pgt_exec(c, "SELECT pg_catalog.set_config('search_path', $1, false)", 1,
                     (const char *const[]){schema}));
    sum = pgt_text(c, "SELECT checksum || ' ' || name FROM schema_version WHERE version = 1", 0,
                   NULL);
    assert_int_equal(strlen(sum), 64 + 1 + strlen("initial"));
    assert_string_equal(sum + 65, "initial");
    /* the recorded checksum is sha256sum of the shipped file */
    {
        char hex[65];

        file_sha256("db/migrations/0001_initial.sql", hex);
        assert_memory_equal(sum, hex, 64);
    }
    free(sum);
    applied1 =
        pgt_text(c, "SELECT applied_at::text FROM schema_version WHERE version = 1", 0, NULL);

    /* again: nothing to do, nothing changed */
    assert_int_equal(saef_db_migrate(db, &res), SAEF_OK);
    assert_int_equal(res.applied, 0);
    assert_int_equal(res.from_version, saef_db_module_version());
    assert_int_equal(res.to_version, saef_db_module_version());
    applied2 =
        pgt_text(c, "SELECT applied_at::text FROM schema_version WHERE version = 1", 0, NULL);
    assert_string_equal(applied1, applied2);
    assert_int_equal(pgt_int(c, "SELECT count(*) FROM schema_version", 0, NULL),
                     saef_db_module_version());
    assert_int_equal(saef_db_schema_version(db, &version), SAEF_OK);
    assert_int_equal(version, saef_db_module_version());
    free(applied1);
    free(applied2);
    saef_db_close(db);
    PQfinish(c);
}

/* Several processes start together; all succeed and each migration is applied once. */
static void test_concurrent_processes(void **state)
{
    enum { PROCS = 4, ROUNDS = 3 };
    int round;

    for (round = 0; round < ROUNDS; round++) {
        char schema[64];
        int go[2], i, st, ok = 0;
        pid_t pids[PROCS];
        PGconn *c;

        pgt_schema(schema, sizeof(schema), "race");
        assert_int_equal(pipe(go), 0);
        for (i = 0; i < PROCS; i++) {
            pids[i] = fork();
            assert_true(pids[i] >= 0);
            if (pids[i] == 0) {
                saef_db_t *db = NULL;
                char b;
                int rc;

                close(go[1]);
                /* connect first, then wait, so that the migrations start together */
                rc = saef_db_open(NULL, schema, &db);
                if (rc == SAEF_OK && read(go[0], &b, 1) == 0)
                    rc = saef_db_migrate(db, NULL);
                if (rc != SAEF_OK)
                    fprintf(stderr, "child: %s\n", saef_db_errmsg(db));
                saef_db_close(db);
                _exit(rc == SAEF_OK ? 0 : 1);
            }
        }
        close(go[0]);
        pgt_sleep_ms(200);
        close(go[1]); /* EOF releases every child at once */
        for (i = 0; i < PROCS; i++) {
            assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
            ok += WIFEXITED(st) && WEXITSTATUS(st) == 0;
        }
        assert_int_equal(ok, PROCS);
        c = pgt_conn(schema);
        assert_int_equal(pgt_int(c, "SELECT count(*) FROM schema_version", 0, NULL),
                         saef_db_module_version());
        assert_int_equal(count_tables(c, schema), sizeof(tables) / sizeof(tables[0]));
        PQfinish(c);
    }
}

static void test_newer_schema_refused(void **state)
{
    char schema[64], want[64];
    saef_db_t *db;
    PGconn *c;

    pgt_schema(schema, sizeof(schema), "newer");
    db = pgt_open_migrated(schema);
    c = pgt_conn(schema);
    PQclear(pgt_exec(c,
                     "INSERT INTO schema_version (version, name, checksum) "
                     "VALUES (9999, 'from_the_future', repeat('a', 64))",
                     0, NULL));
    assert_int_equal(saef_db_migrate(db, NULL), SAEF_E_DB_SCHEMA_NEWER);
    /* the message names both versions */
    assert_non_null(strstr(saef_db_errmsg(db), "version 9999"));
    snprintf(want, sizeof(want), "version %d", saef_db_module_version());
    assert_non_null(strstr(saef_db_errmsg(db), want));
    assert_non_null(strstr(saef_db_errmsg(db), schema));
    /* nothing touched */
    assert_int_equal(pgt_int(c, "SELECT count(*) FROM schema_version", 0, NULL),
                     saef_db_module_version() + 1);
    saef_db_close(db);
    PQfinish(c);
}

static void test_checksum_mismatch(void **state)
{
    char schema[64];
    saef_db_t *db;
    PGconn *c;

    pgt_schema(schema, sizeof(schema), "sum");
    db = pgt_open_migrated(schema);
    c = pgt_conn(schema);
    PQclear(pgt_exec(c, "UPDATE schema_version SET checksum = repeat('0', 64) WHERE version = 1", 0,
                     NULL));
    assert_int_equal(saef_db_migrate(db, NULL), SAEF_E_DB);
    assert_int_equal(saef_db_errclass(db), SAEF_DB_ERR_FATAL);
    assert_non_null(strstr(saef_db_errmsg(db), "0001_initial"));
    assert_non_null(strstr(saef_db_errmsg(db), "changed"));
    /* the same handle still works after the failed transaction */
    assert_int_equal(saef_db_credmap_add(db, "11-x@maf.example.com", "/cse1"), SAEF_OK);
    saef_db_close(db);
    PQfinish(c);
}

/* schema_version lost its row while the tables stayed: applying 0001 again fails, the
 * message names the migration and the transaction leaves nothing behind. */
static void test_failed_migration_rolls_back(void **state)
{
    char schema[64];
    saef_db_t *db;
    PGconn *c;

    pgt_schema(schema, sizeof(schema), "fail");
    db = pgt_open_migrated(schema);
    c = pgt_conn(schema);
    PQclear(pgt_exec(c, "DELETE FROM schema_version", 0, NULL));
    PQclear(pgt_exec(c, "CREATE TABLE marker (x int)", 0, NULL));
    assert_int_equal(saef_db_migrate(db, NULL), SAEF_E_DB);
    assert_non_null(strstr(saef_db_errmsg(db), "migration 0001_initial"));
    assert_non_null(strstr(saef_db_errmsg(db), "already exists"));
    assert_int_equal(pgt_int(c, "SELECT count(*) FROM schema_version", 0, NULL), 0);
    assert_int_equal(pgt_int(c, "SELECT count(*) FROM marker", 0, NULL), 0);
    saef_db_close(db);
    PQfinish(c);
}

static void test_schema_names(void **state)
{
    static const struct {
        const char *name;
        saef_rc_t rc;
    } cases[] = {
        {"saef", SAEF_OK},
        {"_x9", SAEF_OK},
        {"a23456789012345678901234567890123456789012345678901234567890123", SAEF_OK},
        {"a234567890123456789012345678901234567890123456789012345678901234", SAEF_E_INVALID_ARG},
        {"", SAEF_E_INVALID_ARG},
        {"Saef", SAEF_E_INVALID_ARG},
        {"9saef", SAEF_E_INVALID_ARG},
        {"saef-x", SAEF_E_INVALID_ARG},
        {"saef\"; DROP SCHEMA public; --", SAEF_E_INVALID_ARG},
        {"pg_saef", SAEF_E_INVALID_ARG},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        saef_db_t *db = (saef_db_t *)(uintptr_t)1;
        saef_rc_t rc = saef_db_open(NULL, cases[i].name, &db);

        if ((rc == SAEF_OK) != (cases[i].rc == SAEF_OK))
            fail_msg("schema \"%s\": %s", cases[i].name, saef_strerror(rc));
        if (rc == SAEF_OK) {
            assert_string_equal(saef_db_schema(db), cases[i].name);
            saef_db_close(db);
        } else {
            assert_null(db);
        }
    }
}

/* A schema whose name starts with an underscore and the longest name both migrate. */
static void test_unusual_schema_migrates(void **state)
{
    char schema[64];
    saef_db_t *db;
    PGconn *c;
    size_t n;

    n = (size_t)snprintf(schema, sizeof(schema), "_u%ld_", (long)getpid());
    while (n < sizeof(schema) - 1)
        schema[n++] = 'z';
    schema[n] = '\0';
    db = pgt_open_migrated(schema);
    c = pgt_conn(NULL);
    assert_int_equal(count_tables(c, schema), sizeof(tables) / sizeof(tables[0]));
    saef_db_close(db);
    PQfinish(c);
}

static void test_unreachable_is_retry(void **state)
{
    saef_db_t *db = NULL;

    assert_int_equal(saef_db_open("host=/nonexistent-saef-dir port=1", "saef", &db), SAEF_E_DB);
    assert_non_null(db);
    assert_int_equal(saef_db_errclass(db), SAEF_DB_ERR_RETRY);
    assert_string_equal(saef_db_sqlstate(db), "08006");
    assert_false(saef_db_connected(db));
    assert_int_equal(saef_db_migrate(db, NULL), SAEF_E_DB);
    assert_int_equal(saef_db_errclass(db), SAEF_DB_ERR_RETRY);
    saef_db_close(db);
    /* a malformed conninfo is not repeated in the message: it may hold a password */
    assert_int_equal(saef_db_open("password=hunter2 bogus_option=1", "saef", &db), SAEF_E_DB);
    assert_null(strstr(saef_db_errmsg(db), "hunter2"));
    assert_null(strstr(saef_db_errmsg(db), "bogus_option"));
    saef_db_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fresh_then_idempotent),
        cmocka_unit_test(test_concurrent_processes),
        cmocka_unit_test(test_newer_schema_refused),
        cmocka_unit_test(test_checksum_mismatch),
        cmocka_unit_test(test_failed_migration_rolls_back),
        cmocka_unit_test(test_schema_names),
        cmocka_unit_test(test_unusual_schema_migrates),
        cmocka_unit_test(test_unreachable_is_retry),
    };

    pgt_require_server();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
