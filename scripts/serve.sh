#!/usr/bin/env bash
# Install the service into .venv and start it. With no configuration it runs on SQLite
# (./whatsapp_inbox.db), applies migrations, and prints its address and a development
# API key, kept in .dev-secrets.env for the next start. Settings come from the
# environment or a .env file (see README.md).
set -euo pipefail
cd "$(dirname "$0")/.."

# Install only when pyproject.toml changed since the last install (the install is
# editable, so code changes need none): every start after the first takes seconds.
stamp=.venv/.installed-pyproject.toml
if [ ! -x .venv/bin/whatsapp-inbox ] || ! cmp -s pyproject.toml "$stamp"; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --upgrade pip
  .venv/bin/pip install --quiet -e .
  cp pyproject.toml "$stamp"
fi
exec .venv/bin/whatsapp-inbox serve "$@"
