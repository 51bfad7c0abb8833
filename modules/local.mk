# modules/: the only code that knows the host.  libsaefmod.la holds everything but the entry
# point so that unit tests link the module's own objects.
noinst_LTLIBRARIES += libsaefmod.la
libsaefmod_la_CPPFLAGS = $(AM_CPPFLAGS) $(SAEF_DEP_CFLAGS)
libsaefmod_la_LIBADD = libsaef.la
libsaefmod_la_SOURCES = \
	modules/saef_config.h \
	modules/saef_instance_internal.h modules/instance.c modules/runtime.c \
	modules/saef_runtime_db.h modules/runtime_db.c modules/saef_admin.h modules/admin.c

module_LTLIBRARIES = maf_saef.la
maf_saef_la_CPPFLAGS = $(AM_CPPFLAGS) $(SAEF_DEP_CFLAGS)
maf_saef_la_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden
maf_saef_la_SOURCES = modules/entry.c
maf_saef_la_DEPENDENCIES = libsaefmod.la $(top_srcdir)/modules/maf_saef.map
EXTRA_DIST += modules/maf_saef.map
maf_saef_la_LIBADD = libsaefmod.la
maf_saef_la_LDFLAGS = $(AM_LDFLAGS) -module -avoid-version -shared $(SAEF_MODULE_LDFLAGS) \
	-Wl,--version-script=$(top_srcdir)/modules/maf_saef.map \
	-rpath $(moduledir)

# A dlopen()ed module needs no libtool archive beside it.
install-data-hook:
	rm -f $(DESTDIR)$(moduledir)/maf_saef.la
