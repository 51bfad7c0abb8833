#!/bin/sh
# docs/configuration.md must be what the option table generates today.
set -u
: "${top_srcdir:?top_srcdir must be set by the test harness}"
: "${top_builddir:?top_builddir must be set by the test harness}"

gen="$top_builddir/modules/gen_config_doc"
page="$top_srcdir/docs/configuration.md"
tmp=$(mktemp) || exit 99
trap 'rm -f "$tmp"' EXIT

if ! "$gen" >"$tmp"; then
    echo "FAIL: $gen did not run"
    exit 1
fi
if ! diff -u "$page" "$tmp"; then
    echo "FAIL: docs/configuration.md is out of date with modules/config_table.c;" \
        "run 'make config-doc' and commit the result"
    exit 1
fi
echo "ok: docs/configuration.md is current"
