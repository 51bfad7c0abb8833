#!/bin/sh
# Replays each seed corpus through its fuzz target, as part of the ordinary test run.
# Convention: the files of tests/fuzz/corpus/NAME/ are inputs of tests/fuzz/fuzz_NAME.  Built
# without libFuzzer the targets link replay_main.c; built with it, libFuzzer runs each file
# named on its command line once.  Either way a crash or a broken invariant fails the test.
set -u
: "${top_srcdir:?top_srcdir must be set by the test harness}"
: "${top_builddir:?top_builddir must be set by the test harness}"

status=0
ran=0
for dir in "$top_srcdir"/tests/fuzz/corpus/*/; do
    [ -d "$dir" ] || continue
    name=$(basename "$dir")
    bin="$top_builddir/tests/fuzz/fuzz_$name"
    if [ ! -x "$bin" ]; then
        echo "FAIL: corpus $name has no fuzz target $bin"
        status=1
        continue
    fi
    if "$bin" "$dir"*; then
        echo "ok: $name ($(ls "$dir" | wc -l) inputs)"
        ran=$((ran + 1))
    else
        echo "FAIL: $name"
        status=1
    fi
done
if [ "$ran" -eq 0 ] && [ "$status" -eq 0 ]; then
    echo "FAIL: no corpus under $top_srcdir/tests/fuzz/corpus"
    status=1
fi
exit $status
