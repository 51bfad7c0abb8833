# saef-mafd with [maf] store = postgresql against a throwaway cluster (pg_harness.sh): state
# across a daemon restart, database errors, refusals at start.
TESTS += tests/integration/mafd_pg.sh
EXTRA_DIST += tests/integration/mafd_pg.sh tests/integration/mafd_lib.sh
