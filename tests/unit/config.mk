# Unit tests of the configuration (modules/config*.c) and of the generated page.
check_PROGRAMS += tests/unit/test_config
TESTS += tests/unit/test_config tests/unit/config_doc_current.sh
EXTRA_DIST += tests/unit/config_doc_current.sh contrib/examples/saef-cert.ini \
	contrib/examples/saef-psk.ini

tests_unit_test_config_SOURCES = tests/unit/test_config.c tests/unit/test_config_cases.c \
	tests/unit/test_config_cases.h
tests_unit_test_config_CPPFLAGS = $(AM_CPPFLAGS) $(SAEF_DEP_CFLAGS) $(CMOCKA_CFLAGS) \
	-DTOP_SRCDIR='"$(abs_top_srcdir)"'
# Allocation failures are injected by wrapping the allocator of the code under test.
tests_unit_test_config_LDFLAGS = $(AM_LDFLAGS) -Wl,--wrap=malloc -Wl,--wrap=calloc
tests_unit_test_config_LDADD = libsaefmod.la libsaef.la $(CMOCKA_LIBS)
