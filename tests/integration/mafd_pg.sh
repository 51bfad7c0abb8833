#!/bin/sh
# saef-mafd with [maf] store = postgresql (docs/reference-maf.md) against a throwaway cluster:
# a key registered before a restart of the daemon is retrieved after it (same keyValue), a
# non-target still gets 4103 and an expired registration 4004; the rows are in the schema; a
# database error answers 5000 and logs the SQLSTATE; a password in db_conninfo and a database
# that is down at start make the daemon refuse to start.  The cluster is removed on exit.
#
# MAFD_WRAPPER runs the daemon under a tool, as in mafd_smoke.sh.
set -u

here=$(cd "$(dirname "$0")" && pwd)
srcdir=${top_srcdir:-$(cd "$here/../.." && pwd)}
builddir=${top_builddir:-.}
mafd=$builddir/contrib/maf/saef-mafd

. "$srcdir/tests/integration/mafd_lib.sh"
mafd_require curl openssl -- "$mafd"

. "$srcdir/tests/integration/pg_harness.sh"
if ! pg_harness_bindir; then
    [ "${CI:-}" = true ] && exit 99
    exit 77
fi
psql_bin=$PG_HARNESS_BINDIR/psql

dir=$(mktemp -d "${TMPDIR:-/tmp}/mafd_pg.XXXXXX") || exit 99
pid=
cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    fi
    pg_harness_destroy
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 99' INT TERM HUP

pg_harness_start || { echo "mafd_pg: cannot start PostgreSQL"; exit 99; }

fails=0
passes=0
pass() { passes=$((passes + 1)); echo "ok   - $1"; }
fail() { fails=$((fails + 1)); echo "FAIL - $1"; }
check() { # LABEL CONDITION...
    label=$1
    shift
    if "$@"; then pass "$label"; else fail "$label"; fi
}
same() { [ -n "$1" ] && [ "$1" = "$2" ]; }
sql() { "$psql_bin" -X -A -t -q -v ON_ERROR_STOP=1 -c "$1"; }

IDB=//sp.example.test/in-cse
IDA=//sp.example.test/in-cse/Cdevice01
pki=$dir/pki
sh "$srcdir/tests/fixtures/mkpki.sh" "$pki" maf.example.test "$IDB" "$IDA" >/dev/null || exit 99

# ini FILE [EXTRA [maf] LINES]: the configuration, with the PostgreSQL store.
ini() {
    cat >"$1" <<EOF
[maf]
fqdn = maf.example.test
listen = 127.0.0.1:0
base_path = /maf
cert = $pki/maf.crt
key = $pki/maf.key
ca = $pki/ca.crt
purge_interval = 1s
store = postgresql
db_conninfo = host=$PGHOST port=$PGPORT user=postgres dbname=postgres
${2:-}
EOF
}
ini "$dir/mafd.ini"

# start and stop: tests/integration/mafd_lib.sh.

# mc WHO ORIGIN METHOD PATH [BODY]: request as client certificate WHO; answer in hdr and body.
n=0
mc() {
    who=$1 origin=$2 method=$3 path=$4
    shift 4
    n=$((n + 1))
    [ $# -gt 0 ] && set -- -H 'Content-Type: application/json' -d "$1"
    rm -f "$dir/hdr" "$dir/body"
    curl -sS -o "$dir/body" -D "$dir/hdr" --cacert "$pki/ca.crt" --cert "$pki/$who.crt" \
        --key "$pki/$who.key" --resolve "maf.example.test:$port:127.0.0.1" -X "$method" \
        -H 'Expect:' -H 'X-M2M-RVI: 3' -H "X-M2M-RI: pg-$n" -H "X-M2M-Origin: $origin" "$@" \
        "https://maf.example.test:$port/maf$path" 2>"$dir/curl.err"
}
ma() { mc entity-a "$IDA" "$@"; }
mb() { mc entity-b "$IDB" "$@"; }
member() { sed -n "s/.*\"$1\": \"\([^\"]*\)\".*/\1/p" "$dir/body" | head -n 1; }

expect() { # LABEL HTTP RSC: check the last response.
    got_http=$(sed -n '1s/^HTTP\/1\.1 \([0-9]*\) .*/\1/p' "$dir/hdr" 2>/dev/null | tr -d '\r')
    got_rsc=$(tr -d '\r' <"$dir/hdr" 2>/dev/null | sed -n 's/^X-M2M-RSC: *//Ip' | head -n 1)
    if [ "$got_http" = "$2" ] && [ "$got_rsc" = "$3" ]; then
        pass "$1 ($2/$3)"
    else
        fail "$1: expected $2/$3, got ${got_http:-none}/${got_rsc:-none} $(cat "$dir/body" \
            "$dir/curl.err" 2>/dev/null | tr -d '\n')"
    fi
}

retrieve() { mb POST /keyRetrieval "{\"relativeKeyID\":\"$1\"}"; }

# --- before the restart: registrations as Entity A (certificate mode) ---
start
check "start-up names the schema" grep -q 'state in PostgreSQL schema saef_maf' "$dir/log"
ma POST /clientRegistrations \
    '{"mafFQDN":"maf.example.test","expirationTime":"20991231T000000","adminFQDN":"sp.example.test"}'
expect "client registration" 201 2001
openssl rand -out "$dir/key.bin" 32 || exit 99
key_b64=$(openssl base64 -A -in "$dir/key.bin")
key_hex=$(od -An -tx1 "$dir/key.bin" | tr -d ' \n')
kreg() { # EXPIRATION: a key registration for Entity B with the key above
    printf '{"mafFQDN":"maf.example.test","expirationTime":"%s","labels":["saef","a\\"b"],"adminFQDN":"sp.example.test","suid":32,"targetIDs":["%s"],"keyValue":"%s"}' \
        "$1" "$IDB" "$key_b64"
}
ma POST /keyRegistrations "$(kreg 20991231T000000)"
expect "key registration" 201 2001
rel=$(member relativeKeyID)
soon=$(date -u -d '+3 seconds' +%Y%m%dT%H%M%S)
ma POST /keyRegistrations "$(kreg "$soon")"
expect "short-lived key registration" 201 2001
srel=$(member relativeKeyID)
retrieve "$rel"
expect "retrieval before the restart" 200 2000

stop
check "SIGTERM: exit status 0" [ $? -eq 0 ]

# --- after the restart: the state came back from the database ---
start
retrieve "$rel"
expect "retrieval as the target after the restart" 200 2000
check "same keyValue after the restart" same "$(member keyValue)" "$key_b64"
check "labels survive the restart" grep -q '"a\\"b"' "$dir/body"
ma POST /keyRetrieval "{\"relativeKeyID\":\"$rel\"}"
expect "retrieval as a non-target after the restart" 403 4103
sleep 3
retrieve "$srel"
expect "retrieval of an expired registration after the restart" 404 4004
# The purge may have run in either daemon (under a slow wrapper the first one lives longer).
i=0
while [ "$(sql "SELECT count(*) FROM saef_maf.key_regs WHERE id = decode('$srel', 'hex')")" != 0 ] &&
    [ $i -lt 30 ]; do
    sleep 0.1
    i=$((i + 1))
done

# --- the rows, seen with psql ---
tables=$(sql "SELECT string_agg(table_name, ',' ORDER BY table_name) FROM information_schema.tables
    WHERE table_schema = 'saef_maf'")
check "tables in schema saef_maf" same "$tables" "client_regs,issued_ids,key_regs"
check "one active client registration row" same "$(sql 'SELECT count(*) FROM saef_maf.client_regs')" 1
check "key stored as 32 bytes of bytea" same \
    "$(sql "SELECT encode(key_value, 'hex') FROM saef_maf.key_regs WHERE id = decode('$rel', 'hex')")" \
    "$key_hex"
check "expired row deleted by the purge" same \
    "$(sql "SELECT count(*) FROM saef_maf.key_regs WHERE id = decode('$srel', 'hex')")" 0
check "issued IDs kept after the purge" same \
    "$(sql "SELECT count(*) FROM saef_maf.issued_ids WHERE id = decode('$srel', 'hex')")" 1

# --- a database error: 5000, SQLSTATE in the log, recovery once the table is back ---
sql 'ALTER TABLE saef_maf.key_regs RENAME TO key_regs_away' || exit 99
retrieve "$rel"
expect "retrieval while the table is missing" 500 5000
check "log names the SQLSTATE" grep -q 'database: key registration lookup failed: SQLSTATE 42P01' \
    "$dir/log"
sql 'ALTER TABLE saef_maf.key_regs_away RENAME TO key_regs' || exit 99
retrieve "$rel"
expect "retrieval once the table is back" 200 2000
pg_harness_kill || exit 99
retrieve "$rel"
expect "retrieval while the server is down" 500 5000
pg_harness_restart || exit 99
retrieve "$rel"
expect "retrieval after the server came back (reconnected)" 200 2000
check "no key value in the log" eval "! grep -q -F -e '$key_b64' -e '$key_hex' '$dir/log'"
stop
check "SIGTERM after reconnecting: exit status 0" [ $? -eq 0 ]

# --- refusals at start ---
# refuse LABEL PATTERN: the daemon exits 1 at once with a message matching PATTERN.
refuse() {
    timeout 60 ${MAFD_WRAPPER:-} "$mafd" -c "$dir/mafd.ini" >"$dir/log" 2>&1
    rc=$?
    if [ $rc -eq 1 ] && grep -q "$2" "$dir/log" && ! grep -q 'listening on' "$dir/log"; then
        pass "$1"
    else
        fail "$1: exit status $rc, $(tr '\n' ' ' <"$dir/log")"
    fi
}
ini "$dir/mafd.ini" 'db_schema = Bad-Name'
refuse "db_schema not a plain name" 'db_schema: "Bad-Name" is not'
sed -i 's/^db_conninfo = .*/& password=hunter2secret/; /^db_schema/d' "$dir/mafd.ini"
refuse "password in db_conninfo" 'db_conninfo: contains a password'
check "password not echoed" eval "! grep -q hunter2secret '$dir/log'"
ini "$dir/mafd.ini" 'db_schema = mafd_other'
pg_harness_stop || exit 99
refuse "database down at start" "cannot connect to db_conninfo \"host=$PGHOST port=$PGPORT"
pg_harness_restart || exit 99
start
check "other schema at start" grep -q 'state in PostgreSQL schema mafd_other' "$dir/log"
retrieve "$rel"
expect "other schema: no registrations" 404 4004
stop
check "other schema: exit status 0" [ $? -eq 0 ]

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
