# db/: the PostgreSQL store, migrations, writer thread and LISTEN/NOTIFY (part of libsaef.la),
# and the saef-admin tool.  The key vault crypto and the credential map matcher live in
# security/ (they need no database) but are listed here, with the store that feeds them:
# security/vault.c and security/credmap.c belong to this fragment, not to security/local.mk.
libsaef_la_SOURCES += \
	security/saef_vault.h security/vault.c \
	security/saef_credmap.h security/credmap.c \
	db/saef_db.h db/saef_db_internal.h db/saef_db_writer.h db/saef_db_notify.h \
	db/sqlstate.c db/conn.c db/util.c db/backoff.c db/migrate.c \
	db/store.c db/store_vault.c db/store_credmap.c db/store_admin.c db/vault_rotate.c \
	db/vault_keys.c \
	db/writer.c db/notify.c

# Migrations are embedded in the binary: gen_migrations.sh turns the numbered .sql files into
# one C file (string per migration).  Add a new migration to this list.
SAEF_MIGRATIONS = db/migrations/0001_initial.sql
nodist_libsaef_la_SOURCES = db/saef_migrations.c
CLEANFILES += db/saef_migrations.c
EXTRA_DIST += db/gen_migrations.sh $(SAEF_MIGRATIONS) docs/operations.md

db/saef_migrations.c: $(SAEF_MIGRATIONS) db/gen_migrations.sh
	$(AM_V_GEN)$(MKDIR_P) db && \
	(cd $(srcdir) && $(SHELL) db/gen_migrations.sh $(abs_builddir)/$@ $(SAEF_MIGRATIONS))

bin_PROGRAMS += db/saef-admin
db_saef_admin_SOURCES = db/saef-admin.c
db_saef_admin_CPPFLAGS = $(AM_CPPFLAGS) $(SAEF_DEP_CFLAGS)
db_saef_admin_LDADD = libsaef.la
