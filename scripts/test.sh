#!/usr/bin/env bash
# Runs every test. The Matrix integration tests start their own Synapse on 127.0.0.1 from a pinned
# matrix-synapse in .venv-synapse/, installed here on first use (needs python3 and PyPI).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ -f scripts/synapse.sh ]; then
    bash scripts/synapse.sh install
fi
cargo test "$@"
