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
#   KRATOM_BENCH_RESTART=1  kratom only: after its load run (bot in every room, store warm),
#                         restart it 3 times (SIGTERM and wait; start) and time the first answer
#                         after each start: one load user asks one question in an existing room
#                         just after the exec (loadgen.py --probe). Reports the seconds from the
#                         start to the reply (asker's sync) and to the "library loaded" log line,
#                         and the peak RSS up to the answer. Logs: WORK/restart-I/kratom.log.
#   KRATOM_SYNAPSE_VENV   see scripts/synapse.sh
set -euo pipefail

[ $# -ge 1 ] || { sed -n '2,32p' "$0" >&2; exit 2; }
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
        if kill -9 "$BOT_PID" 2>/dev/null; then
            echo "bench-load: pid $BOT_PID still ran 5 s after SIGTERM; killed" >&2
        fi
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

# restart_probe I ROOM_ID PROBE_ARGS...: start kratom-bot (stopped, store warm) and have load
# user 0 ask one question in ROOM_ID just after the exec; results in $WORK/restart-I/.
restart_probe() {
    local i="$1" room="$2" dir="$WORK/restart-$1"
    shift 2
    mkdir -p "$dir"
    echo "bench-load: --- restart $i (question in $room) ---" >&2
    # The asker logs in and syncs first, so the question goes out right after the exec.
    "$PY" "$REPO/scripts/loadgen.py" --probe "$room" --homeserver "$HS" --synapse-dir "$HS_DIR" \
        --bot "$BOT_ID" --user-prefix "load-kratom-" --label "restart $i" \
        --ready-file "$dir/ready" --start-file "$dir/start" --json "$dir/probe.json" "$@" &
    LOADGEN_PID=$!
    while [ ! -e "$dir/ready" ]; do
        if ! kill -0 "$LOADGEN_PID" 2>/dev/null; then
            wait "$LOADGEN_PID" || true
            LOADGEN_PID=""
            return 1
        fi
        sleep 0.05
    done
    local started="${EPOCHREALTIME/,/.}"  # a builtin: no fork between it and the bot's
    "$BOT_BIN" run --config "$WORK/kratom/config.toml" >"$dir/kratom.log" 2>&1 &
    BOT_PID=$!
    echo "$started" >"$dir/start.tmp"
    mv "$dir/start.tmp" "$dir/start"
    local rc=0
    wait "$LOADGEN_PID" || rc=$?
    LOADGEN_PID=""
    # Peak RSS from the start to the answer (the bot is still running).
    awk '/^VmHWM:/ { print $2 }' "/proc/$BOT_PID/status" >"$dir/rss_kib" 2>/dev/null || true
    if [ "$rc" != 0 ]; then
        echo "bench-load: restart $i failed; last lines of the bot's log:" >&2
        tail -n 20 "$dir/kratom.log" >&2 || true
    fi
    sleep 2  # let the first sync after the start finish before the next stop
    stop_bot
    return "$rc"
}

RESULTS=()
RESTARTS=0

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
    # run_load has stopped the bot (SIGTERM, waited), after the load generator finished.
    if [ "${KRATOM_BENCH_RESTART:-0}" = 1 ]; then
        if [ ! -f "$WORK/kratom.json" ]; then
            echo "bench-load: no restart runs: the kratom load run failed" >&2
        else
            if [ "${KRATOM_BENCH_MENTION:-0}" = 1 ]; then
                PROBE_ARGS=(--prefix "" --mention)
            else
                PROBE_ARGS=(--prefix "!kratom ")
            fi
            RESTARTS=3
            for i in $(seq 1 "$RESTARTS"); do
                # A different existing room each time.
                ROOM="$(python3 -c 'import json, sys; r = json.load(open(sys.argv[1]))["room_ids"]
print(r[(int(sys.argv[2]) - 1) % len(r)])' "$WORK/kratom.json" "$i")"
                restart_probe "$i" "$ROOM" "${PROBE_ARGS[@]}" || true
            done
        fi
    fi
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

if [ "$RESTARTS" -gt 0 ]; then
    echo
    python3 - "$WORK" "$RESTARTS" "$N_ROOMS" <<'PYEOF'
import json, os, re, sys
from datetime import datetime

work, restarts, n_rooms = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ANSI = re.compile(r"\x1b\[[0-9;]*m")

def unix_time(stamp):
    """RFC 3339 (tracing's text and JSON timestamps) to Unix seconds."""
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?", stamp)
    if not m:
        return None
    tz = m[3] if m[3] and m[3] != "Z" else "+00:00"
    return datetime.fromisoformat(m[1] + tz).timestamp() + float(m[2] or 0)

def library_loaded(path):
    """(Unix time, ms=, models=) of the "library loaded" line, text or JSON log format."""
    for line in open(path, errors="replace"):
        line = ANSI.sub("", line).strip()
        if "library loaded" not in line:
            continue
        try:
            rec = json.loads(line)
            f = rec.get("fields", {})
            return unix_time(rec.get("timestamp", "")), f.get("ms"), f.get("models")
        except ValueError:
            ms = re.search(r"\bms=(\d+)", line)
            models = re.search(r'\bmodels="?(\w+)', line)
            return (unix_time(line), ms and int(ms[1]), models and models[1])
    return None, None, None

def read(path):
    return open(path).read().strip() if os.path.exists(path) else ""

fmt = lambda v, spec, unit="": "-" if v is None else format(v, spec) + unit
rows = []  # (answer s, library loaded s, its ms=, peak RSS MB) per restart; None if failed
for i in range(1, restarts + 1):
    d = os.path.join(work, f"restart-{i}")
    if not os.path.exists(os.path.join(d, "probe.json")):
        print(f"restart {i}: failed (see {d}/kratom.log)")
        rows.append(None)
        continue
    p = json.load(open(os.path.join(d, "probe.json")))
    at, ms, models = library_loaded(os.path.join(d, "kratom.log"))
    loaded = None if at is None else at - p["started_unix"]
    kib = read(os.path.join(d, "rss_kib"))
    rss = int(kib) / 1024 if kib else None
    rows.append((p["answer_s"], loaded, ms, rss))
    print(f"restart {i}: first answer {p['answer_s']:.2f} s after exec (question sent at "
          f"+{p['question_sent_s']:.2f} s; reply's server ts at +{p['server_answer_s']:.2f} s, "
          f"{fmt(p['server_question_to_answer_ms'], '.0f')} ms after the question's); "
          f"library loaded at +{fmt(loaded, '.2f')} s (ms={fmt(ms, 'd')}, models "
          f"{models or '-'}); peak RSS up to the answer {fmt(rss, '.1f', ' MB')}")

col = lambda k, spec, unit: ", ".join(
    "failed" if r is None else fmt(r[k], spec, unit) for r in rows)
print(f"restart ({n_rooms} rooms): first answer {col(0, '.2f', ' s')} after exec; "
      f"library loaded at {col(1, '.2f', ' s')} after exec (in {col(2, 'd', ' ms')}); "
      f"peak RSS {col(3, '.1f', ' MB')}")
print("first answer: the bot's exec -> its reply seen by the asker's sync; the question is sent "
      "just after the exec, into a room the bot joined in the load run (warm store).")
PYEOF
fi
