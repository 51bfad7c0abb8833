# End to end: Entity B (saef-csed with maf_saef.so) against the reference MAF (saef-mafd), with
# stock clients (openssl s_client, gnutls-cli, coap-client-openssl) as Entity A.  The scripts
# share tests/e2e/lib.sh (saef_nodes.sh also tests/integration/pg_harness.sh for its own
# PostgreSQL cluster); each prints "N passed, N failed".
E2E_SAEF_TESTS = \
	tests/e2e/saef_interop.sh \
	tests/e2e/saef_failures.sh \
	tests/e2e/saef_concurrency.sh \
	tests/e2e/saef_resumption.sh \
	tests/e2e/saef_nodes.sh \
	tests/e2e/saef_lifecycle.sh
TESTS += $(E2E_SAEF_TESTS)
EXTRA_DIST += tests/e2e/e2e.mk tests/e2e/lib.sh $(E2E_SAEF_TESTS)
