# contrib/maf/: saef-mafd, the reference MAF of docs/maf-binding.md (docs/reference-maf.md).
bin_PROGRAMS += contrib/maf/saef-mafd
contrib_maf_saef_mafd_SOURCES = \
	contrib/maf/saef-mafd.c contrib/maf/mafd.h \
	contrib/maf/mafd_config.c \
	contrib/maf/mafd_tls.c \
	contrib/maf/mafd_http.c \
	contrib/maf/mafd_body.c \
	contrib/maf/mafd_proc.c \
	contrib/maf/mafd_fault.c \
	contrib/maf/mafd_store.h contrib/maf/mafd_store.c \
	contrib/maf/mafd_store_pg.c
contrib_maf_saef_mafd_CPPFLAGS = $(AM_CPPFLAGS) $(SAEF_DEP_CFLAGS) $(EVENT_CFLAGS) $(INIH_CFLAGS) \
	$(PQ_CFLAGS)
contrib_maf_saef_mafd_LDADD = libsaef.la $(EVENT_LIBS) $(INIH_LIBS) $(JANSSON_LIBS) $(OPENSSL_LIBS) \
	$(PQ_LIBS)

# Drives a running saef-mafd with curl and openssl s_client.
TESTS += tests/integration/mafd_smoke.sh
EXTRA_DIST += tests/integration/mafd_smoke.sh contrib/maf/saef-mafd.ini.example \
	docs/reference-maf.md
