"""The `whatsapp-inbox` command as a newcomer and a platform run it."""

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from app.config import Settings
from tests.support.processes import ROOT, start_server


def _clean_environment(**extra: str) -> dict[str, str]:
    """This process's environment without any of the service's settings."""
    names = {name.upper() for name in Settings.model_fields}
    env = {k: v for k, v in os.environ.items() if k not in names}
    env.update(extra)
    return env


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_production_refuses_to_start_and_names_missing_secrets(tmp_path: Path) -> None:
    result = _run(["serve"], tmp_path, _clean_environment(ENVIRONMENT="production"))
    assert result.returncode != 0
    for name in (
        "WHATSAPP_APP_SECRET",
        "WHATSAPP_VERIFY_TOKEN",
        "WHATSAPP_ACCESS_TOKEN",
        "API_KEYS",
    ):
        assert name in result.stderr
    assert not (tmp_path / "whatsapp_inbox.db").exists()


def test_production_refuses_placeholder_secrets_in_one_line_without_their_values(
    tmp_path: Path,
) -> None:
    env = _clean_environment(
        ENVIRONMENT="production",
        WHATSAPP_APP_SECRET="a-real-app-secret-value",
        WHATSAPP_VERIFY_TOKEN="a-real-verify-token-value",
        WHATSAPP_ACCESS_TOKEN="your-token",
        WHATSAPP_PHONE_NUMBER_ID="106540352242922",
        API_KEYS="abc",
    )
    result = _run(["serve"], tmp_path, env)
    assert result.returncode != 0
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: refusing to start in production")
    assert "WHATSAPP_ACCESS_TOKEN" in line
    assert "API_KEYS (each at least 32 characters)" in line
    assert "your-token" not in line
    assert "abc" not in line.replace("API_KEYS", "")


def test_hash_password_prints_an_argon2_hash(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "hash-password"],
        cwd=tmp_path,
        input="s3cret-pass\n",
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.startswith("$argon2")
    assert "s3cret-pass" not in result.stdout


def test_migrate_creates_the_tables_in_an_empty_sqlite_file(tmp_path: Path) -> None:
    result = _run(
        ["migrate"], tmp_path, _clean_environment(DATABASE_URL=f"sqlite:///{tmp_path}/m.db")
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "m.db").stat().st_size > 0


@pytest.mark.e2e
def test_serve_with_no_configuration_runs_on_sqlite_and_prints_its_api_key(
    tmp_path: Path,
) -> None:
    server, url = start_server(_clean_environment(), tmp_path / "serve.log", cwd=tmp_path)
    try:
        output = server.log()
        assert f"listening on http://127.0.0.1:{url.rsplit(':', 1)[1]}" in output
        key = next(
            line.split("=", 1)[1].strip()
            for line in output.splitlines()
            if line.strip().startswith("API_KEYS=")
        )
        assert (tmp_path / "whatsapp_inbox.db").exists()
        ready = httpx.get(f"{url}/readyz", timeout=5)
        assert ready.status_code == 200
        listed = httpx.get(
            f"{url}/api/whatsapp/conversations/",
            headers={"Authorization": f"Bearer {key}"},
            timeout=5,
        )
        assert listed.status_code == 200, listed.text
        refused = httpx.get(f"{url}/api/whatsapp/conversations/", timeout=5)
        assert refused.status_code == 401
    finally:
        server.stop()


@pytest.mark.e2e
def test_every_web_process_accepts_the_development_api_key_it_printed(tmp_path: Path) -> None:
    server, url = start_server(
        _clean_environment(), tmp_path / "serve.log", cwd=tmp_path, args=["--workers", "2"]
    )
    try:
        key = next(
            line.split("=", 1)[1].strip()
            for line in server.log().splitlines()
            if line.strip().startswith("API_KEYS=")
        )
        # A new connection each time, so that both processes get some of the requests.
        answers = {
            httpx.get(
                f"{url}/api/whatsapp/conversations/",
                headers={"Authorization": f"Bearer {key}"},
                timeout=5,
            ).status_code
            for _ in range(10)
        }
        assert answers == {200}
    finally:
        server.stop()


@pytest.mark.e2e
def test_verify_token_never_reaches_the_log(tmp_path: Path) -> None:
    token = "verify-token-that-must-stay-secret"
    env = _clean_environment(WHATSAPP_VERIFY_TOKEN=token, DATABASE_URL=f"sqlite:///{tmp_path}/v.db")
    server, url = start_server(env, tmp_path / "serve.log", cwd=tmp_path)
    try:
        httpx.get(
            f"{url}/api/whatsapp/webhook/",
            params={"hub.mode": "subscribe", "hub.verify_token": token, "hub.challenge": "42"},
            timeout=5,
        )
        httpx.get(
            f"{url}/api/whatsapp/webhook/",
            params={"hub.mode": "subscribe", "hub.verify_token": token + "x", "hub.challenge": "1"},
            timeout=5,
        )
    finally:
        server.stop()
    assert token not in server.log()
    assert "hub.verify_token=***" in server.log()


def test_readme_commands_are_the_ones_ci_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "./scripts/serve.sh" in readme
    assert "./scripts/test.sh" in readme
    assert "scripts/test.sh" in (ROOT / ".ci" / "run").read_text()


def test_invalid_setting_is_named_and_refused(tmp_path: Path) -> None:
    result = _run(["serve"], tmp_path, _clean_environment(BUSINESS_HOURS_DAYS="1,2,7"))
    assert result.returncode == 2
    assert "BUSINESS_HOURS_DAYS" in result.stderr
    assert "0 (Monday) to 6 (Sunday)" in result.stderr
    assert "Traceback" not in result.stderr


def test_business_hours_that_make_no_sense_are_refused_when_an_away_message_is_set(
    tmp_path: Path,
) -> None:
    env = _clean_environment(AWAY_MESSAGE="We are closed", BUSINESS_TIMEZONE="Mars/Olympus")
    result = _run(["serve"], tmp_path, env)
    assert result.returncode == 2
    assert "Mars/Olympus" in result.stderr
    assert "is not an IANA time zone" in result.stderr


@pytest.mark.parametrize("workers", ["0", "-1", "many"])
def test_serve_refuses_a_number_of_workers_below_one_or_not_a_number(
    tmp_path: Path, workers: str
) -> None:
    result = _run(["serve", "--workers", workers], tmp_path, _clean_environment())
    assert result.returncode == 2
    assert "--workers" in result.stderr
    assert "at least 1" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "whatsapp_inbox.db").exists()


def test_serve_refuses_a_web_concurrency_below_one(tmp_path: Path) -> None:
    result = _run(["serve"], tmp_path, _clean_environment(WEB_CONCURRENCY="0"))
    assert result.returncode == 2
    assert "WEB_CONCURRENCY" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_refuses_several_processes_on_an_in_memory_database(tmp_path: Path) -> None:
    env = _clean_environment(DATABASE_URL="sqlite+aiosqlite:///:memory:")
    result = _run(["serve", "--workers", "2"], tmp_path, env)
    assert result.returncode == 2
    assert "in-memory SQLite" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", ["serve", "migrate"])
def test_unknown_database_pooler_is_named_and_refused(tmp_path: Path, command: str) -> None:
    env = _clean_environment(DATABASE_POOLER="pgpool", DATABASE_URL=f"sqlite:///{tmp_path}/p.db")
    result = _run([command], tmp_path, env)
    assert result.returncode == 2
    assert "DATABASE_POOLER" in result.stderr
    assert "'none' or 'pgbouncer'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "p.db").exists()


def _printed_api_key(output: str) -> str:
    return next(
        line.split("=", 1)[1].strip()
        for line in output.splitlines()
        if line.strip().startswith("API_KEYS=")
    )


@pytest.mark.e2e
def test_development_secrets_are_saved_and_the_same_api_key_works_after_a_restart(
    tmp_path: Path,
) -> None:
    keys = []
    for run in range(2):
        server, url = start_server(_clean_environment(), tmp_path / f"serve{run}.log", cwd=tmp_path)
        try:
            key = _printed_api_key(server.log())
            listed = httpx.get(
                f"{url}/api/whatsapp/conversations/",
                headers={"Authorization": f"Bearer {key}"},
                timeout=5,
            )
            assert listed.status_code == 200
            keys.append(key)
        finally:
            server.stop()
    assert keys[0] == keys[1]
    saved = tmp_path / ".dev-secrets.env"
    assert f"API_KEYS={keys[0]}" in saved.read_text().splitlines()
    assert saved.stat().st_mode & 0o077 == 0


def test_the_development_secrets_file_is_ignored_by_git() -> None:
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", ".dev-secrets.env"], cwd=ROOT, check=False
    )
    assert ignored.returncode == 0


def test_a_secret_given_in_the_environment_wins_over_the_saved_one(tmp_path: Path) -> None:
    (tmp_path / ".dev-secrets.env").write_text("API_KEYS=saved-key\nWHATSAPP_APP_SECRET=s\n")
    env = _clean_environment(API_KEYS="given-key", DATABASE_URL="sqlite+aiosqlite:///:memory:")
    result = _run(["serve", "--workers", "2"], tmp_path, env)
    # Refused before serving (in-memory SQLite and two processes), after the secrets.
    assert result.returncode == 2
    assert "API_KEYS=" not in result.stderr
    assert "WHATSAPP_APP_SECRET=s" in result.stderr


def test_a_broken_admin_password_hash_stops_the_start_with_one_line(tmp_path: Path) -> None:
    # What a shell leaves of an unquoted or double-quoted hash: every $part expanded away.
    env = _clean_environment(
        ADMIN_USERNAME="admin",
        ADMIN_PASSWORD_HASH="=19=65536,t=3,p=4",
        DATABASE_URL=f"sqlite:///{tmp_path}/h.db",
    )
    result = _run(["serve"], tmp_path, env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "ADMIN_PASSWORD_HASH" in lines[0]
    assert "single quotes" in lines[0]
    assert "whatsapp-inbox hash-password" in lines[0]
    assert "=19=65536" not in lines[0]
    assert not (tmp_path / "h.db").exists()
