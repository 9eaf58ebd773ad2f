"""The service as a package: the wheel, installed into a fresh virtualenv, serves on its own.

The wheel is built from this checkout with the project's own build tools, and installed
without dependencies into a new virtualenv that borrows the project's installed
dependencies (a .pth file naming their directory): this machine's package index may be
out of reach, and what is tested is the package, not pip's resolver. The server then runs
from an empty directory, far from the source tree, so every migration, template and
static file it uses must have come from the wheel.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.config import Settings
from tests.support.processes import ROOT, free_port

pytestmark = pytest.mark.e2e

# The hash of "pw".
ADMIN_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$aKZrPjwdyxbT/K5WFBoyVw$"
    "wnlCK9dNgjppFXU7Wn+uC30vAB4ruEa0RboDqBNAmig"
)


def _run(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, check=True, timeout=300, **kwargs)  # type: ignore[call-overload, no-any-return]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with the wheel of this checkout installed (not editable)."""
    base = tmp_path_factory.mktemp("package")
    dist = base / "dist"
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(dist),
            str(ROOT),
        ]
    )
    (wheel,) = dist.glob("whatsapp_inbox-*.whl")
    venv = base / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    site = next(venv.glob("lib/python*/site-packages"))
    (site / "project_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv / "bin" / "python"),
            "install",
            "--no-deps",
            "-q",
            str(wheel),
        ]
    )
    return venv


def _clean_environment(**extra: str) -> dict[str, str]:
    names = {name.upper() for name in Settings.model_fields}
    env = {k: v for k, v in os.environ.items() if k not in names and k != "PYTHONPATH"}
    return {**env, **extra}


@pytest.fixture(scope="module")
def served(installed: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """`whatsapp-inbox serve` of the installed package, run in an empty directory."""
    workdir = tmp_path_factory.mktemp("empty")
    port = free_port()
    env = _clean_environment(PORT=str(port), ADMIN_USERNAME="admin", ADMIN_PASSWORD_HASH=ADMIN_HASH)
    log = (workdir.parent / "serve.log").open("w")
    server = subprocess.Popen(
        [str(installed / "bin" / "whatsapp-inbox"), "serve"],
        cwd=workdir,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, (workdir.parent / "serve.log").read_text()
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, (workdir.parent / "serve.log").read_text()
            time.sleep(0.2)
        yield url, workdir
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
        log.close()


def test_the_installed_package_is_imported_from_the_virtualenv_not_the_checkout(
    installed: Path, tmp_path: Path
) -> None:
    found = _run(
        [str(installed / "bin" / "python"), "-c", "import app; print(app.__file__)"],
        cwd=tmp_path,
        env=_clean_environment(),
    ).stdout.strip()
    assert found.startswith(str(installed)), found


def test_serve_in_an_empty_directory_migrates_its_own_database(
    served: tuple[str, Path],
) -> None:
    url, workdir = served
    assert (workdir / "whatsapp_inbox.db").stat().st_size > 0
    assert httpx.get(f"{url}/readyz", timeout=5).status_code == 200


def test_the_installed_admin_panel_has_its_templates_and_static_files(
    served: tuple[str, Path],
) -> None:
    url, _ = served
    login = httpx.get(f"{url}/admin/login", timeout=5)
    assert login.status_code == 200
    assert 'name="password"' in login.text
    css = httpx.get(f"{url}/admin/inbox-statics/inbox.css", timeout=5)
    assert css.status_code == 200
    assert css.text.strip()


def test_the_installed_api_documentation_is_served(served: tuple[str, Path]) -> None:
    url, _ = served
    assert httpx.get(f"{url}/docs", timeout=5).status_code == 200
    assert httpx.get(f"{url}/openapi.json", timeout=5).json()["info"]["title"] == "whatsapp-inbox"


def test_healthcheck_command_passes_while_the_server_answers(
    installed: Path, served: tuple[str, Path]
) -> None:
    url, workdir = served
    port = url.rsplit(":", 1)[1]
    healthy = subprocess.run(
        [str(installed / "bin" / "whatsapp-inbox"), "healthcheck"],
        cwd=workdir,
        env=_clean_environment(PORT=port),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert healthy.returncode == 0, healthy.stderr
    nobody = subprocess.run(
        [str(installed / "bin" / "whatsapp-inbox"), "healthcheck"],
        cwd=workdir,
        env=_clean_environment(PORT=str(free_port())),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert nobody.returncode == 1
    assert "unhealthy" in nobody.stderr
