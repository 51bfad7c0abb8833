# docs/: configuration.md is generated from the option table (modules/config_table.c) and kept
# in the source tree; tests/unit/config_doc_current.sh fails when it is stale.
EXTRA_DIST += docs/configuration.md

config-doc: modules/gen_config_doc$(EXEEXT)
	$(AM_V_GEN)modules/gen_config_doc$(EXEEXT) > $(srcdir)/docs/configuration.md.tmp && \
	mv -f $(srcdir)/docs/configuration.md.tmp $(srcdir)/docs/configuration.md
.PHONY: config-doc
