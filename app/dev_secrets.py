"""Development secrets that outlive a restart: generated once, kept in a git-ignored file.

Without them, every start would draw a new API key and app secret, and the key printed
yesterday (or pasted into a script) would stop working. Production never reads or writes
the file: there every secret must be given.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import SecretStr

from app.config import Settings, fill_development_secrets

# In the directory the service runs in (the checkout, for scripts/serve.sh).
DEV_SECRETS_FILE = ".dev-secrets.env"


def read_saved(path: Path) -> dict[str, str]:
    """The NAME=value lines of `path` (none when it does not exist)."""
    if not path.exists():
        return {}
    saved: dict[str, str] = {}
    for line in path.read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and name.strip() and not name.lstrip().startswith("#"):
            saved[name.strip()] = value.strip()
    return saved


def _apply_saved(settings: Settings, saved: dict[str, str]) -> dict[str, str]:
    """Use each saved secret that the environment leaves unset; return those used."""
    unset = fill_development_secrets(settings.model_copy())
    used: dict[str, str] = {}
    for name in unset.keys() & saved.keys():
        if name == "API_KEYS":
            settings.api_keys = [SecretStr(saved[name])]
        else:
            setattr(settings, name.lower(), SecretStr(saved[name]))
        used[name] = saved[name]
    return used


def _save(path: Path, secrets: dict[str, str]) -> None:
    # Owner-only from the moment it exists: these values sign webhooks and open the API.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("# Development secrets of whatsapp-inbox, reused on every start.\n")
        handle.write("# Delete this file for new ones. Never used in production.\n")
        handle.writelines(f"{name}={value}\n" for name, value in sorted(secrets.items()))


def fill_and_keep_development_secrets(settings: Settings, directory: Path) -> dict[str, str]:
    """Fill the unset secrets of a development run from the saved file, or new ones.

    New values are added to the file, so the next start uses them again. Returns every
    value filled in (saved or new), for the caller to print and share with its processes.
    Outside development (tests, production) nothing is read or written.
    """
    if settings.environment != "development":
        return fill_development_secrets(settings)
    path = directory / DEV_SECRETS_FILE
    saved = read_saved(path)
    used = _apply_saved(settings, saved)
    generated = fill_development_secrets(settings)
    if generated:
        _save(path, {**saved, **generated})
    return {**used, **generated}
