"""Running `whatsapp-inbox` subcommands in the test process, on a test's database."""

from __future__ import annotations

from pathlib import Path

import pytest


def command_environment(
    monkeypatch: pytest.MonkeyPatch, workdir: Path, database_url: str, **settings: str
) -> None:
    """Make `app.cli.main` read a test environment on `database_url`, from `workdir`.

    The command leaves logging as the test process has it (pytest's capture): configured
    for the command, it would write to a stream pytest closes after the test.
    """
    monkeypatch.setattr("app.cli.configure_logging", lambda *_args: None)
    monkeypatch.chdir(workdir)
    monkeypatch.setenv("ENVIRONMENT", "test")
    monkeypatch.setenv("DATABASE_URL", database_url)
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
