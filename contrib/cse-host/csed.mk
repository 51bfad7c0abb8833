# contrib/cse-host/saef-csed: the reference host CSE.  It loads maf_saef.so with dlopen() through
# include/saef/module.h only, so it links none of the project's libraries.
bin_PROGRAMS += contrib/cse-host/saef-csed
contrib_cse_host_saef_csed_SOURCES = \
	contrib/cse-host/csed.h \
	contrib/cse-host/saef-csed.c \
	contrib/cse-host/csed_config.c \
	contrib/cse-host/csed_tls.c \
	contrib/cse-host/csed_http.c \
	contrib/cse-host/csed_coap.c \
	contrib/cse-host/csed_onem2m.c \
	contrib/cse-host/ini_pairs.h contrib/cse-host/ini_pairs.c
contrib_cse_host_saef_csed_CPPFLAGS = $(AM_CPPFLAGS) $(OPENSSL_CFLAGS) $(COAP_CFLAGS) \
	$(EVENT_CFLAGS) $(INIH_CFLAGS) $(JANSSON_CFLAGS)
contrib_cse_host_saef_csed_LDADD = $(OPENSSL_LIBS) $(COAP_LIBS) $(EVENT_LIBS) $(INIH_LIBS) \
	$(JANSSON_LIBS) $(HTTP_PARSER_LIBS) -ldl -lpthread

# End to end with stock clients; the module's handshake hooks are not needed for it.
TESTS += tests/e2e/csed_host_psk.sh
EXTRA_DIST += tests/e2e/csed_host_psk.sh contrib/cse-host/saef-csed.ini.example \
	docs/reference-host.md

# The originator rules, targets and status tables of csed_onem2m.c with a fake module table:
# the 4106 cases need bindings that only the module's handshake hooks produce end to end.
check_PROGRAMS += tests/unit/test_csed_onem2m
TESTS += tests/unit/test_csed_onem2m
tests_unit_test_csed_onem2m_SOURCES = tests/unit/test_csed_onem2m.c \
	contrib/cse-host/csed_onem2m.c contrib/cse-host/csed.h
tests_unit_test_csed_onem2m_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/contrib/cse-host \
	$(JANSSON_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_csed_onem2m_LDADD = $(JANSSON_LIBS) $(CMOCKA_LIBS) -lpthread
