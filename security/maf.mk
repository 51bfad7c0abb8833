# security/: the MAF client of Entity B (docs/maf-binding.md), part of libsaef.la.
libsaef_la_SOURCES += \
	security/saef_maf.h security/saef_maf_internal.h \
	security/maf_b64.c security/maf_breaker.c security/maf_register.c \
	security/maf_answer.c security/maf_endpoint.c security/maf_client.c \
	security/maf_http.c security/maf_http_cfg.c

# saef-mafget: one Key Retrieval through this client, for operators and the integration tests.
noinst_PROGRAMS += contrib/maf/saef-mafget
contrib_maf_saef_mafget_SOURCES = contrib/maf/saef-mafget.c
contrib_maf_saef_mafget_CPPFLAGS = $(AM_CPPFLAGS) $(SAEF_DEP_CFLAGS)
contrib_maf_saef_mafget_LDADD = libsaef.la
