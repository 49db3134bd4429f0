#!/usr/bin/env bash
# Load benchmark: kratom-bot against matrix-nio and (optionally) matrix-sdk echo bots, on one
# throwaway Synapse on 127.0.0.1, under the same load (scripts/loadgen.py).
#
#   scripts/bench-load.sh BOT_BIN [N_ROOMS] [M_USERS] [RATE] [SECONDS]
#
#   BOT_BIN   the kratom-bot binary (e.g. target/release/kratom-bot; say which build you report)
#   N_ROOMS   group rooms (default 4); each has the bot and the same M_USERS users (default 2, min 2)
#   RATE      questions per second over all rooms (default 2); SECONDS of load (default 20)
#
# Runs in turn: (a) kratom-bot (`login`, then `run`), (b) benches/nio_echo_bot.py, (c) with
# KRATOM_SDK_ECHO_BIN=path, a matrix-sdk echo bot run as `BIN --config F` (same config format as
# kratom-bot; it logs in with KRATOM_BOT_PASSWORD). Each bot gets its own account and new rooms.
# Prints a table: p50/p95/p99 question-to-reply latency as seen by the asker's sync, replies
# missing after the grace period, and the bot process's peak RSS.
#
# Rooms are unencrypted only: matrix-nio is installed without e2e extras (which would need
# vodozemac), so neither the load generator nor the nio baseline can use encrypted rooms.
#
# Environment:
#   KRATOM_BENCH_VENV     venv for matrix-nio (default: .venv-bench at the repo root; created on
#                         first use with `pip install matrix-nio`)
#   KRATOM_BENCH_GRACE    seconds to wait for late replies after the last question (default 15)
#   KRATOM_BENCH_KEEP=1   keep the temporary folder (Synapse, configs, bot logs, JSON results)
#   KRATOM_BENCH_ONLY     space-separated subset of: kratom nio sdk
#   KRATOM_BENCH_MENTION=1  address kratom-bot by a mention pill instead of "!kratom "
#   KRATOM_SYNAPSE_VENV   see scripts/synapse.sh
set -euo pipefail

[ $# -ge 1 ] || { sed -n '2,26p' "$0" >&2; exit 2; }
BOT_BIN="$(realpath "$1")"
N_ROOMS="${2:-4}"
M_USERS="${3:-2}"
RATE="${4:-2}"
SECONDS_LOAD="${5:-20}"
[ -x "$BOT_BIN" ] || { echo "bench-load: $BOT_BIN is not executable" >&2; exit 2; }

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SYNAPSE="$REPO/scripts/synapse.sh"
VENV="${KRATOM_BENCH_VENV:-$REPO/.venv-bench}"
GRACE="${KRATOM_BENCH_GRACE:-15}"
ONLY="${KRATOM_BENCH_ONLY:-kratom nio sdk}"

# matrix-nio in its own venv (no e2e extras).
if ! "$VENV/bin/python" -c 'import nio' 2>/dev/null; then
    echo "bench-load: installing matrix-nio into $VENV" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check matrix-nio
fi
PY="$VENV/bin/python"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/kratom-bench.XXXXXX")"
HS_DIR="$WORK/synapse"
BOT_PID=""
LOADGEN_PID=""

stop_bot() {
    if [ -n "$BOT_PID" ] && kill -0 "$BOT_PID" 2>/dev/null; then
        kill "$BOT_PID" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$BOT_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$BOT_PID" 2>/dev/null || true
        wait "$BOT_PID" 2>/dev/null || true
    fi
    BOT_PID=""
}
cleanup() {
    if [ -n "$LOADGEN_PID" ]; then kill "$LOADGEN_PID" 2>/dev/null || true; fi
    stop_bot
    "$SYNAPSE" stop "$HS_DIR" || true
    if [ "${KRATOM_BENCH_KEEP:-0}" = 1 ]; then
        echo "bench-load: kept $WORK" >&2
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
HS="http://127.0.0.1:$PORT"
"$SYNAPSE" install
"$SYNAPSE" start "$HS_DIR" "$PORT"

# One account per bot, so each run starts with a bot that is in no room.
PASSWORD="$(python3 -c 'import secrets; print(secrets.token_urlsafe(12))')"
register() { "$SYNAPSE" register "$HS_DIR" "$PORT" "$1" "$PASSWORD"; }

# A kratom-bot-format config; rate limits lifted so the load is answered, not throttled.
write_config() {
    local dir="$1" user="$2"
    mkdir -p "$dir"
    cat >"$dir/config.toml" <<TOML
[matrix]
homeserver_url = "$HS"
user_id = "$user"
device_name = "bench"

[storage]
data_dir = "data"

[rate_limits]
per_user = 1000000
per_room = 1000000

[logging]
filter = "info"
TOML
}

# run_load LABEL BOT_USER PREFIX [--mention]: load against the bot in $BOT_PID, result in
# $WORK/LABEL.json.
run_load() {
    local label="$1" bot="$2" prefix="$3"
    shift 3
    echo "bench-load: --- $label ($bot, pid $BOT_PID) ---" >&2
    # In the background and waited for, so that an INT/TERM runs the cleanup at once.
    "$PY" "$REPO/scripts/loadgen.py" --homeserver "$HS" --synapse-dir "$HS_DIR" \
        --bot "$bot" --rooms "$N_ROOMS" --users "$M_USERS" --rate "$RATE" \
        --duration "$SECONDS_LOAD" --grace "$GRACE" --prefix "$prefix" \
        --bot-pid "$BOT_PID" --label "$label" --user-prefix "load-$label-" \
        --json "$WORK/$label.json" "$@" &
    LOADGEN_PID=$!
    local rc=0
    wait "$LOADGEN_PID" || rc=$?
    LOADGEN_PID=""
    if [ "$rc" != 0 ]; then
        echo "bench-load: $label run failed; last lines of its log:" >&2
        tail -n 20 "$WORK/$label.log" >&2 || true
    fi
    stop_bot
}

RESULTS=()

if [[ " $ONLY " == *" kratom "* ]]; then
    BOT_ID="$(register bench-kratom)"
    write_config "$WORK/kratom" "$BOT_ID"
    KRATOM_BOT_PASSWORD="$PASSWORD" "$BOT_BIN" login --config "$WORK/kratom/config.toml" \
        >"$WORK/kratom.log" 2>&1 || { tail -n 20 "$WORK/kratom.log" >&2; exit 1; }
    "$BOT_BIN" run --config "$WORK/kratom/config.toml" >>"$WORK/kratom.log" 2>&1 &
    BOT_PID=$!
    if [ "${KRATOM_BENCH_MENTION:-0}" = 1 ]; then
        run_load kratom "$BOT_ID" "" --mention
    else
        run_load kratom "$BOT_ID" "!kratom "
    fi
    RESULTS+=(kratom)
fi

if [[ " $ONLY " == *" nio "* ]]; then
    BOT_ID="$(register bench-nio-echo)"
    KRATOM_BOT_PASSWORD="$PASSWORD" "$PY" "$REPO/benches/nio_echo_bot.py" "$HS" "$BOT_ID" \
        >"$WORK/nio-echo.log" 2>&1 &
    BOT_PID=$!
    run_load nio-echo "$BOT_ID" ""
    RESULTS+=(nio-echo)
fi

if [[ " $ONLY " == *" sdk "* ]] && [ -n "${KRATOM_SDK_ECHO_BIN:-}" ]; then
    SDK_BIN="$(realpath "$KRATOM_SDK_ECHO_BIN")"
    BOT_ID="$(register bench-sdk-echo)"
    write_config "$WORK/sdk-echo" "$BOT_ID"
    KRATOM_BOT_PASSWORD="$PASSWORD" "$SDK_BIN" --config "$WORK/sdk-echo/config.toml" \
        >"$WORK/sdk-echo.log" 2>&1 &
    BOT_PID=$!
    run_load sdk-echo "$BOT_ID" ""
    RESULTS+=(sdk-echo)
fi

echo
echo "Load: $N_ROOMS rooms x $M_USERS users, $RATE questions/s for $SECONDS_LOAD s, unencrypted rooms, Synapse on loopback"
echo "kratom-bot binary: $BOT_BIN"
python3 - "$WORK" "${RESULTS[@]}" <<'PYEOF'
import json, os, sys
work, labels = sys.argv[1], sys.argv[2:]
ms = lambda v: "-" if v is None else f"{v:.0f}"
mb = lambda v: "-" if v is None else f"{v / 1024:.1f}"
print(f"{'bot':<10} {'sent':>5} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'missing':>8} "
      f"{'max RSS MB':>11} {'| srv p50':>9} {'srv p95':>8} {'RSS end MB':>11}")
for label in labels:
    path = os.path.join(work, f"{label}.json")
    if not os.path.exists(path):
        print(f"{label:<10} failed (see its log)")
        continue
    r = json.load(open(path))
    print(f"{label:<10} {r['sent']:>5} {ms(r['p50_ms']):>7} {ms(r['p95_ms']):>7} {ms(r['p99_ms']):>7} "
          f"{r['missing']:>8} {mb(r['rss_max_kib']):>11} {ms(r['server_p50_ms']):>9} "
          f"{ms(r['server_p95_ms']):>8} {mb(r['rss_end_of_load_kib']):>11}")
print("p50-p99: question sent -> reply seen by the asker's sync. srv: the reply's origin_server_ts "
      "minus the question's (the bot's share). max RSS includes start-up; RSS end: at the end of the load.")
PYEOF
