# Shared library of the Entity B end-to-end tests (tests/e2e/saef_*.sh); sourced, not run.
#
# It starts the reference MAF (saef-mafd) and the reference host (saef-csed, which loads
# maf_saef.so) on free loopback ports (port 0 and the "listening on" line they print),
# registers keys as Entity A with saef-keyreg, and drives stock clients (openssl s_client,
# gnutls-cli, coap-client-openssl) as Entity A.  Every assertion reads what a client printed,
# a daemon's log, or the MAF's GET {B}/stats counters.
#
# Conventions: fixtures and logs live in one mktemp directory ($E2E_DIR), removed at exit
# (E2E_KEEP=1 keeps it); every process started here is recorded and killed by the exit trap;
# e2e_finish prints "N passed, N failed" and sets the exit status.  A missing client tool is
# a skip (77), or a hard error (99) when CI=true.  E2E_VERBOSE=1 shows each failing client
# output in full instead of its first lines.
#
# POSIX sh: the harness runs the scripts with $(SHELL).
# shellcheck shell=sh
# shellcheck disable=SC2034 # variables set here for the scripts that source this file

set -u

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
top_builddir=$(cd "$top_builddir" && pwd)

E2E_NAME=${0##*/}
E2E_NAME=${E2E_NAME%.sh}
MAFD=$top_builddir/contrib/maf/saef-mafd
KEYREG=$top_builddir/contrib/maf/saef-keyreg
CSED=$top_builddir/contrib/cse-host/saef-csed
MODULE=$top_builddir/.libs/maf_saef.so

# The identities of the scenario: Entity B is the CSE, Entity A an AE registered with it.
IDB=//sp.example.test/in-cse
IDA=//sp.example.test/in-cse/Cdevice01
MAF_FQDN=maf.example.test
ADMIN_FQDN=admin.example.test

# gnutls-cli 3.7.9 crashes after a completed TLS 1.2 ECDHE-PSK handshake: plain PSK for 1.2.
GNUTLS12='NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+PSK:+SHA256'
GNUTLS13='NORMAL:-VERS-ALL:+VERS-TLS1.3:+PSK:+ECDHE-PSK:+DHE-PSK'

# Tenths of a second to wait for a log line the module writes from its own thread.
E2E_LOG_WAIT=${E2E_LOG_WAIT:-20}

e2e_passed=0
e2e_failed=0
e2e_pids=
e2e_daemons=
E2E_DIR=

# ---------------------------------------------------------------- set-up and tear-down

# e2e_require TOOL...: every client tool is installed, else skip (77) or, in CI, fail (99).
e2e_require() {
    for e2e_t in "$@"; do
        command -v "$e2e_t" >/dev/null 2>&1 && continue
        echo "$E2E_NAME: $e2e_t is not installed (Debian: openssl gnutls-bin libcoap3-bin curl)"
        [ "${CI:-}" = true ] && exit 99
        exit 77
    done
    for e2e_t in "$MAFD" "$KEYREG" "$CSED" "$MODULE"; do
        [ -e "$e2e_t" ] || { echo "$E2E_NAME: $e2e_t is not built"; exit 99; }
    done
}

e2e_cleanup() {
    for e2e_p in $e2e_pids; do
        kill -CONT "$e2e_p" 2>/dev/null # a MAF may have been stopped on purpose
        kill -TERM "$e2e_p" 2>/dev/null
    done
    for e2e_p in $e2e_pids; do
        e2e_i=0
        while kill -0 "$e2e_p" 2>/dev/null && [ $e2e_i -lt 30 ]; do
            sleep 0.1
            e2e_i=$((e2e_i + 1))
        done
        kill -KILL "$e2e_p" 2>/dev/null
        wait "$e2e_p" 2>/dev/null
    done
    e2e_pids=
    if [ -n "$E2E_DIR" ] && [ "${E2E_KEEP:-0}" != 1 ]; then
        rm -rf "$E2E_DIR"
    elif [ -n "$E2E_DIR" ]; then
        echo "# kept $E2E_DIR"
    fi
}

# e2e_init: the work directory, the exit trap and the test PKI (mkpki.sh) in $PKI.
e2e_init() {
    e2e_t0=$(date +%s)
    E2E_DIR=$(mktemp -d "${TMPDIR:-/tmp}/e2e-$E2E_NAME.XXXXXX") || exit 99
    trap e2e_cleanup EXIT
    trap 'exit 99' INT TERM HUP
    PKI=$E2E_DIR/pki
    sh "$top_srcdir/tests/fixtures/mkpki.sh" "$PKI" "$MAF_FQDN" "$IDB" "$IDA" >/dev/null ||
        { echo "$E2E_NAME: mkpki.sh failed"; exit 99; }
}

# e2e_track PID: kill PID at exit.
e2e_track() { e2e_pids="$e2e_pids $1"; }
e2e_untrack() {
    e2e_new=
    for e2e_p in $e2e_pids; do
        [ "$e2e_p" = "$1" ] || e2e_new="$e2e_new $e2e_p"
    done
    e2e_pids=$e2e_new
}

# e2e_finish: stop the daemons (each must exit 0 without a sanitizer report), print the
# summary line, exit 0 when nothing failed.
e2e_finish() {
    csed_stop
    for e2e_d in $e2e_daemons; do
        mafd_stop "$e2e_d"
    done
    echo "# $E2E_NAME: $(($(date +%s) - e2e_t0)) s"
    echo "$e2e_passed passed, $e2e_failed failed"
    [ $e2e_failed -eq 0 ] && exit 0
    exit 1
}

# ---------------------------------------------------------------- assertions

# E2E_TIMES=1 prefixes each result with the seconds since e2e_init.
e2e_when() {
    [ "${E2E_TIMES:-0}" = 1 ] || return 0
    printf '[%s] ' "$(($(date +%s) - e2e_t0))"
}

e2e_ok() {
    e2e_passed=$((e2e_passed + 1))
    echo "$(e2e_when)ok $((e2e_passed + e2e_failed)) - $1"
}

# e2e_not_ok DESCRIPTION [FILE...]: a failure, with the files that explain it.
e2e_not_ok() {
    e2e_failed=$((e2e_failed + 1))
    echo "$(e2e_when)FAIL $((e2e_passed + e2e_failed)) - $1"
    shift
    for e2e_f in "$@"; do
        [ -f "$e2e_f" ] || continue
        echo "#   --- ${e2e_f##*/}"
        # A log's end, a client's beginning; lines cut at 300 bytes.
        if [ "${E2E_VERBOSE:-0}" = 1 ]; then
            cat "$e2e_f"
        elif [ "${e2e_f%.log}" != "$e2e_f" ]; then
            tail -n 25 "$e2e_f"
        else
            head -n 25 "$e2e_f"
        fi | cut -c1-300 | awk '{ print "#   " $0 }'
    done
}

# has FILE DESCRIPTION STRING...: every fixed STRING occurs in FILE.
has() {
    e2e_f=$1 e2e_what=$2
    shift 2
    for e2e_s in "$@"; do
        if ! grep -aqF -- "$e2e_s" "$e2e_f" 2>/dev/null; then
            e2e_not_ok "$e2e_what (missing: $e2e_s)" "$e2e_f"
            return 1
        fi
    done
    e2e_ok "$e2e_what"
}

# lacks FILE DESCRIPTION STRING...: no fixed STRING occurs in FILE.
lacks() {
    e2e_f=$1 e2e_what=$2
    shift 2
    for e2e_s in "$@"; do
        if grep -aqF -- "$e2e_s" "$e2e_f" 2>/dev/null; then
            e2e_not_ok "$e2e_what (unexpected: $e2e_s)" "$e2e_f"
            return 1
        fi
    done
    e2e_ok "$e2e_what"
}

# has_re FILE DESCRIPTION ERE: a line of FILE matches the extended regular expression.
has_re() {
    if grep -aqE -- "$3" "$1" 2>/dev/null; then
        e2e_ok "$2"
    else
        e2e_not_ok "$2 (no line matches: $3)" "$1"
        return 1
    fi
}

# check_eq DESCRIPTION EXPECTED ACTUAL [FILE...]
check_eq() {
    if [ "$2" = "$3" ]; then
        e2e_ok "$1"
    else
        e2e_what=$1 e2e_exp=$2 e2e_act=$3
        shift 3
        e2e_not_ok "$e2e_what (expected \"$e2e_exp\", got \"$e2e_act\")" "$@"
        return 1
    fi
}

# ere_quote STRING: STRING as a literal inside an extended regular expression.
ere_quote() { printf '%s' "$1" | sed 's/[][\.*^$+?(){}|/]/\\&/g'; }

# count_re FILE ERE: number of lines matching.
count_re() {
    e2e_cnt=$(grep -acE -- "$2" "$1" 2>/dev/null)
    echo "${e2e_cnt:-0}"
}

# wait_re FILE ERE [N [TENTHS]]: wait until at least N (1) lines match, at most TENTHS
# tenths of a second (50).  The module logs from its own thread, so its lines come a little
# after the client has finished.
wait_re() {
    e2e_i=0
    while [ "$(count_re "$1" "$2")" -lt "${3:-1}" ]; do
        [ $e2e_i -lt "${4:-50}" ] || return 1
        sleep 0.1
        e2e_i=$((e2e_i + 1))
    done
    return 0
}

# ---------------------------------------------------------------- the reference MAF

# e2e_maf_cert FQDN: a server certificate for another MAF-FQDN from the test CA.
e2e_maf_cert() {
    [ "$1" = "$MAF_FQDN" ] && return 0
    [ -f "$PKI/maf-$1.crt" ] && return 0
    (
        cd "$PKI" && umask 077 &&
            openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "maf-$1.key" &&
            openssl req -new -key "maf-$1.key" -subj "/O=maf-saef test fixture/CN=$1" \
                -out "maf-$1.csr" &&
            printf 'subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth\n' "$1" >"maf-$1.ext" &&
            openssl x509 -req -in "maf-$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
                -sha256 -extfile "maf-$1.ext" -out "maf-$1.crt"
    ) >/dev/null 2>&1 || { echo "$E2E_NAME: cannot issue a certificate for $1"; exit 99; }
}

# getter: var PREFIX NAME -> value of ${PREFIX_NAME}
var() { eval "printf '%s' \"\${$1_$2:-}\""; }

# mafd_start NAME FQDN [saef-mafd options, e.g. --fault=stall]: a MAF in certificate mode on
# a free port; its log is $E2E_DIR/mafd-NAME.log; MAFD_EXTRA_INI is appended to its ini (e.g.
# [client.NAME] sections).  A second start of NAME (after mafd_kill)
# listens on the port NAME had, since Entity B's configuration points there.
mafd_start() {
    e2e_n=$1 e2e_fq=$2
    shift 2
    e2e_maf_cert "$e2e_fq"
    if [ "$e2e_fq" = "$MAF_FQDN" ]; then e2e_c=maf; else e2e_c=maf-$e2e_fq; fi
    e2e_port=$(var mafd_port "$e2e_n")
    cat >"$E2E_DIR/mafd-$e2e_n.ini" <<EOF
[maf]
fqdn = $e2e_fq
listen = 127.0.0.1:${e2e_port:-0}
base_path = /maf
cert = $PKI/$e2e_c.crt
key = $PKI/$e2e_c.key
ca = $PKI/ca.crt
max_key_lifetime = 1h
purge_interval = 1s
${MAFD_EXTRA_INI:-}
EOF
    e2e_log=$E2E_DIR/mafd-$e2e_n.log
    e2e_before=$(count_re "$e2e_log" '^saef-mafd: listening on ')
    "$MAFD" -c "$E2E_DIR/mafd-$e2e_n.ini" "$@" 2>>"$e2e_log" &
    e2e_p=$!
    e2e_track $e2e_p
    if ! wait_re "$e2e_log" '^saef-mafd: listening on ' $((e2e_before + 1)) 100; then
        echo "$E2E_NAME: saef-mafd $e2e_n did not start"
        cat "$e2e_log"
        exit 99
    fi
    e2e_port=$(sed -n 's/^saef-mafd: listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$e2e_log" |
        tail -n 1)
    eval "mafd_port_$e2e_n=\$e2e_port mafd_pid_$e2e_n=\$e2e_p mafd_fqdn_$e2e_n=\$e2e_fq"
    case " $e2e_daemons " in *" $e2e_n "*) ;; *) e2e_daemons="$e2e_n $e2e_daemons" ;; esac
    echo "# saef-mafd $e2e_n ($e2e_fq${1:+ $*}) on 127.0.0.1:$e2e_port"
}

# mafd_kill NAME: the MAF goes down hard (SIGKILL).
mafd_kill() {
    e2e_p=$(var mafd_pid "$1")
    kill -KILL "$e2e_p" 2>/dev/null
    wait "$e2e_p" 2>/dev/null
    e2e_untrack "$e2e_p"
    eval "mafd_pid_$1="
}

# mafd_stop NAME: SIGTERM; asserts a clean exit.
mafd_stop() {
    e2e_p=$(var mafd_pid "$1")
    [ -n "$e2e_p" ] || return 0
    kill -TERM "$e2e_p" 2>/dev/null
    wait "$e2e_p"
    e2e_rc=$?
    e2e_untrack "$e2e_p"
    eval "mafd_pid_$1="
    if [ $e2e_rc -ne 0 ] || grep -qE 'Sanitizer|runtime error:' "$E2E_DIR/mafd-$1.log"; then
        e2e_not_ok "saef-mafd $1 exits cleanly on SIGTERM (status $e2e_rc)" "$E2E_DIR/mafd-$1.log"
    fi
}

# mafd_retrievals NAME: the MAF's keyRetrieval request counter (GET {B}/stats), or "?".
mafd_retrievals() {
    e2e_port=$(var mafd_port "$1")
    e2e_fq=$(var mafd_fqdn "$1")
    curl -sS --max-time 5 --cacert "$PKI/ca.crt" --cert "$PKI/entity-b.crt" \
        --key "$PKI/entity-b.key" --resolve "$e2e_fq:$e2e_port:127.0.0.1" \
        "https://$e2e_fq:$e2e_port/maf/stats" 2>/dev/null | tr -d ' \n\r' |
        sed -n 's/.*"keyRetrieval":{"requests":\([0-9]*\).*/\1/p' | grep . || echo '?'
}

# ---------------------------------------------------------------- Entity A: key registration

# keyreg MAFNAME [saef-keyreg key options]: registers Entity A (client registration) and one
# key for Entity B at MAF MAFNAME.  Defaults: --generate, --lifetime 600, --target $IDB.  Sets
# KEY_ID, REL_KEY_ID, KC_HEX, EXPIRES; returns 1 (after a FAIL line) when saef-keyreg fails.
e2e_nkeys=0
keyreg() {
    e2e_n=$1
    shift
    e2e_nkeys=$((e2e_nkeys + 1))
    e2e_src=--generate e2e_life="--lifetime 600" e2e_tgt="--target $IDB"
    for e2e_a in "$@"; do
        case $e2e_a in
        --key-hex | --exporter | --generate) e2e_src= ;;
        --lifetime) e2e_life= ;;
        --target) e2e_tgt= ;;
        esac
    done
    e2e_port=$(var mafd_port "$e2e_n")
    e2e_fq=$(var mafd_fqdn "$e2e_n")
    e2e_out=$E2E_DIR/key-$e2e_nkeys.env
    KEY_ID='' REL_KEY_ID='' KC_HEX='' EXPIRES=''
    # shellcheck disable=SC2086 # option lists
    if ! "$KEYREG" key --maf "https://$e2e_fq:$e2e_port/maf" --connect-to "127.0.0.1:$e2e_port" \
        --ca "$PKI/ca.crt" --cert "$PKI/entity-a.crt" --key "$PKI/entity-a.key" --origin "$IDA" \
        --admin-fqdn "$ADMIN_FQDN" --register --format=env $e2e_src $e2e_life $e2e_tgt "$@" \
        >"$e2e_out" 2>"$e2e_out.err"; then
        e2e_not_ok "saef-keyreg registers a key at $e2e_n ($*)" "$e2e_out.err"
        return 1
    fi
    # shellcheck disable=SC1090
    . "$e2e_out"
    [ -n "$KEY_ID" ] && [ -n "$KC_HEX" ]
}

# ---------------------------------------------------------------- the reference host

# csed_config [module option lines for [saef]...]: start a fresh configuration.  CSED_NAME
# (default csed) names the files of one saef-csed, so that a test can run several.
csed_config() {
    CSED_INI=$E2E_DIR/${CSED_NAME:-csed}.ini
    cat >"$CSED_INI" <<EOF
[cse]
cse_id = $IDB
resource_name = cse-in
http_listen = 127.0.0.1:0
coap_listen = 127.0.0.1:0
module = $MODULE
log_level = info
handshake_timeout = ${CSED_HANDSHAKE_TIMEOUT:-10}

[saef]
cse_id = $IDB
EOF
    for e2e_l in "$@"; do printf '%s\n' "$e2e_l" >>"$CSED_INI"; done
}

# csed_add_maf LABEL MAFNAME [option lines...]: a [saef.maf.LABEL] section for the running MAF
# MAFNAME (certificate mode, connect_to its loopback port).
csed_add_maf() {
    e2e_port=$(var mafd_port "$2")
    e2e_fq=$(var mafd_fqdn "$2")
    cat >>"$CSED_INI" <<EOF

[saef.maf.$1]
fqdn = $e2e_fq
key_retrieval_uri = https://$e2e_fq:$e2e_port/maf/keyRetrieval
connect_to = 127.0.0.1:$e2e_port
ca_file = $PKI/ca.crt
client_cert = $PKI/entity-b.crt
client_key = $PKI/entity-b.key
EOF
    shift 2
    for e2e_l in "$@"; do printf '%s\n' "$e2e_l" >>"$CSED_INI"; done
}

# csed_start: run saef-csed; sets CSED_HTTP and CSED_COAP (ports) and CSED_LOG.
# CSED_WRAPPER runs it under a tool that execs it in the same process (its PID is the one
# signalled), e.g. CSED_WRAPPER="valgrind -q --log-file=FILE"; CSED_START_WAIT is how long
# (tenths of a second, 150) to wait for its "listening" lines, more for a slow wrapper.
csed_start() {
    CSED_LOG=$E2E_DIR/${CSED_NAME:-csed}.log
    e2e_out=$E2E_DIR/${CSED_NAME:-csed}.out
    # shellcheck disable=SC2086 # the wrapper is a command line
    ${CSED_WRAPPER:-} "$CSED" -c "$CSED_INI" >"$e2e_out" 2>"$CSED_LOG" &
    CSED_PID=$!
    e2e_track $CSED_PID
    if ! wait_re "$e2e_out" '^saef-csed: coap listening on ' 1 \
        "${CSED_START_WAIT:-150}"; then
        echo "$E2E_NAME: saef-csed did not start"
        cat "$e2e_out" "$CSED_LOG"
        exit 99
    fi
    CSED_HTTP=$(sed -n 's/^saef-csed: http listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' \
        "$e2e_out")
    CSED_COAP=$(sed -n 's/^saef-csed: coap listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' \
        "$e2e_out")
    echo "# saef-csed: http 127.0.0.1:$CSED_HTTP, coap 127.0.0.1:$CSED_COAP"
}

csed_stop() {
    [ -n "${CSED_PID:-}" ] || return 0
    kill -TERM "$CSED_PID" 2>/dev/null
    wait "$CSED_PID"
    e2e_rc=$?
    e2e_untrack "$CSED_PID"
    CSED_PID=
    if [ $e2e_rc -ne 0 ] || grep -qE 'Sanitizer|runtime error:' "$CSED_LOG"; then
        e2e_not_ok "saef-csed exits cleanly on SIGTERM (status $e2e_rc)" "$CSED_LOG"
    fi
}

# ---------------------------------------------------------------- Entity A: stock clients

# http_get FROM [RI]: a CSEBase RETRIEVE, the connection closed after the answer.
http_get() {
    printf 'GET /~/in-cse/cse-in HTTP/1.1\r\nHost: 127.0.0.1\r\nX-M2M-Origin: %s\r\n' "$1"
    printf 'X-M2M-RI: %s\r\nX-M2M-RVI: 3\r\nAccept: application/json\r\nConnection: close\r\n\r\n' \
        "${2:-rq-e2e}"
}

# tls OUT FROM IDENTITY KEYHEX [s_client options, e.g. -tls1_3]: openssl s_client sends the
# RETRIEVE and prints what comes back until the server closes; stdout and stderr in OUT.
tls() {
    e2e_o=$1 e2e_from=$2 e2e_id=$3 e2e_k=$4
    shift 4
    http_get "$e2e_from" | timeout 20 openssl s_client -connect "127.0.0.1:$CSED_HTTP" \
        -psk_identity "$e2e_id" -psk "$e2e_k" -quiet "$@" >"$e2e_o" 2>&1
}

# tls_verbose: as tls, but with s_client's session report ("New," / "Reused,").
tls_verbose() {
    e2e_o=$1 e2e_from=$2 e2e_id=$3 e2e_k=$4
    shift 4
    http_get "$e2e_from" | timeout 20 openssl s_client -connect "127.0.0.1:$CSED_HTTP" \
        -psk_identity "$e2e_id" -psk "$e2e_k" -ign_eof "$@" >"$e2e_o" 2>&1
}

# gnutls OUT FROM IDENTITY KEYHEX PRIORITY: gnutls-cli; its standard input stays open until it
# has printed the end of the exchange (it would close the connection at end of input).
gnutls() {
    e2e_o=$1
    : >"$e2e_o"
    # shellcheck disable=SC2094 # the writer only reads what gnutls-cli has written so far
    {
        http_get "$2"
        e2e_i=0
        while [ $e2e_i -lt 100 ] &&
            ! grep -aqE 'Peer has closed|\*\*\* Fatal error|Received alert' "$e2e_o"; do
            sleep 0.1
            e2e_i=$((e2e_i + 1))
        done
    } | timeout 20 gnutls-cli --no-ca-verification -p "$CSED_HTTP" 127.0.0.1 \
        --pskusername "$3" --pskkey "$4" --priority "$5" >"$e2e_o" 2>&1
}

# coap OUT FROM IDENTITY ASCIIKEY: coap-client-openssl RETRIEVEs the CSEBase, From as option
# 256.  libcoap 4.3.1 discards an answer carrying oneM2M options after printing it in its
# debug trace (-v 7), which is what the checks read; -B 1 ends the wait it then starts.
coap() {
    timeout 20 coap-client-openssl -B 1 -v 7 -u "$3" -k "$4" -O "256,$2" \
        "coaps://127.0.0.1:$CSED_COAP/~/in-cse/cse-in" >"$1" 2>&1
}

# octal N: the byte N for printf.
octal() { printf '\\%03o' "$1"; }

# coap_get_msg FROM: a confirmable CoAP GET of /~/in-cse/cse-in (Uri-Path ~, in-cse, cse-in)
# with From as option 256, as bytes on stdout.
coap_get_msg() {
    e2e_l=${#1}
    # shellcheck disable=SC2059 # the format is the bytes
    {
        printf '\100\001\042\063'                  # ver 1, CON, TKL 0; GET; Message ID
        printf '\261~\006in-cse\006cse-in'          # Uri-Path (11): delta 11, then delta 0
        if [ "$e2e_l" -lt 13 ]; then                 # option 256: delta 245 = 13 + 232
            printf "$(octal $((0xd0 + e2e_l)))\350"
        else
            printf "\335\350$(octal $((e2e_l - 13)))"
        fi
        printf '%s' "$1"
    }
}

# coap_decode FILE: the first CoAP message in FILE as "code=C.DD rsc=N payload=...".
coap_decode() {
    od -An -v -tu1 "$1" | awk '
    { for (i = 1; i <= NF; i++) b[n++] = $i }
    END {
        if (n < 4) { print "code=none rsc=none payload="; exit }
        printf "code=%d.%02d", int(b[1] / 32), b[1] % 32
        p = 4 + b[0] % 16; num = 0; rsc = "none"
        while (p < n && b[p] != 255) {
            d = int(b[p] / 16); l = b[p] % 16; p++
            if (d == 13) { d = b[p] + 13; p++ } else if (d == 14) { d = b[p] * 256 + b[p + 1] + 269; p += 2 }
            if (l == 13) { l = b[p] + 13; p++ } else if (l == 14) { l = b[p] * 256 + b[p + 1] + 269; p += 2 }
            num += d
            if (num == 307) { rsc = 0; for (j = 0; j < l; j++) rsc = rsc * 256 + b[p + j] }
            p += l
        }
        printf " rsc=%s payload=", rsc
        for (p++; p < n; p++) printf "%c", b[p]
        printf "\n"
    }'
}

# dtls OUT FROM IDENTITY KEYHEX: openssl s_client -dtls1_2 sends coap_get_msg to the CoAP port;
# OUT gets the decoded answer (coap_decode), OUT.raw the datagram, OUT.err s_client's stderr.
dtls() {
    e2e_o=$1
    rm -f "$e2e_o.fifo"
    mkfifo "$e2e_o.fifo"
    openssl s_client -dtls1_2 -connect "127.0.0.1:$CSED_COAP" -psk_identity "$3" -psk "$4" \
        -quiet <"$e2e_o.fifo" >"$e2e_o.raw" 2>"$e2e_o.err" &
    e2e_p=$!
    e2e_track $e2e_p
    exec 4>"$e2e_o.fifo"
    coap_get_msg "$2" >&4
    # The answer is one datagram ending with the JSON payload; a failed handshake ends s_client.
    e2e_i=0
    while [ $e2e_i -lt 50 ] && kill -0 $e2e_p 2>/dev/null && ! grep -aq '}$' "$e2e_o.raw"; do
        sleep 0.1
        e2e_i=$((e2e_i + 1))
    done
    exec 4>&-
    kill -TERM $e2e_p 2>/dev/null
    wait $e2e_p 2>/dev/null
    e2e_untrack $e2e_p
    coap_decode "$e2e_o.raw" >"$e2e_o"
    cat "$e2e_o.err" >>"$e2e_o"
}

# tcp_established PORT: established TCP connections whose local port is PORT (IPv4 loopback
# here), read from /proc/net/tcp so that no extra tool is needed.
tcp_established() {
    awk -v p=":$(printf '%04X' "$1")" '$4 == "01" && substr($2, length($2) - 4) == p { n++ }
        END { print n + 0 }' /proc/net/tcp
}

# alert_of FILE: the TLS alert s_client reported, e.g. "sslv3 alert bad record mac (20)".
alert_of() {
    sed -n 's/.*:SSL routines:[^:]*:\([^:]*alert[^:]*\):.*SSL alert number \([0-9]*\).*/\1 (\2)/p' \
        "$1" 2>/dev/null | head -n 1
}

# ---------------------------------------------------------------- composite checks

# expect_cb OUT WHAT: the HTTP answer is 2000 with the CSEBase.
expect_cb() {
    has "$1" "$2: 2000 and the CSEBase" "HTTP/1.1 200 " "X-M2M-RSC: 2000" '{"m2m:cb":{' \
        '"ty":5' '"csi":"/in-cse"'
}

# expect_4106 OUT WHAT: a From that is not the bound AE-ID gets 4106 and no CSEBase.
expect_4106() {
    if grep -aqF 'X-M2M-RSC: 4106' "$1" && grep -aqF 'HTTP/1.1 403 ' "$1" &&
        ! grep -aqF '"m2m:cb"' "$1"; then
        e2e_ok "$2: wrong From gets 403 / 4106"
    else
        e2e_not_ok "$2: wrong From gets 403 / 4106" "$1"
    fi
}

# expect_refused OUT WHAT REFALERT: the handshake failed exactly like a wrong key: no answer,
# and the same alert text as the wrong-key reference REFALERT.
expect_refused() {
    e2e_al=$(alert_of "$1")
    if grep -aqE 'X-M2M-RSC|m2m:cb' "$1"; then
        e2e_not_ok "$2: handshake must fail, but a request was answered" "$1"
    elif [ -z "$3" ] || [ "$e2e_al" != "$3" ]; then
        e2e_not_ok "$2: same alert as a wrong key (expected \"$3\", got \"$e2e_al\")" "$1"
    else
        e2e_ok "$2: fails like a wrong key ($e2e_al)"
    fi
}

# expect_module_refusal WHAT KEYID REASON-ERE: the module logged "handshake refused" for KEYID
# (a fixed string; "-" for an identity it could not parse) with a reason matching REASON-ERE.
expect_module_refusal() {
    e2e_re="maf_saef [a-z]+: handshake refused: key_id=$(ere_quote "$2") .*reason=.*($3)"
    wait_re "$CSED_LOG" "$e2e_re" 1 "$E2E_LOG_WAIT"
    if grep -aqE -- "$e2e_re" "$CSED_LOG"; then
        e2e_ok "$1: the module's log names the reason"
    else
        grep -aF -- "$2" "$CSED_LOG" >"$E2E_DIR/why.log"
        e2e_not_ok "$1: the module's log names the reason (no line matches: $e2e_re)" \
            "$E2E_DIR/why.log"
        return 1
    fi
}
