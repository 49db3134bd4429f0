#!/usr/bin/env bash
# A throwaway Synapse on 127.0.0.1 for tests and the demo. Never for production: relaxed rate
# limits, no federation, registration only through the shared secret.
#
#   scripts/synapse.sh install                    install matrix-synapse into the venv if missing
#   scripts/synapse.sh start DIR PORT             generate DIR/hs.yaml if missing, start, wait for it
#   scripts/synapse.sh stop DIR                   stop the Synapse started in DIR
#   scripts/synapse.sh register DIR PORT USER PASSWORD [admin]
#                                                 create a user through the shared-secret admin API
#
# Environment:
#   KRATOM_SYNAPSE_VENV           venv path (default: .venv-synapse at the repo root)
#   KRATOM_SYNAPSE_STRICT_RC=1    strict rc_message (for the 429 test), applied when DIR is generated
#   KRATOM_SYNAPSE_WATCH_PID=PID  stop Synapse when that process exits (test harnesses)
set -euo pipefail

SYNAPSE_VERSION="1.163.2"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${KRATOM_SYNAPSE_VENV:-$REPO/.venv-synapse}"
PY="$VENV/bin/python"

die() { echo "synapse.sh: $*" >&2; exit 1; }

installed() {
    [ -x "$PY" ] && "$PY" - "$SYNAPSE_VERSION" <<'PYEOF' 2>/dev/null
import sys
from importlib.metadata import version
sys.exit(0 if version("matrix-synapse") == sys.argv[1] else 1)
PYEOF
}

cmd_install() {
    if installed; then
        return 0
    fi
    command -v python3 >/dev/null || die "python3 is required"
    echo "synapse.sh: installing matrix-synapse==$SYNAPSE_VERSION into $VENV" >&2
    python3 -m venv "$VENV" || die "python3 -m venv failed (on Debian: apt-get install python3-venv)"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "matrix-synapse==$SYNAPSE_VERSION" \
        || die "pip install matrix-synapse==$SYNAPSE_VERSION failed"
    installed || die "matrix-synapse is not importable from $VENV after install"
}

cmd_generate() {
    local dir="$1" port="$2"
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
    if [ -f "$dir/hs.yaml" ]; then
        return 0
    fi
    (cd "$dir" && "$PY" -m synapse.app.homeserver --server-name localhost \
        --config-path "$dir/hs.yaml" --data-directory "$dir" \
        --generate-config --report-stats=no >/dev/null) || die "could not generate a config in $dir"
    "$PY" - "$dir" "$port" "${KRATOM_SYNAPSE_STRICT_RC:-0}" <<'PYEOF'
import secrets, sys, yaml
d, port, strict = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
path = f"{d}/hs.yaml"
with open(path) as f:
    c = yaml.safe_load(f)
relaxed = {"per_second": 1000, "burst_count": 1000}
secret = secrets.token_hex(24)
c.update({
    "listeners": [{"port": port, "bind_addresses": ["127.0.0.1"], "type": "http", "tls": False,
                   "x_forwarded": False, "resources": [{"names": ["client"], "compress": False}]}],
    "trusted_key_servers": [],
    "suppress_key_server_warning": True,
    "federation_domain_whitelist": [],
    "registration_shared_secret": secret,
    "enable_registration": False,
    "presence": {"enabled": False},
    "url_preview_enabled": False,
    "report_stats": False,
    "rc_message": {"per_second": 1, "burst_count": 2} if strict else relaxed,
    "rc_registration": relaxed,
    "rc_login": {"address": relaxed, "account": relaxed, "failed_attempts": relaxed},
    "rc_joins": {"local": relaxed, "remote": relaxed},
    "rc_joins_per_room": relaxed,
    "rc_invites": {"per_room": relaxed, "per_user": relaxed, "per_issuer": relaxed},
    "rc_room_creation": relaxed,
    "rc_key_requests": relaxed,
    "rc_3pid_validation": relaxed,
    "rc_admin_redaction": relaxed,
    "rc_delayed_event_mgmt": relaxed,
    "rc_presence": {"per_user": relaxed},
})
with open(path, "w") as f:
    yaml.safe_dump(c, f)
with open(f"{d}/port", "w") as f:
    f.write(str(port))
with open(f"{d}/shared_secret", "w") as f:
    f.write(secret)
PYEOF
    # Log to a file only, and quietly: the test output should stay readable.
    sed -i 's/level: INFO/level: WARNING/' "$dir"/*.log.config 2>/dev/null || true
}

wait_ready() {
    local port="$1" pid="$2" log="$3"
    for _ in $(seq 1 600); do
        if python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
            "http://127.0.0.1:$port/_matrix/client/versions" >/dev/null 2>&1; then
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || { tail -n 30 "$log" >&2; die "Synapse exited during start-up"; }
        sleep 0.05
    done
    tail -n 30 "$log" >&2
    die "Synapse did not answer on 127.0.0.1:$port within 60 s"
}

cmd_start() {
    local dir="$1" port="$2"
    installed || die "matrix-synapse $SYNAPSE_VERSION is not installed in $VENV (run: $0 install)"
    cmd_generate "$dir" "$port"
    dir="$(cd "$dir" && pwd)"
    if [ -f "$dir/synapse.pid" ] && kill -0 "$(cat "$dir/synapse.pid")" 2>/dev/null; then
        die "a Synapse is already running from $dir (pid $(cat "$dir/synapse.pid"))"
    fi
    # The port may differ from the one the config was generated with (demo re-runs).
    "$PY" - "$dir/hs.yaml" "$port" <<'PYEOF'
import sys, yaml
path, port = sys.argv[1], int(sys.argv[2])
with open(path) as f:
    c = yaml.safe_load(f)
if c["listeners"][0]["port"] != port:
    c["listeners"][0]["port"] = port
    with open(path, "w") as f:
        yaml.safe_dump(c, f)
PYEOF
    echo "$port" >"$dir/port"
    (cd "$dir" && exec setsid "$PY" -m synapse.app.homeserver --config-path "$dir/hs.yaml" \
        >"$dir/stdout.log" 2>&1 </dev/null) &
    local pid=$!
    echo "$pid" >"$dir/synapse.pid"
    if [ -n "${KRATOM_SYNAPSE_WATCH_PID:-}" ]; then
        # Harness watchdog: Rust test binaries have no global teardown, so Synapse goes when they do.
        local watch="$KRATOM_SYNAPSE_WATCH_PID"
        (
            while kill -0 "$watch" 2>/dev/null && kill -0 "$pid" 2>/dev/null; do sleep 0.5; done
            kill "$pid" 2>/dev/null || true
        ) </dev/null >/dev/null 2>&1 &
        disown || true
    fi
    wait_ready "$port" "$pid" "$dir/stdout.log"
    echo "synapse.sh: Synapse $SYNAPSE_VERSION on http://127.0.0.1:$port (pid $pid, dir $dir)" >&2
}

cmd_stop() {
    local dir="$1"
    [ -f "$dir/synapse.pid" ] || return 0
    local pid
    pid="$(cat "$dir/synapse.pid")"
    if kill "$pid" 2>/dev/null; then
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$dir/synapse.pid"
}

cmd_register() {
    local dir="$1" port="$2" user="$3" pass="$4" admin="${5:-}"
    [ -f "$dir/shared_secret" ] || die "no shared secret in $dir (start Synapse there first)"
    python3 - "$port" "$(cat "$dir/shared_secret")" "$user" "$pass" "$admin" <<'PYEOF'
import hashlib, hmac, json, sys, urllib.error, urllib.request
port, secret, user, password, admin = sys.argv[1:6]
admin = admin == "admin"
url = f"http://127.0.0.1:{port}/_synapse/admin/v1/register"
with urllib.request.urlopen(url) as r:
    nonce = json.load(r)["nonce"]
mac = hmac.new(secret.encode(), digestmod=hashlib.sha1)
mac.update(b"\x00".join([nonce.encode(), user.encode(), password.encode(),
                         b"admin" if admin else b"notadmin"]))
body = json.dumps({"nonce": nonce, "username": user, "password": password, "admin": admin,
                   "mac": mac.hexdigest()}).encode()
req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
try:
    with urllib.request.urlopen(req) as r:
        print(json.load(r)["user_id"])
except urllib.error.HTTPError as e:
    detail = e.read().decode(errors="replace")
    if "M_USER_IN_USE" in detail:
        print(f"@{user}:localhost")
    else:
        sys.exit(f"synapse.sh: registering {user} failed: {e.code} {detail}")
PYEOF
}

case "${1:-}" in
    install) cmd_install ;;
    start) [ $# -eq 3 ] || die "usage: $0 start DIR PORT"; cmd_start "$2" "$3" ;;
    stop) [ $# -eq 2 ] || die "usage: $0 stop DIR"; cmd_stop "$2" ;;
    register) [ $# -ge 5 ] || die "usage: $0 register DIR PORT USER PASSWORD [admin]"; cmd_register "$2" "$3" "$4" "$5" "${6:-}" ;;
    *) sed -n '2,15p' "$0" >&2; exit 2 ;;
esac
