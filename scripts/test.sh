#!/usr/bin/env bash
# Install everything the tests need and run the whole suite: lint, types, the Dockerfile
# lint, and pytest on SQLite and PostgreSQL (TEST_POSTGRES_URL, default
# postgresql://postgres@127.0.0.1:5432/postgres). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
.venv/bin/pip install --quiet --upgrade pip
.venv/bin/pip install --quiet -e '.[dev]'

# Debian packages the tests run for real: Chromium for the browser tests (Playwright's own
# browser download is not used) and PgBouncer for the tests behind a connection pooler.
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/sbin/pgbouncer ] || missing+=(pgbouncer)
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "error: missing ${missing[*]}; install with: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

echo "== ruff"
.venv/bin/ruff format --check app tests benchmarks
.venv/bin/ruff check app tests benchmarks
echo "== mypy"
.venv/bin/mypy
echo "== hadolint"
.venv/bin/hadolint Dockerfile
echo "== pytest"
.venv/bin/pytest "$@"
