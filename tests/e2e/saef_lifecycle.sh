#!/bin/sh
# Entity B end to end, the lifecycle of live connections and of paused handshakes.
#
#   expiry_action = close: the module's housekeeping thread (every second) asks the host, through
#     the host API's close_connection hook, to close every live connection whose Kc lifetime is
#     over.  Idle connections on a short-lived Kc (TLS 1.2, TLS 1.3, DTLS) are closed by the
#     server after the expiry, not before; an idle connection on a long-lived Kc stays open.
#   expiry_action = keep: an idle connection outlives its Kc (and is still served); only new
#     handshakes with that Kc fail.
#   handshake_timeout (1 s) while the handshake is paused in the module (SSL_MODE_ASYNC, a MAF
#     that never answers, request_timeout_ms far above): the host shuts the socket, calls the
#     module's handshake_abort, resumes the job once and frees the SSL; the client sees a failed
#     handshake, the host goes on serving, and exits cleanly.  saef-csed runs under valgrind
#     there (a paused SSL freed by the host must not leak), unless the build is sanitized
#     (AddressSanitizer finds leaks itself and cannot run under valgrind).
#
# The idle clients are openssl s_client with -ign_eof, their input a fifo this script keeps
# open, so only the server can end them; s_client prints "closed" when the server's close_notify
# arrives.  DTLS uses openssl s_client -dtls1_2 as well: coap-client-openssl sends its request
# and leaves, it cannot hold an idle session open.
#
# E2E_KC_LIFETIME (8) is the short Kc lifetime in seconds; E2E_VALGRIND=0 runs the abort case
# without valgrind, SAEF_SANITIZED=1 (or a build linked with the sanitizers, detected) likewise.
# shellcheck source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/e2e/lib.sh"

e2e_require openssl curl timeout date mkfifo
e2e_init

LIFE=${E2E_KC_LIFETIME:-8}
O=$E2E_DIR/out
STALL_FQDN=stall.example.test

mafd_start m1 "$MAF_FQDN"
mafd_start stall "$STALL_FQDN" --fault=stall

# epoch_of M2M-TIMESTAMP
epoch_of() {
    date -u -d "$(echo "$1" | sed 's/^\(....\)\(..\)\(..\)T\(..\)\(..\)\(..\).*/\1-\2-\3 \4:\5:\6/')" +%s
}
# log_epoch LINE: the seconds since the Epoch of a saef-csed log line (UTC timestamp first).
log_epoch() {
    date -u -d "$(echo "$1" | sed 's/^\([0-9-]*\)T\([0-9:]*\).*/\1 \2/')" +%s
}
# wait_until EPOCH: sleep until the clock reached EPOCH (at most 60 s).
wait_until() {
    wu_i=0
    while [ "$(date +%s)" -lt "$1" ] && [ $wu_i -lt 600 ]; do
        sleep 0.1
        wu_i=$((wu_i + 1))
    done
}
# alive PID: PID runs (a child that ended but was not reaped yet is a zombie, not alive).
alive() {
    kill -0 "$1" 2>/dev/null && ! grep -q '^[0-9]* (.*) Z ' "/proc/$1/stat" 2>/dev/null
}

# keepalive_get FROM RI: a CSEBase RETRIEVE that leaves the connection open (HTTP/1.1).
# shellcheck disable=SC2317 # called through idle_send
keepalive_get() {
    printf 'GET /~/in-cse/cse-in HTTP/1.1\r\nHost: 127.0.0.1\r\nX-M2M-Origin: %s\r\n' "$1"
    printf 'X-M2M-RI: %s\r\nX-M2M-RVI: 3\r\nAccept: application/json\r\n\r\n' "$2"
}

# idle_open NAME FD s_client-options...: openssl s_client in the background, reading the fifo
# $O.NAME.fifo that this shell keeps open for writing on FD (5 to 8); output in $O.NAME, pid in
# $idle_pid_NAME.  The other fifos' write ends are not inherited, so that each client's input
# belongs to this shell alone.
idle_open() {
    io_n=$1 io_fd=$2
    shift 2
    rm -f "$O.$io_n.fifo"
    mkfifo "$O.$io_n.fifo" || exit 99
    openssl s_client -ign_eof "$@" <"$O.$io_n.fifo" >"$O.$io_n" 2>&1 5>&- 6>&- 7>&- 8>&- &
    io_p=$!
    e2e_track $io_p
    eval "idle_pid_$io_n=\$io_p"
    eval "exec $io_fd>\"\$O.\$io_n.fifo\""
}
# idle_send FD BYTES-COMMAND...: what the command prints goes to the client on FD; a client
# that is gone makes the write fail in a subshell, not kill this one.
idle_send() {
    is_fd=$1
    shift
    ("$@" >&"$is_fd") 2>/dev/null
}
idle_close() { eval "exec $1>&-"; }

# host_port tls|dtls ERE: the client port of the last host line "tls 127.0.0.1:PORT: <ERE>".
host_port() {
    grep -aE -- "saef-csed [a-z]+: $1 127\.0\.0\.1:[0-9]+: $2" "$CSED_LOG" | tail -n 1 |
        sed 's/.*tls 127\.0\.0\.1:\([0-9]*\): .*/\1/'
}

# gone PID SECONDS: wait at most SECONDS for the child PID to end; 0 when it did, with its exit
# status in gone_status.
gone() {
    g_i=0
    gone_status=
    while alive "$1"; do
        [ $g_i -lt $(($2 * 10)) ] || return 1
        sleep 0.1
        g_i=$((g_i + 1))
    done
    wait "$1" 2>/dev/null
    gone_status=$?
    e2e_untrack "$1"
    return 0
}

# ---- Entity A: a long-lived key (600 s) for the control connection and the reference failure;
# each phase registers its short-lived key when it is about to use it.
keyreg m1 || e2e_finish
L_ID=$KEY_ID L_HEX=$KC_HEX

# ================================================================ expiry_action = close
# One saef-csed per phase, each with its own files (CSED_NAME).
CSED_NAME=csed-close
csed_config "expiry_action = close"
csed_add_maf m1 m1
csed_start

# The reference failure: a wrong key, TLS 1.2.
tls "$O.wk12" "$IDA" "$L_ID" "$(echo "$L_HEX" | tr '0-9a-f' '1-9a-f0')" -tls1_2
REF12=$(alert_of "$O.wk12")

keyreg m1 --lifetime "$LIFE" || e2e_finish
C_ID=$KEY_ID C_HEX=$KC_HEX C_EXP=$(epoch_of "$EXPIRES")

idle_open c12 5 -connect "127.0.0.1:$CSED_HTTP" -tls1_2 -psk_identity "$C_ID" -psk "$C_HEX"
idle_send 5 keepalive_get "$IDA" rq-c12
idle_open c13 6 -connect "127.0.0.1:$CSED_HTTP" -tls1_3 -psk_identity "$C_ID" -psk "$C_HEX"
idle_send 6 keepalive_get "$IDA" rq-c13
idle_open cd 7 -dtls1_2 -connect "127.0.0.1:$CSED_COAP" -psk_identity "$C_ID" -psk "$C_HEX"
idle_send 7 coap_get_msg "$IDA"
idle_open cl 8 -connect "127.0.0.1:$CSED_HTTP" -tls1_2 -psk_identity "$L_ID" -psk "$L_HEX"
idle_send 8 keepalive_get "$IDA" rq-cl-1
wait_re "$O.c12" 'X-M2M-RSC: 2000' 1 100
wait_re "$O.c13" 'X-M2M-RSC: 2000' 1 100
wait_re "$O.cd" '"m2m:cb":\{' 1 100
wait_re "$O.cl" 'X-M2M-RSC: 2000' 1 100
has "$O.c12" "close: TLS 1.2 on a ${LIFE} s Kc: handshake and a request on the kept-open connection" \
    "Protocol  : TLSv1.2" "X-M2M-RSC: 2000" "X-M2M-RI: rq-c12" '"m2m:cb":{'
has "$O.c13" "close: TLS 1.3 on the same Kc: handshake and a request" \
    "TLSv1.3" "X-M2M-RSC: 2000" "X-M2M-RI: rq-c13" '"m2m:cb":{'
has "$O.cd" "close: DTLS 1.2 (CoAP) on the same Kc: handshake and a request answered" \
    "Protocol  : DTLSv1.2" '"m2m:cb":{' '"csi":"/in-cse"'
has "$O.cl" "close: TLS 1.2 on a 600 s Kc (control): handshake and a request" \
    "X-M2M-RSC: 2000" "X-M2M-RI: rq-cl-1"
P12=$(host_port tls "handshake ok: TLSv1\.2 .*psk_identity $(ere_quote "$C_ID")$")
P13=$(host_port tls "handshake ok: TLSv1\.3 ")
PD=$(host_port dtls "handshake ok, psk_identity $(ere_quote "$C_ID")$")
PL=$(host_port tls "handshake ok: TLSv1\.2 .*psk_identity $(ere_quote "$L_ID")$")
check_eq "close: the host logged the four handshakes (client ports known)" yes \
    "$([ -n "$P12" ] && [ -n "$P13" ] && [ -n "$PD" ] && [ -n "$PL" ] && echo yes ||
        echo "no: '$P12' '$P13' '$PD' '$PL'")" "$CSED_LOG"

# Just before the expiry nothing is closed yet.
wait_until $((C_EXP - 1))
now=$(date +%s)
before="$(alive "$(var idle_pid c12)" && echo 12)$(alive "$(var idle_pid c13)" && echo 13)"
before="$before$(alive "$(var idle_pid cd)" && echo d)$(alive "$(var idle_pid cl)" && echo l)"
before="$before $(tcp_established "$CSED_HTTP") $(count_re "$CSED_LOG" 'closed on the module|Kc lifetime over')"
if [ "$now" -lt "$C_EXP" ]; then
    check_eq "close: 1 s before the Kc expiry the four clients are connected, nothing closed" \
        "1213dl 3 0" "$before" "$CSED_LOG"
else
    e2e_not_ok "close: the check before the Kc expiry ran $((now - C_EXP)) s too late (slow machine)"
fi

# After the expiry the server ends the three short-lived ones (the housekeeper runs every
# second; generous bound for a loaded machine).
wait_until "$C_EXP"
for n in c12 c13 cd; do
    p=$(var idle_pid "$n")
    if gone "$p" 15; then
        e2e_ok "close: $n ended after the Kc expiry"
    else
        e2e_not_ok "close: $n ended after the Kc expiry (still connected 15 s later)" "$O.$n"
    fi
done
has_re "$O.c12" "close: TLS 1.2 client got the server's close_notify (\"closed\")" 'closed$'
has_re "$O.c13" "close: TLS 1.3 client got the server's close_notify" 'closed$'
has_re "$O.cd" "close: DTLS client got the server's close_notify" 'closed$'
wait_re "$CSED_LOG" "closed on the module's request" 3 50
has "$CSED_LOG" "close: the host closed exactly those (its own close lines)" \
    "saef-csed notice: tls 127.0.0.1:$P12: closed on the module's request (Kc lifetime over)" \
    "saef-csed notice: tls 127.0.0.1:$P13: closed on the module's request (Kc lifetime over)" \
    "saef-csed notice: dtls 127.0.0.1:$PD: closed on the module's request (Kc lifetime over)"
check_eq "close: the module asked for two TLS connections and one CoAP session" "2 1" \
    "$(count_re "$CSED_LOG" 'maf_saef notice: Kc lifetime over: asking the host to close a TLS connection$') $(count_re "$CSED_LOG" 'maf_saef notice: Kc lifetime over: asking the host to close a CoAP session$')" \
    "$CSED_LOG"
first=$(grep -a 'Kc lifetime over: asking the host' "$CSED_LOG" | head -n 1)
at=${first:+$(log_epoch "$first")}
check_eq "close: ... not before the Kc expiry ($C_EXP)" yes \
    "$([ "${at:-0}" -ge "$C_EXP" ] && echo yes || echo "no: at ${at:-no such line}")" "$CSED_LOG"
check_eq "close: only the control connection is still established (server side)" 1 \
    "$(tcp_established "$CSED_HTTP")"
idle_send 8 keepalive_get "$IDA" rq-cl-2
wait_re "$O.cl" 'X-M2M-RSC: 2000' 2 100
if alive "$(var idle_pid cl)" && [ "$(count_re "$O.cl" 'X-M2M-RSC: 2000')" = 2 ] &&
    grep -aqF 'X-M2M-RI: rq-cl-2' "$O.cl"; then
    e2e_ok "close: the control connection (Kc alive) stays open and answers a second request"
else
    e2e_not_ok "close: the control connection (Kc alive) stays open and answers a second request" \
        "$O.cl"
fi
lacks "$CSED_LOG" "close: ... and the host was never asked to close it" "127.0.0.1:$PL: closed"
tls "$O.c-late" "$IDA" "$C_ID" "$C_HEX" -tls1_2
expect_refused "$O.c-late" "close: a new handshake with the expired Kc" "$REF12"
expect_module_refusal "close: a new handshake with the expired Kc" "$C_ID" \
    "Kc lifetime over|expir|MAF refused"
for fd in 5 6 7 8; do idle_close $fd; done
kill -TERM "$(var idle_pid cl)" 2>/dev/null
gone "$(var idle_pid cl)" 5
csed_stop

# ================================================================ expiry_action = keep
CSED_NAME=csed-keep
csed_config "expiry_action = keep"
csed_add_maf m1 m1
csed_start
keyreg m1 --lifetime "$LIFE" || e2e_finish
K_ID=$KEY_ID K_HEX=$KC_HEX K_EXP=$(epoch_of "$EXPIRES")
idle_open k12 5 -connect "127.0.0.1:$CSED_HTTP" -tls1_2 -psk_identity "$K_ID" -psk "$K_HEX"
idle_send 5 keepalive_get "$IDA" rq-k12-1
wait_re "$O.k12" 'X-M2M-RSC: 2000' 1 100
has "$O.k12" "keep: TLS 1.2 on a ${LIFE} s Kc: handshake and a request" \
    "Protocol  : TLSv1.2" "X-M2M-RSC: 2000" "X-M2M-RI: rq-k12-1"
PK=$(host_port tls "handshake ok: TLSv1\.2 .*psk_identity $(ere_quote "$K_ID")$")
wait_until $((K_EXP + 1))
# A new handshake fails: the Kc lifetime is over for the module too.
tls "$O.k-late" "$IDA" "$K_ID" "$K_HEX" -tls1_2
expect_refused "$O.k-late" "keep: a new handshake with the expired Kc" "$REF12"
expect_module_refusal "keep: a new handshake with the expired Kc" "$K_ID" \
    "Kc lifetime over|expir|MAF refused"
# Two more housekeeping rounds after that refusal: the live connection is left alone.
sleep 2.5
check_eq "keep: after the Kc expiry the idle connection is still open (client and server side)" \
    "yes 1" "$(alive "$(var idle_pid k12)" && echo yes || echo no) $(tcp_established "$CSED_HTTP")" \
    "$O.k12"
lacks "$O.k12" "keep: ... the client saw no close" "closed" "errno="
lacks "$CSED_LOG" "keep: ... the module did not ask to close it, the host did not close it" \
    "Kc lifetime over: asking the host" "127.0.0.1:$PK: closed"
idle_send 5 keepalive_get "$IDA" rq-k12-2
wait_re "$O.k12" 'X-M2M-RSC: 2000' 2 100
has "$O.k12" "keep: ... and still serves it (second request, after the expiry)" \
    "X-M2M-RI: rq-k12-2"
idle_close 5
kill -TERM "$(var idle_pid k12)" 2>/dev/null
gone "$(var idle_pid k12)" 5
csed_stop

# ================================================================ abort of a paused handshake
# The stalling MAF never answers a key retrieval; request_timeout_ms (30 s) is far above
# handshake_timeout (1 s), so the host's timer fires while the SSL is paused in the module.
sanitized=${SAEF_SANITIZED:-}
if [ -z "$sanitized" ]; then
    if grep -aqE '__asan_init|__ubsan_handle_' "$CSED" "$MODULE" 2>/dev/null; then
        sanitized=1
    else
        sanitized=0
    fi
fi
VG_LOG=$E2E_DIR/valgrind.log
use_vg=0
if [ "$sanitized" != 0 ]; then
    echo "# sanitized build: the abort case runs without valgrind (the sanitizers watch it)"
elif [ "${E2E_VALGRIND:-1}" = 0 ]; then
    echo "# E2E_VALGRIND=0: the abort case runs without valgrind"
elif ! command -v valgrind >/dev/null 2>&1; then
    echo "$E2E_NAME: valgrind is not installed (Debian: valgrind)"
    [ "${CI:-}" = true ] && exit 99
    echo "# the abort case runs without valgrind"
else
    use_vg=1
fi
CSED_NAME=csed-abort
CSED_HANDSHAKE_TIMEOUT=1 csed_config
csed_add_maf m1 m1
csed_add_maf stall stall "request_timeout_ms = 30000"
if [ $use_vg = 1 ]; then
    CSED_WRAPPER="valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 --log-file=$VG_LOG" \
        CSED_START_WAIT=900 csed_start
else
    csed_start
fi
keyreg m1 || e2e_finish
G_ID=$KEY_ID G_HEX=$KC_HEX
# Warm the good key: under valgrind even its first MAF retrieval may outlast the 1 s handshake
# timeout (then that handshake is aborted too, and the retrieval still fills the cache).
tls "$O.warm" "$IDA" "$G_ID" "$G_HEX" -tls1_2
wait_re "$CSED_LOG" "MAF key retrieval for $(ere_quote "$G_ID"): key received" 1 300
# The host's timer line for a paused handshake, and for one that waited for the socket.
timeouts_re='saef-csed notice: tls 127\.0\.0\.1:[0-9]+: handshake timeout after 1 s while the module waits for a key'
plain_re='saef-csed notice: tls 127\.0\.0\.1:[0-9]+: handshake timeout after 1 s$'
# The module sends one request at a time to a MAF (security/maf_http.c): the later identities'
# retrievals wait behind the stalled first one, so only the first reaches the MAF here.  All
# these handshakes are paused in the module when the timer fires.
stall_re='POST /maf/keyRetrieval origin=.* rsc=- \(fault stall: no answer\)'
n=0
for v in 2 3; do
    # An attempt whose timer fires before the handshake reached the module (a loaded machine
    # under valgrind) is inconclusive: it is made again, at most twice, with a new identity.
    try=0
    while :; do
        n=$((n + 1))
        try=$((try + 1))
        A_ID=$(printf '%031d%d' 0 "$n" | tr 0 A)@$STALL_FQDN
        t0=$(count_re "$CSED_LOG" "$timeouts_re")
        p0=$(count_re "$CSED_LOG" "$plain_re")
        tls_verbose "$O.ab$v" "$IDA" "$A_ID" "$G_HEX" "-tls1_$v"
        rc=$?
        i=0
        while [ $i -lt 100 ] && [ "$(count_re "$CSED_LOG" "$timeouts_re")" -le "$t0" ] &&
            [ "$(count_re "$CSED_LOG" "$plain_re")" -le "$p0" ]; do
            sleep 0.1
            i=$((i + 1))
        done
        [ "$(count_re "$CSED_LOG" "$timeouts_re")" -le "$t0" ] || break
        [ "$(count_re "$CSED_LOG" "$plain_re")" -gt "$p0" ] || break
        [ $try -lt 3 ] || break
        echo "# abort TLS 1.$v: the timer fired before the handshake paused; again"
    done
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && ! grep -aqE 'X-M2M-RSC|m2m:cb' "$O.ab$v" &&
        grep -aqE 'unexpected eof while reading|errno=[0-9]+' "$O.ab$v"; then
        e2e_ok "abort TLS 1.$v: the client's handshake failed, the server ended the connection"
    else
        e2e_not_ok "abort TLS 1.$v: the client's handshake failed, the server ended the connection (s_client status $rc)" \
            "$O.ab$v"
    fi
    PA=$(grep -aE -- "$timeouts_re" "$CSED_LOG" | tail -n +$((t0 + 1)) | head -n 1 |
        sed 's/.* tls 127\.0\.0\.1:\([0-9]*\): .*/\1/')
    if [ -n "$PA" ]; then
        e2e_ok "abort TLS 1.$v: the host's timer fired while the handshake was paused (port $PA)"
        wait_re "$CSED_LOG" "tls 127\.0\.0\.1:$PA: paused handshake resumed after its timeout: freed" 1 100
        has "$CSED_LOG" "abort TLS 1.$v: the host resumed the aborted job once and freed the SSL" \
            "saef-csed info: tls 127.0.0.1:$PA: paused handshake resumed after its timeout: freed"
    else
        e2e_not_ok "abort TLS 1.$v: the host's timer fired while the handshake was paused (no line matches: $timeouts_re)" \
            "$CSED_LOG"
    fi
    expect_module_refusal "abort TLS 1.$v" "$A_ID" "handshake aborted by the host while the key was fetched"
    # The peer's address is taken before the wait: the host shut the socket down meanwhile.
    has_re "$CSED_LOG" "abort TLS 1.$v: the refusal names the peer's address" \
        "handshake refused: key_id=$(ere_quote "$A_ID") peer=127\\.0\\.0\\.1:$PA "
    [ $v = 2 ] || continue
    if wait_re "$E2E_DIR/mafd-stall.log" "$stall_re" 1 100; then
        e2e_ok "abort TLS 1.$v: the retrieval reached the stalling MAF, which did not answer"
    else
        e2e_not_ok "abort TLS 1.$v: the retrieval reached the stalling MAF, which did not answer" \
            "$E2E_DIR/mafd-stall.log"
    fi
done
lacks "$CSED_LOG" "abort: no paused SSL was freed with its job (no leak warning)" \
    "did not resume a paused handshake in time" "cannot wait for the handshake"
check_eq "abort: saef-csed is still running" yes "$(alive "$CSED_PID" && echo yes || echo no)" \
    "$CSED_LOG"
# A cached key, while the stalled retrievals are still pending.  A handshake that still runs
# into the 1 s timeout (a loaded machine under valgrind) is tried again, at most twice.
i=0
while :; do
    i=$((i + 1))
    h0=$(count_re "$CSED_LOG" 'handshake timeout after 1 s')
    tls "$O.good" "$IDA" "$G_ID" "$G_HEX" -tls1_2
    grep -aqF 'X-M2M-RSC: 2000' "$O.good" && break
    [ $i -lt 3 ] || break
    [ "$(count_re "$CSED_LOG" 'handshake timeout after 1 s')" -gt "$h0" ] || break
done
expect_cb "$O.good" "abort: then a handshake with a good (cached) key"
tls "$O.good13" "$IDA" "$G_ID" "$G_HEX" -tls1_3
if ! grep -aqF 'X-M2M-RSC: 2000' "$O.good13"; then
    tls "$O.good13" "$IDA" "$G_ID" "$G_HEX" -tls1_3
fi
expect_cb "$O.good13" "abort: and one in TLS 1.3"

# SIGTERM with the stalled retrievals still in flight (request_timeout_ms is 30 s): a clean
# exit, status 0.  Bounded wait: under valgrind the exit itself takes a while.
kill -TERM "$CSED_PID"
if gone "$CSED_PID" 90; then
    check_eq "abort: saef-csed exits with status 0 on SIGTERM$([ $use_vg = 1 ] &&
        echo ' (valgrind: 99 for an error or a definite leak)')" 0 "$gone_status" "$CSED_LOG" \
        "$VG_LOG"
    has "$CSED_LOG" "abort: ... after stopping the module and logging its counters" \
        "maf_saef stopped" "counters: tls handshakes" "saef-csed notice: stopped"
else
    e2e_not_ok "abort: saef-csed exits on SIGTERM (still running 90 s later)" "$CSED_LOG"
fi
CSED_PID= # stopped (or killed by the exit trap)
lacks "$CSED_LOG" "abort: no sanitizer report" "Sanitizer" "runtime error:"
tmo=$(sed -n 's/.*counters: tls handshakes ok=[0-9]* failed=[0-9]* timeout=\([0-9]*\) .*/\1/p' \
    "$CSED_LOG" | tail -n 1)
check_eq "abort: the exit counters count the timed-out handshakes (at least 2)" yes \
    "$([ "${tmo:-0}" -ge 2 ] && echo yes || echo "no: timeout=${tmo:-?}")" "$CSED_LOG"
if [ $use_vg = 1 ]; then
    has "$VG_LOG" "valgrind: no errors" "ERROR SUMMARY: 0 errors"
    has_re "$VG_LOG" "valgrind: no definite leak" \
        'definitely lost: 0 bytes in 0 blocks|All heap blocks were freed'
fi

e2e_finish
