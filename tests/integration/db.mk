# Tests of db/ and of the vault and credential map code.
#
# Unit tests (no server): SQLSTATE classification and other db helpers, vault crypto,
# credential map matching.  Integration tests: cmocka binaries that need PostgreSQL; they are
# not in TESTS themselves: db_integration.sh starts a throwaway cluster, runs each of them
# against a fresh database, and removes the cluster.
DB_TEST_CPPFLAGS = $(AM_CPPFLAGS) $(SAEF_DEP_CFLAGS) $(CMOCKA_CFLAGS)
DB_TEST_LDADD = libsaef.la $(CMOCKA_LIBS)

DB_UNIT_TESTS = tests/integration/test_db_sqlstate tests/integration/test_vault \
	tests/integration/test_credmap
DB_INTEGRATION_TESTS = tests/integration/test_db_migrate tests/integration/test_db_store \
	tests/integration/test_db_writer tests/integration/test_db_vault \
	tests/integration/test_db_notify

check_PROGRAMS += $(DB_UNIT_TESTS) $(DB_INTEGRATION_TESTS)
TESTS += $(DB_UNIT_TESTS) tests/integration/db_integration.sh
EXTRA_DIST += tests/integration/db_integration.sh tests/integration/pg_harness.sh
# db_integration.sh runs the saef-admin it was built with.
EXTRA_tests_integration_test_db_vault_DEPENDENCIES = db/saef-admin$(EXEEXT)
EXTRA_tests_integration_test_db_notify_DEPENDENCIES = db/saef-admin$(EXEEXT)

tests_integration_test_db_sqlstate_SOURCES = tests/integration/test_db_sqlstate.c
tests_integration_test_db_sqlstate_CPPFLAGS = $(DB_TEST_CPPFLAGS)
tests_integration_test_db_sqlstate_LDADD = $(DB_TEST_LDADD)

tests_integration_test_vault_SOURCES = tests/integration/test_vault.c
tests_integration_test_vault_CPPFLAGS = $(DB_TEST_CPPFLAGS)
tests_integration_test_vault_LDADD = $(DB_TEST_LDADD)

tests_integration_test_credmap_SOURCES = tests/integration/test_credmap.c
tests_integration_test_credmap_CPPFLAGS = $(DB_TEST_CPPFLAGS)
tests_integration_test_credmap_LDADD = $(DB_TEST_LDADD)

PGTEST_SOURCES = tests/integration/pgtest.h tests/integration/pgtest.c

tests_integration_test_db_migrate_SOURCES = tests/integration/test_db_migrate.c $(PGTEST_SOURCES)
tests_integration_test_db_migrate_CPPFLAGS = $(DB_TEST_CPPFLAGS)
tests_integration_test_db_migrate_LDADD = $(DB_TEST_LDADD)

tests_integration_test_db_store_SOURCES = tests/integration/test_db_store.c $(PGTEST_SOURCES)
tests_integration_test_db_store_CPPFLAGS = $(DB_TEST_CPPFLAGS)
tests_integration_test_db_store_LDADD = $(DB_TEST_LDADD)

tests_integration_test_db_writer_SOURCES = tests/integration/test_db_writer.c $(PGTEST_SOURCES)
tests_integration_test_db_writer_CPPFLAGS = $(DB_TEST_CPPFLAGS)
tests_integration_test_db_writer_LDADD = $(DB_TEST_LDADD)

tests_integration_test_db_vault_SOURCES = tests/integration/test_db_vault.c $(PGTEST_SOURCES)
tests_integration_test_db_vault_CPPFLAGS = $(DB_TEST_CPPFLAGS)
tests_integration_test_db_vault_LDADD = $(DB_TEST_LDADD)

tests_integration_test_db_notify_SOURCES = tests/integration/test_db_notify.c $(PGTEST_SOURCES)
tests_integration_test_db_notify_CPPFLAGS = $(DB_TEST_CPPFLAGS)
tests_integration_test_db_notify_LDADD = $(DB_TEST_LDADD)
