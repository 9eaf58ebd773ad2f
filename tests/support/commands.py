"""Running `whatsapp-inbox` subcommands in the test process, on a test's database."""

from __future__ import annotations

from pathlib import Path

import pytest


def command_environment(
    monkeypatch: pytest.MonkeyPatch, workdir: Path, database_url: str, **settings: str
) -> None:
    """Make `app.cli.main` read a test environment on `database_url`, from `workdir`."""
    monkeypatch.chdir(workdir)
    monkeypatch.setenv("ENVIRONMENT", "test")
    monkeypatch.setenv("DATABASE_URL", database_url)
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
