"""The metrics tests' app: a METRICS_TOKEN beside the API key."""

from pathlib import Path

import pytest

from app.config import Settings
from tests.conftest import make_settings
from tests.support.databases import TestDatabase

METRICS_TOKEN = "test-metrics-token"


@pytest.fixture
def settings(database: TestDatabase, tmp_path: Path) -> Settings:
    """The usual test settings, with a token that opens only /metrics."""
    return make_settings(database.url, tmp_path, metrics_token=METRICS_TOKEN)
