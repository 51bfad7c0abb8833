#!/bin/sh
# Entity B end to end, concurrency:
#  1. 50 openssl s_client processes, released together, open handshakes with one Key
#     Identifier that Entity B has never seen, while the MAF is held (SIGSTOP) until all of
#     them are connected: all 50 succeed and the MAF sees exactly one key retrieval (single
#     flight).
#  2. A key fetch that hangs (saef-mafd --fault=stall, request_timeout_ms 12 s) does not hold up
#     other peers whose keys are cached: while the stalled handshake is pending, N cached-key
#     handshakes all complete.  The assertion counts completions while the stalled one is
#     still pending; it does not measure time.  The stalled one fails later, logged as a timeout.
# shellcheck source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/e2e/lib.sh"

e2e_require openssl curl timeout mkfifo
e2e_init

CROWD=${E2E_CROWD:-50}
CACHED=${E2E_CACHED:-16}

mafd_start m1 "$MAF_FQDN"
mafd_start stall stall.example.test --fault=stall
CSED_HANDSHAKE_TIMEOUT=20
csed_config
csed_add_maf m1 m1 "connect_timeout_ms = 15000" "request_timeout_ms = 20000"
csed_add_maf stall stall "request_timeout_ms = 12000"
csed_start
O=$E2E_DIR/out

# ---- 1. a crowd on one new Key Identifier
# The MAF is stopped (SIGSTOP) while the crowd connects, so that the handshakes really wait
# on the one retrieval in flight; it continues once every client's connection is open.
keyreg m1 || e2e_finish
N_ID=$KEY_ID N_HEX=$KC_HEX
r0=$(mafd_retrievals m1)
kill -STOP "$(var mafd_pid m1)"
gate=$E2E_DIR/gate
mkfifo "$gate"
: >"$E2E_DIR/ready"
# The parent holds the fifo open for reading and writing, so that a child may open it before
# or after the release; each child takes one line.
exec 5<>"$gate"
pids=
i=0
while [ $i -lt "$CROWD" ]; do
    i=$((i + 1))
    v=2
    [ $((i % 2)) -eq 0 ] && v=3
    (
        exec 5>&-
        echo "$i" >>"$E2E_DIR/ready"
        read -r _go <"$gate"
        tls "$O.crowd$i" "$IDA" "$N_ID" "$N_HEX" "-tls1_$v"
    ) &
    pids="$pids $!"
    e2e_track $!
done
i=0
while [ "$(wc -l <"$E2E_DIR/ready")" -lt "$CROWD" ] && [ $i -lt 300 ]; do
    sleep 0.1
    i=$((i + 1))
done
i=0
while [ $i -lt "$CROWD" ]; do
    echo go >&5
    i=$((i + 1))
done
i=0
while [ "$(tcp_established "$CSED_HTTP")" -lt "$CROWD" ] && [ $i -lt 300 ]; do
    sleep 0.1
    i=$((i + 1))
done
waiting=$(tcp_established "$CSED_HTTP")
sleep 0.5 # the TLS 1.2 clients' second flight, which carries the identity
kill -CONT "$(var mafd_pid m1)"
echo "# $waiting connections were open when the MAF continued"
for p in $pids; do
    wait "$p"
    e2e_untrack "$p"
done
exec 5>&-
ok=0
for f in "$O".crowd*; do
    if grep -aqF 'X-M2M-RSC: 2000' "$f" && grep -aqF '"m2m:cb":{' "$f"; then
        ok=$((ok + 1))
    else
        bad=$f
    fi
done
check_eq "$CROWD concurrent handshakes (TLS 1.2 and 1.3) on a new Key Identifier all get 2000 and the CSEBase" \
    "$CROWD" "$ok" "${bad:-}"
check_eq "... and the MAF saw exactly one key retrieval (GET {B}/stats)" "$((r0 + 1))" \
    "$(mafd_retrievals m1)" "$E2E_DIR/mafd-m1.log"
wait_re "$CSED_LOG" "handshake accepted: key_id=$N_ID " "$CROWD" 50
check_eq "... the module logged $CROWD accepted handshakes" "$CROWD" \
    "$(count_re "$CSED_LOG" "maf_saef info: handshake accepted: key_id=$N_ID ")" "$CSED_LOG"
check_eq "... and one retrieval" 1 "$(count_re "$CSED_LOG" "MAF key retrieval for $N_ID")" \
    "$CSED_LOG"
check_eq "... the host bound all $CROWD connections to Entity A's AE-ID" "$CROWD" \
    "$(count_re "$CSED_LOG" "bound to AE-ID $(ere_quote "$IDA") \(Key Identifier $N_ID\)")"

# ---- 2. a stalled fetch for one peer, cached keys for the others
S_ID=0123456789ABCDEF0123456789ABCDEF@stall.example.test
s0=$(mafd_retrievals stall)
tls "$O.stalled" "$IDA" "$S_ID" "$N_HEX" -tls1_2 &
stalled=$!
e2e_track $stalled
i=0
while [ "$(mafd_retrievals stall)" != $((s0 + 1)) ] && [ $i -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
done
check_eq "the stalled peer's key retrieval reached the stalling MAF" "$((s0 + 1))" \
    "$(mafd_retrievals stall)"
if kill -0 $stalled 2>/dev/null; then pending_before=yes; else pending_before=no; fi
pids=
i=0
while [ $i -lt "$CACHED" ]; do
    i=$((i + 1))
    v=2
    [ $((i % 2)) -eq 0 ] && v=3
    tls "$O.cached$i" "$IDA" "$N_ID" "$N_HEX" "-tls1_$v" &
    pids="$pids $!"
    e2e_track $!
done
for p in $pids; do
    wait "$p"
    e2e_untrack "$p"
done
if kill -0 $stalled 2>/dev/null; then pending_after=yes; else pending_after=no; fi
done_ok=0
for f in "$O".cached*; do
    grep -aqF 'X-M2M-RSC: 2000' "$f" && grep -aqF '"m2m:cb":{' "$f" && done_ok=$((done_ok + 1))
done
check_eq "the stalled handshake was pending before and after the cached-key handshakes" \
    "yes yes" "$pending_before $pending_after" "$O.stalled" "$CSED_LOG"
if [ "$pending_before $pending_after" = "yes yes" ]; then
    check_eq "cached-key handshakes completed (2000) while the stalled one was pending" \
        "$CACHED" "$done_ok"
else
    e2e_not_ok "cached-key handshakes completed while the stalled one was pending ($done_ok of $CACHED completed, but it was not pending throughout)"
fi
check_eq "... and they caused no key retrieval" "$((r0 + 1))" "$(mafd_retrievals m1)"
# It ends when the module's request times out (12 s), as a failed handshake.
i=0
while kill -0 $stalled 2>/dev/null && [ $i -lt 300 ]; do
    sleep 0.1
    i=$((i + 1))
done
wait $stalled 2>/dev/null
e2e_untrack $stalled
if grep -aqE 'X-M2M-RSC|m2m:cb' "$O.stalled" || [ -z "$(alert_of "$O.stalled")" ]; then
    e2e_not_ok "the stalled handshake failed later with an alert" "$O.stalled"
else
    e2e_ok "the stalled handshake failed later ($(alert_of "$O.stalled"))"
fi
expect_module_refusal "the stalled handshake" "$S_ID" "did not answer in time"

e2e_finish
