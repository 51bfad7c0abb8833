#!/bin/sh
# Integration tests of db/ against a real PostgreSQL: start a throwaway cluster, run every
# integration test binary against a fresh database of its own, remove the cluster (also on
# failure or interruption).  Never skipped: a server that does not start is a hard error.
#
#   SAEF_DB_TESTS="test_db_writer ..."  run only these
#   SAEF_TEST_WRAPPER="valgrind -q --error-exitcode=1 --leak-check=full"  run each under it
set -u

here=$(cd "$(dirname "$0")" && pwd)
: "${top_builddir:=$(pwd)}"
export top_builddir
: "${top_srcdir:=$(cd "$here/../.." && pwd)}"
export top_srcdir
SAEF_PG_HARNESS=$here/pg_harness.sh
export SAEF_PG_HARNESS
. "$SAEF_PG_HARNESS"

trap 'pg_harness_destroy' EXIT
trap 'exit 130' INT TERM HUP

if ! pg_harness_start; then
    echo "db_integration: cannot start PostgreSQL" >&2
    exit 99
fi
echo "db_integration: PostgreSQL at $PGHOST port $PGPORT"

passed=0
failed=0
failed_names=
for t in ${SAEF_DB_TESTS:-test_db_migrate test_db_store test_db_writer test_db_vault \
    test_db_notify}; do
    if ! pg_harness_createdb "$t"; then
        echo "db_integration: createdb $t failed" >&2
        exit 99
    fi
    echo "=== $t"
    if PGDATABASE=$t ${SAEF_TEST_WRAPPER:-} "$top_builddir/tests/integration/$t"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        failed_names="$failed_names $t"
    fi
done
if [ "$failed" -gt 0 ]; then
    echo "db_integration: $passed passed, $failed failed:$failed_names"
else
    echo "db_integration: $passed passed, 0 failed"
fi
[ "$failed" -eq 0 ]
