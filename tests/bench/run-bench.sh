#!/bin/sh
# Handshake benchmark of maf_saef.so (docs/performance.md), end to end on this machine:
# test PKI, saef-mafd on a free loopback port, one warm key registered with saef-keyreg, the cold
# keys registered through the MAF's HTTP API (one curl process, one kept-alive connection, timed
# apart: registration is not part of a handshake), a throwaway PostgreSQL cluster for the
# module-warm+db variants (tests/integration/pg_harness.sh), then tests/bench/bench_handshake,
# and the rows the module instance with the database wrote.
#
#   tests/bench/run-bench.sh BUILDDIR [bench_handshake options, e.g. --rounds 5 --no-async]
#
# The table goes to standard output and to BUILDDIR/bench-results.txt, the machine-readable
# summary to BUILDDIR/bench-results.json.  BENCH_CPU picks the CPU the benchmark thread is pinned
# to (default 0); on a machine with two CPUs or more saef-mafd runs on another one.
# MAFD_WRAPPER runs saef-mafd under a command that execs it (e.g. "env VAR=..."), and
# BENCH_WRAPPER runs the benchmark under a tool (e.g. "valgrind -q"; timings are then meaningless).
# BENCH_DB=0 leaves the database variants out (so does a machine without initdb).  The exit
# status says whether everything ran, every handshake completed and the database holds the rows
# the benchmark expects; timing is never judged.
set -u

srcdir=$(cd "$(dirname "$0")/../.." && pwd)
[ $# -ge 1 ] || {
    echo "usage: $0 BUILDDIR [bench_handshake options]" >&2
    exit 2
}
builddir=$(cd "$1" && pwd) || exit 2
shift

bench=$builddir/tests/bench/bench_handshake
mafd=$builddir/contrib/maf/saef-mafd
keyreg=$builddir/contrib/maf/saef-keyreg
module=$builddir/.libs/maf_saef.so
for f in "$bench" "$mafd" "$keyreg"; do
    [ -x "$f" ] || {
        echo "run-bench: $f is not built" >&2
        exit 1
    }
done
[ -f "$module" ] || {
    echo "run-bench: $module is not built" >&2
    exit 1
}
for tool in curl openssl awk; do
    command -v $tool >/dev/null 2>&1 || {
        echo "run-bench: $tool not installed" >&2
        exit 1
    }
done

. "$srcdir/tests/integration/pg_harness.sh"

dir=$(mktemp -d "${TMPDIR:-/tmp}/saef-bench.XXXXXX") || exit 1
pid=
cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    fi
    pg_harness_destroy # after the use of $pid: it sets a variable of that name
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

FQDN=maf.example.test
IDB=//sp.example.test/in-cse
IDA=//sp.example.test/in-cse/Cdevice01
ADMIN=sp.example.test
pki=$dir/pki

now_ms() { echo $(($(date +%s%N) / 1000000)); }

echo "== fixtures"
sh "$srcdir/tests/fixtures/mkpki.sh" "$pki" "$FQDN" "$IDB" "$IDA" >/dev/null || exit 1

# ---- saef-mafd, on its own CPU when there is more than one ----
ncpu=$(nproc 2>/dev/null || echo 1)
bench_cpu=${BENCH_CPU:-0}
pin_mafd=
if [ "$ncpu" -ge 2 ] && command -v taskset >/dev/null 2>&1; then
    mafd_cpu=$(((bench_cpu + 1) % ncpu))
    pin_mafd="taskset -c $mafd_cpu"
fi
cat >"$dir/mafd.ini" <<EOF
[maf]
fqdn = $FQDN
listen = 127.0.0.1:0
base_path = /maf
cert = $pki/maf.crt
key = $pki/maf.key
ca = $pki/ca.crt
max_key_lifetime = 6h
EOF
echo "== saef-mafd${pin_mafd:+ (pinned: $pin_mafd)}"
# shellcheck disable=SC2086 # command prefixes; taskset and a wrapper that execs keep the pid
$pin_mafd ${MAFD_WRAPPER:-} "$mafd" -c "$dir/mafd.ini" 2>"$dir/mafd.log" &
pid=$!
i=0
while ! grep -q 'listening on' "$dir/mafd.log" 2>/dev/null; do
    i=$((i + 1))
    if [ $i -gt 300 ] || ! kill -0 "$pid" 2>/dev/null; then
        echo "run-bench: saef-mafd did not start:" >&2
        cat "$dir/mafd.log" >&2
        exit 1
    fi
    sleep 0.1
done
port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$dir/mafd.log")
B=https://$FQDN:$port/maf
echo "saef-mafd pid $pid listening on 127.0.0.1:$port"

# ---- the warm key: Entity A's client registration and one key, with saef-keyreg ----
echo "== registering keys"
t0=$(now_ms)
"$keyreg" key --maf "$B" --connect-to "127.0.0.1:$port" --ca "$pki/ca.crt" \
    --cert "$pki/entity-a.crt" --key "$pki/entity-a.key" --origin "$IDA" \
    --admin-fqdn "$ADMIN" --target "$IDB" --generate --register --lifetime 7200 \
    --format=env >"$dir/warm.env" || {
    echo "run-bench: saef-keyreg failed" >&2
    cat "$dir/mafd.log" >&2
    exit 1
}
t1=$(now_ms)
echo "warm key: saef-keyreg (new process, TLS handshake, client + key registration):" \
    "$((t1 - t0)) ms" | tee -a "$dir/notes.txt"

# ---- the cold keys: one curl process, requests in sequence on one kept-alive connection ----
need=$("$bench" keys-needed "$@") || exit 1
"$bench" keygen "$need" >"$dir/keys.raw" || exit 1
expires=$(date -u -d '+2 hours' +%Y%m%dT%H%M%S)
awk -v uri="$B/keyRegistrations" -v fqdn="$FQDN" -v expiry="$expires" -v admin="$ADMIN" \
    -v target="$IDB" -v origin="$IDA" -v pki="$pki" -v port="$port" '
    {
        if (NR > 1) print "next"
        print "url = \"" uri "\""
        print "silent"
        print "show-error"
        print "cacert = \"" pki "/ca.crt\""
        print "cert = \"" pki "/entity-a.crt\""
        print "key = \"" pki "/entity-a.key\""
        print "connect-to = \"::127.0.0.1:" port "\""
        print "header = \"X-M2M-Origin: " origin "\""
        print "header = \"X-M2M-RI: bench-kr-" NR "\""
        print "header = \"X-M2M-RVI: 3\""
        print "header = \"Content-Type: application/json\""
        print "header = \"Expect:\""
        printf "data = \"{\\\"mafFQDN\\\": \\\"%s\\\", \\\"expirationTime\\\": \\\"%s\\\", ", fqdn, expiry
        printf "\\\"adminFQDN\\\": \\\"%s\\\", \\\"suid\\\": 32, \\\"targetIDs\\\": [\\\"%s\\\"], ", admin, target
        printf "\\\"keyValue\\\": \\\"%s\\\"}\"\n", $2
        print "write-out = \"\\n@@end %{response_code}\\n\""
    }' "$dir/keys.raw" >"$dir/curl.cfg"
t0=$(now_ms)
curl -K "$dir/curl.cfg" >"$dir/kr.out" 2>"$dir/curl.err"
rc=$?
t1=$(now_ms)
conns=$(grep ' POST /maf/keyRegistrations ' "$dir/mafd.log" | sed 's/^saef-mafd: [^ ]*:\([0-9]*\) .*/\1/' |
    sort -u | wc -l)
# Pair the i-th answer's relativeKeyID with the i-th key: "KEY_ID KC_HEX" lines.
awk -v fqdn="$FQDN" -v out="$dir/keys.txt" '
    FNR == NR { kc[NR] = $1; next }
    /"relativeKeyID"/ {
        s = $0
        sub(/.*"relativeKeyID": *"/, "", s)
        sub(/".*/, "", s)
        id = s
    }
    /^@@end / {
        n++
        if ($2 == 201 && id != "") { print id "@" fqdn " " kc[n] > out; ok++ } else bad++
        id = ""
    }
    END { printf "%d %d\n", ok, bad }' "$dir/keys.raw" "$dir/kr.out" >"$dir/kr.count"
read -r ok bad <"$dir/kr.count"
if [ "$rc" -ne 0 ] || [ "$ok" -ne "$need" ]; then
    echo "run-bench: key registration: curl exit $rc, $ok of $need registered ($bad refused)" >&2
    head -n 5 "$dir/curl.err" >&2
    exit 1
fi
ms=$((t1 - t0))
echo "cold keys: $need registered with one curl process in $ms ms" \
    "($(awk -v ms="$ms" -v n="$need" 'BEGIN { printf "%.2f", ms / n }') ms per key," \
    "$conns TLS connection(s)); not part of any handshake below" | tee -a "$dir/notes.txt"

# ---- PostgreSQL for the module-warm+db variants, on saef-mafd's CPU ----
DBNAME=saefbench
DBNODE='bench-db' # the node_id bench_handshake gives its instance with db_conninfo
dbconn=
if [ "${BENCH_DB:-1}" = 0 ]; then
    echo "== no database variants (BENCH_DB=0)"
elif ! pg_harness_bindir 2>/dev/null; then
    echo "== no database variants: initdb not found (apt-get install postgresql)"
else
    echo "== PostgreSQL (throwaway cluster${pin_mafd:+; pinned: $pin_mafd})"
    # The server and its backends inherit this shell's CPU affinity while it starts them.
    affinity=
    if [ -n "$pin_mafd" ]; then
        affinity=$(taskset -pc $$ | sed 's/.*: //')
        taskset -pc "$mafd_cpu" $$ >/dev/null
    fi
    if ! pg_harness_start || ! pg_harness_createdb "$DBNAME"; then
        echo "run-bench: cannot start PostgreSQL (BENCH_DB=0 runs without it)" >&2
        exit 1
    fi
    [ -z "$affinity" ] || taskset -pc "$affinity" $$ >/dev/null
    dbconn="host=$PGHOST port=$PGPORT user=$PGUSER dbname=$DBNAME"
    echo "PostgreSQL listening on $PGHOST, port $PGPORT; database $DBNAME"
fi

# ---- the benchmark ----
echo "== bench_handshake (pinned to CPU $bench_cpu; saef-mafd pid $pid)"
# shellcheck disable=SC2086 # the wrapper is a command line, e.g. "valgrind -q"
${BENCH_WRAPPER:-} "$bench" run --module "$module" --maf-uri "$B" --maf-connect "127.0.0.1:$port" --pki "$pki" \
    --cse-id "$IDB" --warm-key "$dir/warm.env" --keys "$dir/keys.txt" \
    --mafd-log "$dir/mafd.log" --mafd-pid "$pid" --cpu "$bench_cpu" \
    ${dbconn:+--db-conninfo "$dbconn"} --json "$builddir/bench-results.json" "$@" >"$dir/table.txt"
brc=$?

# ---- the rows the instance with db_conninfo wrote (its stop() wrote what it still held) ----
drc=0
if [ -n "$dbconn" ]; then
    sql() { "$PG_HARNESS_BINDIR/psql" -X -A -t -q -v ON_ERROR_STOP=1 -d "$DBNAME" -c "$1"; }
    if assoc=$(sql "SELECT count(*), sum(handshake_count) FROM saef.associations
                    WHERE node_id = '$DBNODE'") &&
        audit=$(sql "SELECT count(*) FROM saef.audit_events WHERE node_id = '$DBNODE'"); then
        written="${assoc%%|*} association row(s) with handshake_count ${assoc#*|} in all, $audit audit event(s)"
    else
        written="(the query failed)"
    fi
    # What the benchmark counted: "expected N association row(s) with handshake_count H in all,
    # A audit event(s)".
    expected=$(sed -n 's/.*: expected \(.* audit event(s)\)$/\1/p' "$dir/table.txt")
    if [ -n "$expected" ] && [ "$written" = "$expected" ]; then
        verdict="as expected"
    else
        verdict="expected $expected"
        drc=1
    fi
    echo "  rows of node $DBNODE in PostgreSQL after the benchmark: $written; $verdict" \
        >>"$dir/table.txt"
fi

rev=$(git -C "$srcdir" describe --always --dirty 2>/dev/null || echo unknown)
echo "source tree at run time: $srcdir at $rev" >>"$dir/notes.txt"
cat "$dir/notes.txt" "$dir/table.txt" >"$builddir/bench-results.txt"
cat "$dir/table.txt"
echo "source tree at run time: $srcdir at $rev"

kill -TERM "$pid"
wait "$pid"
mrc=$?
pid=
if [ $mrc -ne 0 ]; then
    echo "run-bench: saef-mafd exited with status $mrc" >&2
    tail -n 20 "$dir/mafd.log" >&2
fi
[ $brc -eq 0 ] && [ $mrc -eq 0 ] && [ $drc -eq 0 ] || exit 1
echo "results: $builddir/bench-results.txt, $builddir/bench-results.json"
