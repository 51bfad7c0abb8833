#!/bin/sh
# maf_saef.so must export exactly one symbol, the ABI entry point: anything else could clash
# with the host's own symbols or tempt a host to bypass the ABI.
set -eu
so="${top_builddir:-.}/.libs/maf_saef.so"
[ -f "$so" ] || { echo "FAIL: $so not built"; exit 1; }
syms=$(${NM:-nm} -D --defined-only "$so" | awk '{print $NF}' | sort)
echo "defined dynamic symbols of $so:"
echo "$syms" | sed 's/^/  /'
if [ "$syms" != "saef_module_entry" ]; then
    echo "FAIL: expected only saef_module_entry"
    exit 1
fi
# Every other symbol must resolve at load time (the module is linked with --no-undefined).
if ldd -r "$so" 2>&1 | grep -q 'undefined symbol'; then
    ldd -r "$so"
    echo "FAIL: undefined symbols"
    exit 1
fi
echo "PASS: only saef_module_entry is exported"
