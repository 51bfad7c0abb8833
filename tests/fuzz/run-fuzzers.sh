#!/bin/sh
# Runs the libFuzzer targets, each for SECONDS (default 20) from its seed corpus, and fails on
# any crash, leak, timeout or broken invariant.  Run it from a build directory configured with
# --enable-fuzzing (CC=clang) after `make check`:
#     path/to/tests/fuzz/run-fuzzers.sh [SECONDS] [NAME...]
# NAME is a corpus directory tests/fuzz/corpus/NAME, run through tests/fuzz/fuzz_NAME; default
# all of them.  New inputs go to tests/fuzz/corpus-run/NAME in the build directory (the seed
# corpus is only read); crash inputs to tests/fuzz/crash-NAME-*.
set -u
secs=${1:-20}
[ $# -gt 0 ] && shift
case $secs in
    '' | *[!0-9]*) echo "usage: $0 [SECONDS] [NAME...]" >&2; exit 2 ;;
esac
srcdir=$(cd "$(dirname "$0")/../.." && pwd)
builddir=$(pwd)
names=$*
if [ -z "$names" ]; then
    for dir in "$srcdir"/tests/fuzz/corpus/*/; do
        [ -d "$dir" ] && names="$names $(basename "$dir")"
    done
fi

status=0
for name in $names; do
    bin="$builddir/tests/fuzz/fuzz_$name"
    seeds="$srcdir/tests/fuzz/corpus/$name"
    if [ ! -x "$bin" ] || [ ! -d "$seeds" ]; then
        echo "FAIL: $name: need $bin and $seeds (make check in a fuzzing build first)"
        status=1
        continue
    fi
    # A replay build treats "-help=1" as a missing file and fails: only libFuzzer passes.
    if ! "$bin" -help=1 >/dev/null 2>&1; then
        echo "FAIL: $bin is not a libFuzzer binary (configure with --enable-fuzzing CC=clang)"
        status=1
        continue
    fi
    work="$builddir/tests/fuzz/corpus-run/$name"
    mkdir -p "$work"
    log="$builddir/tests/fuzz/fuzz_$name.fuzz.log"
    echo "== $name: ${secs}s"
    if "$bin" -max_total_time="$secs" -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$builddir/tests/fuzz/crash-$name-" "$work" "$seeds" >"$log" 2>&1; then
        grep -E 'stat::number_of_executed_units|stat::peak_rss_mb' "$log" | sed "s/^/   /"
    else
        tail -n 40 "$log"
        echo "FAIL: $name (full log: $log)"
        status=1
    fi
done
exit $status
