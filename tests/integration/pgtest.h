/* Helpers of the integration tests: they run against the throwaway cluster that
 * db_integration.sh starts (PGHOST/PGPORT/PGUSER/PGDATABASE, PG_HARNESS_DIR in the
 * environment).  Include after <cmocka.h>. */
#ifndef SAEF_PGTEST_H
#define SAEF_PGTEST_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "saef_db.h"

/* Fail the test run (not skip) when the harness did not start a server. */
void pgt_require_server(void);

/* A schema name unique to this process and call ("t<pid>_<n>_<tag>"), into buf. */
const char *pgt_schema(char *buf, size_t len, const char *tag);

/* Open a store handle on schema and migrate it; fails the test on error. */
saef_db_t *pgt_open_migrated(const char *schema);

/* A plain libpq connection (the environment's database) with search_path = schema. */
PGconn *pgt_conn(const char *schema);

/* Run sql with text parameters; fail the test unless it succeeds.  Returns the result. */
PGresult *pgt_exec(PGconn *c, const char *sql, int n, const char *const *params);

/* First cell of a query as a long integer / a malloc'd string. */
long long pgt_int(PGconn *c, const char *sql, int n, const char *const *params);
char *pgt_text(PGconn *c, const char *sql, int n, const char *const *params);

/* Call a function of pg_harness.sh (pg_harness_kill, pg_harness_restart); returns its exit
 * status. */
int pgt_harness(const char *function);

/* Wall clock in microseconds / monotonic clock in milliseconds. */
int64_t pgt_now_us(void);
int64_t pgt_mono_ms(void);

/* Sleep ms milliseconds. */
void pgt_sleep_ms(long ms);

/* Run a shell command, capture up to cap-1 bytes of its stdout+stderr into out; returns the
 * exit status (or -1). */
int pgt_run(const char *cmd, char *out, size_t cap);

/* Path of a built program: $top_builddir/rel. */
const char *pgt_built(const char *rel, char *buf, size_t len);

#endif /* SAEF_PGTEST_H */
