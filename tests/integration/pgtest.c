/* Helpers of the integration tests (see pgtest.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "pgtest.h"

void pgt_require_server(void)
{
    if (getenv("PGHOST") == NULL || getenv("PG_HARNESS_DIR") == NULL) {
        fprintf(stderr, "no PostgreSQL: run this test through tests/integration/"
                        "db_integration.sh, which starts one\n");
        exit(1);
    }
}

const char *pgt_schema(char *buf, size_t len, const char *tag)
{
    static unsigned counter;

    snprintf(buf, len, "t%ld_%u_%s", (long)getpid(), ++counter, tag);
    return buf;
}

saef_db_t *pgt_open_migrated(const char *schema)
{
    saef_db_t *db = NULL;
    saef_rc_t rc = saef_db_open(NULL, schema, &db);

    if (rc != SAEF_OK)
        fail_msg("open %s: %s", schema, saef_db_errmsg(db));
    rc = saef_db_migrate(db, NULL);
    if (rc != SAEF_OK)
        fail_msg("migrate %s: %s", schema, saef_db_errmsg(db));
    return db;
}

PGconn *pgt_conn(const char *schema)
{
    PGconn *c = PQconnectdb("");
    char sql[128];

    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("connect: %s", PQerrorMessage(c));
    if (schema != NULL) {
        snprintf(sql, sizeof(sql), "SET search_path = \"%s\"", schema);
        PQclear(pgt_exec(c, sql, 0, NULL));
    }
    return c;
}

PGresult *pgt_exec(PGconn *c, const char *sql, int n, const char *const *params)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType s = PQresultStatus(r);

    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQresultErrorMessage(r));
    return r;
}

long long pgt_int(PGconn *c, const char *sql, int n, const char *const *params)
{
    PGresult *r = pgt_exec(c, sql, n, params);
    long long v;

    assert_true(PQntuples(r) >= 1);
    v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

char *pgt_text(PGconn *c, const char *sql, int n, const char *const *params)
{
    PGresult *r = pgt_exec(c, sql, n, params);
    char *v;

    assert_true(PQntuples(r) >= 1);
    v = PQgetisnull(r, 0, 0) ? NULL : strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

int pgt_harness(const char *function)
{
    const char *h = getenv("SAEF_PG_HARNESS");
    char cmd[1024];
    int st;

    assert_non_null(h);
    snprintf(cmd, sizeof(cmd), ". '%s' && %s", h, function);
    st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int64_t pgt_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t pgt_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void pgt_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0)
        ;
}

int pgt_run(const char *cmd, char *out, size_t cap)
{
    char full[4096];
    FILE *p;
    size_t n = 0;
    int st;

    snprintf(full, sizeof(full), "%s 2>&1", cmd);
    p = popen(full, "r");
    if (p == NULL)
        return -1;
    if (cap > 0) {
        n = fread(out, 1, cap - 1, p);
        out[n] = '\0';
    }
    while (fgetc(p) != EOF)
        ;
    st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

const char *pgt_built(const char *rel, char *buf, size_t len)
{
    const char *top = getenv("top_builddir");

    snprintf(buf, len, "%s/%s", top != NULL ? top : ".", rel);
    return buf;
}
