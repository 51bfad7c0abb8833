#!/bin/sh
# `make install` lays out what a host needs: maf_saef.so in the module directory the pkg-config
# file names, the ABI header, and maf-saef.pc; and a host compiles against the installed header.
set -eu
b=${top_builddir:?}
dest=$(mktemp -d "${TMPDIR:-/tmp}/saef-install.XXXXXX")
trap 'rm -rf "$dest"' EXIT
make -s -C "$b" install DESTDIR="$dest" >"$dest/install.log" 2>&1 || {
    cat "$dest/install.log"
    echo "FAIL: make install"
    exit 1
}
pc=$(find "$dest" -name maf-saef.pc)
[ -n "$pc" ] || { echo "FAIL: maf-saef.pc not installed"; exit 1; }
moduledir=$(PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --define-prefix --variable=moduledir maf-saef 2>/dev/null ||
    PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --variable=moduledir maf-saef)
case $moduledir in "$dest"*) ;; *) moduledir=$dest$moduledir ;; esac
fails=0
check() { if [ -e "$2" ]; then echo "ok   - $1"; else echo "FAIL - $1 ($2)"; fails=$((fails + 1)); fi; }
check "module in the pkg-config moduledir" "$moduledir/maf_saef.so"
if [ -e "$moduledir/maf_saef.la" ]; then echo "FAIL - libtool archive installed"; fails=$((fails + 1)); fi
hdr=$(find "$dest" -path '*/include/saef/module.h')
check "ABI header installed" "$hdr"
cat >"$dest/host.c" <<'C'
#include <saef/module.h>
int main(void) { return SAEF_ABI_MAJOR == 1 ? 0 : 1; }
C
if ${CC:-cc} -std=c11 -I"$(dirname "$(dirname "$hdr")")" -o "$dest/host" "$dest/host.c" && "$dest/host"; then
    echo "ok   - a host compiles against the installed header"
else
    echo "FAIL - a host does not compile against the installed header"
    fails=$((fails + 1))
fi
[ "$fails" -eq 0 ]
