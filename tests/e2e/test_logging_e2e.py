"""The real server's log lines, as a platform's log search sees them."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.conftest import API_KEY
from tests.support.processes import running_server


@pytest.mark.e2e
def test_json_logs_carry_the_request_id_and_never_a_whole_phone_number(
    service_env: dict[str, str], tmp_path: Path
) -> None:
    log_path = tmp_path / "serve.log"
    with running_server({**service_env, "LOG_FORMAT": "json"}, log_path) as url:
        given = httpx.get(
            f"{url}/api/whatsapp/messages/?phone=919876543210",
            headers={"Authorization": f"Bearer {API_KEY}", "X-Request-ID": "client-req-7"},
            timeout=5,
        )
        made = httpx.get(f"{url}/healthz", timeout=5)
        refused = httpx.get(f"{url}/healthz", headers={"X-Request-ID": "no spaces"}, timeout=5)
    assert given.status_code == 200
    assert given.headers["X-Request-ID"] == "client-req-7"
    assert len(made.headers["X-Request-ID"]) == 32
    assert refused.headers["X-Request-ID"] != "no spaces"
    output = log_path.read_text()
    assert "919876543210" not in output
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    access = [line for line in lines if line.get("request_id") == "client-req-7"]
    assert any("?phone=91987****210" in line["message"] for line in access), lines
    assert {"time", "level", "logger", "message"} <= set(access[0])
