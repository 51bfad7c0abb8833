# security/ and db/ build into one non-installed convenience library: the module, the tools and
# every test link it, so tests exercise exactly the module's code.
noinst_LTLIBRARIES += libsaef.la
libsaef_la_CPPFLAGS = $(AM_CPPFLAGS) $(SAEF_DEP_CFLAGS)
libsaef_la_LIBADD = $(SAEF_DEP_LIBS)
libsaef_la_SOURCES = \
	security/saef_rc.h security/rc.c \
	security/saef_ascii.h security/ascii.c \
	security/saef_secret.h security/secret.c
