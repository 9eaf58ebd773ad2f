"""The deployment files start the same service the README does."""

import json
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_dockerfile_passes_hadolint() -> None:
    hadolint = ROOT / ".venv" / "bin" / "hadolint"
    if not hadolint.exists():
        pytest.fail("hadolint is not installed; install the dev extras (scripts/test.sh)")
    result = subprocess.run(
        [str(hadolint), str(ROOT / "Dockerfile")], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_runs_as_a_non_root_user_and_serves() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "USER 10001" in dockerfile
    assert 'CMD ["whatsapp-inbox", "serve"]' in dockerfile


def test_dockerfile_installs_the_package_not_the_source_tree() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"pip install --no-cache-dir \.$", dockerfile, re.MULTILINE)
    assert "pip install -e" not in dockerfile
    # The image that runs gets the installed virtualenv, not the checkout.
    assert "COPY --from=build /opt/whatsapp-inbox /opt/whatsapp-inbox" in dockerfile


def test_dockerfile_pins_every_base_image_by_digest_beside_its_tag() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    bases = re.findall(r"^FROM (\S+)", dockerfile, re.MULTILINE)
    assert bases
    for base in bases:
        assert re.fullmatch(r"python:3\.\d+-slim@sha256:[0-9a-f]{64}", base), base


def test_dockerfile_checks_the_server_health() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r'^\s+CMD \["whatsapp-inbox", "healthcheck"\]', dockerfile, re.MULTILINE)
    assert "HEALTHCHECK " in dockerfile


def test_railway_migrates_then_serves_with_a_healthcheck() -> None:
    config = json.loads((ROOT / "railway.json").read_text())
    deploy = config["deploy"]
    assert deploy["preDeployCommand"] == ["whatsapp-inbox migrate"]
    assert deploy["startCommand"].startswith("whatsapp-inbox serve")
    assert deploy["healthcheckPath"] == "/readyz"
    assert config["build"]["builder"] == "DOCKERFILE"


def test_dockerfile_runs_web_processes_by_web_concurrency() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    processes = re.search(r"^\s*WEB_CONCURRENCY=(\d+)", dockerfile, re.MULTILINE)
    assert processes is not None, "the image sets no default WEB_CONCURRENCY"
    assert int(processes.group(1)) >= 2
    # No --workers in the command: the platform's WEB_CONCURRENCY decides.
    assert "--workers" not in dockerfile


def test_railway_leaves_the_number_of_web_processes_to_web_concurrency() -> None:
    deploy = json.loads((ROOT / "railway.json").read_text())["deploy"]
    assert "--workers" not in deploy["startCommand"]
