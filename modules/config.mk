# modules/: the configuration (option table, typed values, rules, generated docs).
libsaefmod_la_SOURCES += \
	modules/config_internal.h \
	modules/config.c modules/config_value.c modules/config_table.c modules/config_doc.c

# Writes docs/configuration.md from the option table; see docs/local.mk (make config-doc).
noinst_PROGRAMS += modules/gen_config_doc
modules_gen_config_doc_SOURCES = modules/gen_config_doc.c
modules_gen_config_doc_CPPFLAGS = $(AM_CPPFLAGS) $(SAEF_DEP_CFLAGS)
modules_gen_config_doc_LDADD = libsaefmod.la libsaef.la
