#!/usr/bin/env bash
# Install the service into .venv and start it. With no configuration it runs on SQLite
# (./whatsapp_inbox.db), applies migrations, and prints its address and a development
# API key. Settings come from the environment or a .env file (see README.md).
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
.venv/bin/pip install --quiet --upgrade pip
.venv/bin/pip install --quiet -e .
exec .venv/bin/whatsapp-inbox serve "$@"
