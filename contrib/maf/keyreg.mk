# contrib/maf/keyreg.mk: saef-keyreg, Entity A's MAF client (key registration and friends), and
# its integration test against the reference MAF.
bin_PROGRAMS += contrib/maf/saef-keyreg
contrib_maf_saef_keyreg_SOURCES = contrib/maf/saef-keyreg.c contrib/maf/keyreg_internal.h \
	contrib/maf/keyreg_maf.c contrib/maf/keyreg_cli.c
contrib_maf_saef_keyreg_CPPFLAGS = $(AM_CPPFLAGS) $(SAEF_DEP_CFLAGS)
contrib_maf_saef_keyreg_LDADD = libsaef.la $(CURL_LIBS) $(JANSSON_LIBS) $(OPENSSL_LIBS)

TESTS += tests/integration/keyreg_exporter.sh
EXTRA_DIST += tests/integration/keyreg_exporter.sh docs/entity-a.md
