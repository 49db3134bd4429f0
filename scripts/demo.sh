#!/usr/bin/env bash
# Run kratom-bot against a local Synapse and chat with it from any Matrix client.
#
#   scripts/demo.sh            install Synapse if missing, start it on 127.0.0.1, register the bot
#                              and a demo user, log the bot in, run it (Ctrl-C stops both)
#
# Needs only Rust and python3 (with venv). Everything lives in demo-data/ (override with
# KRATOM_DEMO_DIR); re-running reuses the accounts, the bot's session and its encryption keys.
# Environment: KRATOM_DEMO_PORT (default 8008), KRATOM_DEMO_RELEASE=1 (release build),
# KRATOM_DEMO_RESPONSES (another response library), KRATOM_SYNAPSE_VENV (see scripts/synapse.sh).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEMO="${KRATOM_DEMO_DIR:-$REPO/demo-data}"
PORT="${KRATOM_DEMO_PORT:-8008}"
SYNAPSE="$REPO/scripts/synapse.sh"
HS_DIR="$DEMO/synapse"

mkdir -p "$DEMO"
chmod 700 "$DEMO"

"$SYNAPSE" install

# Passwords are generated once and kept in the demo folder (mode 0600).
secret() {
    local file="$DEMO/$1"
    if [ ! -s "$file" ]; then
        (umask 077 && python3 -c 'import secrets; print(secrets.token_urlsafe(12))' >"$file")
    fi
    cat "$file"
}
BOT_PASSWORD="$(secret bot-password)"
DEMO_PASSWORD="$(secret demo-password)"

if [ -f "$HS_DIR/synapse.pid" ] && kill -0 "$(cat "$HS_DIR/synapse.pid")" 2>/dev/null; then
    PORT="$(cat "$HS_DIR/port")"
    echo "demo: reusing the Synapse already running on port $PORT" >&2
    STARTED_SYNAPSE=0
else
    "$SYNAPSE" start "$HS_DIR" "$PORT"
    STARTED_SYNAPSE=1
fi
cleanup() {
    if [ "$STARTED_SYNAPSE" = 1 ]; then
        "$SYNAPSE" stop "$HS_DIR"
    fi
}
trap cleanup EXIT

BOT_ID="$("$SYNAPSE" register "$HS_DIR" "$PORT" kratom-bot "$BOT_PASSWORD")"
DEMO_ID="$("$SYNAPSE" register "$HS_DIR" "$PORT" demo "$DEMO_PASSWORD")"

CONFIG="$DEMO/config.toml"
cat >"$CONFIG" <<TOML
# Written by scripts/demo.sh; see config.example.toml for every key.
[matrix]
homeserver_url = "http://127.0.0.1:$PORT"
user_id = "$BOT_ID"
device_name = "kratom-bot demo"

[storage]
data_dir = "bot-data"

[bot]
responses_dir = "${KRATOM_DEMO_RESPONSES:-$REPO/responses}"
default_region = "US"

[logging]
format = "text"
filter = "info"
TOML

echo "demo: building kratom-bot (the first build takes a few minutes)" >&2
if [ "${KRATOM_DEMO_RELEASE:-0}" = 1 ]; then
    (cd "$REPO" && cargo build --release --bin kratom-bot)
    BIN="$REPO/target/release/kratom-bot"
else
    (cd "$REPO" && cargo build --bin kratom-bot)
    BIN="$REPO/target/debug/kratom-bot"
fi
BIN="${KRATOM_BOT_BIN:-$BIN}"

# Logs in only the first time (the session is reused afterwards: no new device per start).
KRATOM_BOT_PASSWORD="$BOT_PASSWORD" "$BIN" login --config "$CONFIG"

cat >&2 <<INFO

================================================================================
 kratom-bot is starting. Chat with it from any Matrix client (e.g. Element Desktop):

   homeserver:  http://127.0.0.1:$PORT
   user:        demo          ($DEMO_ID)
   password:    $DEMO_PASSWORD

 Start a direct message with $BOT_ID (encrypted is fine) and ask a question,
 e.g. "is kratom legal in the US?". In a group room, invite the bot and write
 "!kratom <question>" or mention it. Ctrl-C stops the bot and Synapse.
================================================================================

INFO

"$BIN" run --config "$CONFIG"
