"""Settings: environment parsing, production refusal, development defaults."""

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError
from sqlalchemy import text

from app.config import (
    DEFAULT_API_VERSION,
    MissingSecretsError,
    Settings,
    check_production,
    fill_development_secrets,
    missing_secrets,
)
from app.db import create_engine
from tests.support.databases import TestDatabase

COMPLETE = {
    "WHATSAPP_APP_SECRET": "a-real-app-secret",
    "WHATSAPP_VERIFY_TOKEN": "a-real-verify-token",
    "WHATSAPP_ACCESS_TOKEN": "a-real-access-token",
    "WHATSAPP_PHONE_NUMBER_ID": "106540352242922",
    "API_KEYS": "key-one-of-at-least-32-characters,key-two-of-at-least-32-characters",
}


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """A clean environment: no setting leaks in from the machine."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    return monkeypatch


def test_railway_style_postgres_url_is_used_with_asyncpg(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("DATABASE_URL", "postgres://user:pw@db.internal:5432/railway")
    assert (
        Settings(_env_file=None).database_url
        == "postgresql+asyncpg://user:pw@db.internal:5432/railway"
    )


def test_postgresql_url_is_used_with_asyncpg(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("DATABASE_URL", "postgresql://u@h/d")
    assert Settings(_env_file=None).database_url == "postgresql+asyncpg://u@h/d"


def test_plain_sqlite_url_gets_the_async_driver(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("DATABASE_URL", "sqlite:///./x.db")
    assert Settings(_env_file=None).database_url == "sqlite+aiosqlite:///./x.db"


def test_default_database_is_sqlite(environment: pytest.MonkeyPatch) -> None:
    assert Settings(_env_file=None).database_url.startswith("sqlite+aiosqlite:///")


def test_several_api_keys_are_read_for_rotation(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("API_KEYS", "old-key, new-key")
    keys = Settings(_env_file=None).api_keys
    assert [k.get_secret_value() for k in keys] == ["old-key", "new-key"]


def test_default_graph_api_version_is_current(environment: pytest.MonkeyPatch) -> None:
    version = Settings(_env_file=None).whatsapp_api_version
    assert version == DEFAULT_API_VERSION
    assert float(version.removeprefix("v")) >= 25.0


def test_settings_are_read_from_a_dotenv_file(
    environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("WHATSAPP_PHONE_NUMBER_ID=42\n")
    assert Settings(_env_file=str(env_file)).whatsapp_phone_number_id == "42"


def test_production_without_secrets_names_every_missing_one(
    environment: pytest.MonkeyPatch,
) -> None:
    environment.setenv("ENVIRONMENT", "production")
    with pytest.raises(MissingSecretsError) as raised:
        check_production(Settings(_env_file=None))
    for name in COMPLETE:
        assert name in str(raised.value)


def test_production_treats_placeholders_as_missing(environment: pytest.MonkeyPatch) -> None:
    for name, value in COMPLETE.items():
        environment.setenv(name, value)
    environment.setenv("ENVIRONMENT", "production")
    environment.setenv("WHATSAPP_APP_SECRET", "changeme")
    assert missing_secrets(Settings(_env_file=None)) == ["WHATSAPP_APP_SECRET"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("API_KEYS", "abc"),
        ("WHATSAPP_ACCESS_TOKEN", "your-token"),
        ("WHATSAPP_APP_SECRET", "your_app_secret"),
        ("WHATSAPP_VERIFY_TOKEN", "<verify token>"),
        ("WHATSAPP_ACCESS_TOKEN", "ChangeMe"),
    ],
)
def test_production_refuses_known_placeholders_in_every_secret(
    environment: pytest.MonkeyPatch, name: str, value: str
) -> None:
    for complete_name, complete_value in COMPLETE.items():
        environment.setenv(complete_name, complete_value)
    environment.setenv("ENVIRONMENT", "production")
    environment.setenv(name, value)
    with pytest.raises(MissingSecretsError) as raised:
        check_production(Settings(_env_file=None))
    assert name in str(raised.value)
    assert value not in str(raised.value)


def test_production_refuses_an_api_key_shorter_than_32_characters(
    environment: pytest.MonkeyPatch,
) -> None:
    for name, value in COMPLETE.items():
        environment.setenv(name, value)
    environment.setenv("ENVIRONMENT", "production")
    environment.setenv("API_KEYS", "key-one-of-at-least-32-characters," + "k" * 31)
    assert missing_secrets(Settings(_env_file=None)) == ["API_KEYS (each at least 32 characters)"]


def test_production_with_every_secret_starts(environment: pytest.MonkeyPatch) -> None:
    for name, value in COMPLETE.items():
        environment.setenv(name, value)
    environment.setenv("ENVIRONMENT", "production")
    check_production(Settings(_env_file=None))


def test_production_error_does_not_reveal_secret_values(environment: pytest.MonkeyPatch) -> None:
    for name, value in COMPLETE.items():
        environment.setenv(name, value)
    environment.setenv("ENVIRONMENT", "production")
    environment.setenv("API_KEYS", "")
    with pytest.raises(MissingSecretsError) as raised:
        check_production(Settings(_env_file=None))
    assert all(value not in str(raised.value) for value in COMPLETE.values() if value)


def test_development_fills_missing_secrets_with_random_values(
    environment: pytest.MonkeyPatch,
) -> None:
    first = Settings(_env_file=None)
    second = Settings(_env_file=None)
    generated = fill_development_secrets(first)
    fill_development_secrets(second)
    assert set(generated) >= {"WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN", "API_KEYS"}
    assert (
        first.whatsapp_app_secret.get_secret_value()
        != second.whatsapp_app_secret.get_secret_value()
    )
    assert len(first.api_keys[0].get_secret_value()) >= 24


def test_development_keeps_secrets_that_are_given(environment: pytest.MonkeyPatch) -> None:
    settings = Settings(_env_file=None, whatsapp_app_secret=SecretStr("given"))
    generated = fill_development_secrets(settings)
    assert "WHATSAPP_APP_SECRET" not in generated
    assert settings.whatsapp_app_secret.get_secret_value() == "given"


def test_libpq_sslmode_in_the_url_becomes_asyncpgs_ssl(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("DATABASE_URL", "postgres://u:p@h:5432/d?sslmode=disable&application_name=x")
    assert Settings(_env_file=None).database_url == (
        "postgresql+asyncpg://u:p@h:5432/d?ssl=disable&application_name=x"
    )


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_url_with_sslmode_connects_to_postgresql(
    environment: pytest.MonkeyPatch, database: TestDatabase
) -> None:
    plain = database.url.replace("postgresql+asyncpg://", "postgresql://")
    environment.setenv("DATABASE_URL", f"{plain}?sslmode=disable")
    engine = create_engine(Settings(_env_file=None).database_url)
    try:
        async with engine.connect() as connection:
            assert (await connection.execute(text("SELECT 1"))).scalar() == 1
    finally:
        await engine.dispose()


def test_no_pooler_is_assumed_by_default(environment: pytest.MonkeyPatch) -> None:
    assert Settings(_env_file=None).database_pooler == "none"


def test_pgbouncer_is_a_database_pooler(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("DATABASE_POOLER", "pgbouncer")
    assert Settings(_env_file=None).database_pooler == "pgbouncer"


def test_unknown_database_pooler_is_refused(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("DATABASE_POOLER", "pgpool")
    with pytest.raises(ValidationError, match="'none' or 'pgbouncer'"):
        Settings(_env_file=None)


def test_pgbouncer_flag_of_the_url_is_kept_for_the_engine(
    environment: pytest.MonkeyPatch,
) -> None:
    environment.setenv("DATABASE_URL", "postgres://u@h/d?pgbouncer=true")
    assert Settings(_env_file=None).database_url == "postgresql+asyncpg://u@h/d?pgbouncer=true"


def test_pgbouncer_flag_other_than_true_or_false_is_refused(
    environment: pytest.MonkeyPatch,
) -> None:
    environment.setenv("DATABASE_URL", "postgres://u@h/d?pgbouncer=transaction")
    with pytest.raises(ValidationError, match="must be true or false"):
        Settings(_env_file=None)


def test_database_url_that_is_not_a_url_is_refused_without_echoing_it(
    environment: pytest.MonkeyPatch,
) -> None:
    environment.setenv("DATABASE_URL", "secret-password-not-a-url")
    with pytest.raises(ValidationError) as raised:
        Settings(_env_file=None)
    assert "not a database URL" in str(raised.value)
    assert "secret-password" not in str(raised.value.errors(include_input=False))


def test_one_web_process_by_default(environment: pytest.MonkeyPatch) -> None:
    assert Settings(_env_file=None).web_concurrency == 1


def test_web_concurrency_sets_the_number_of_web_processes(
    environment: pytest.MonkeyPatch,
) -> None:
    environment.setenv("WEB_CONCURRENCY", "3")
    assert Settings(_env_file=None).web_concurrency == 3


@pytest.mark.parametrize("value", ["0", "-2", "two"])
def test_web_concurrency_below_one_or_not_a_number_is_refused(
    environment: pytest.MonkeyPatch, value: str
) -> None:
    environment.setenv("WEB_CONCURRENCY", value)
    with pytest.raises(ValidationError, match="web_concurrency"):
        Settings(_env_file=None)


NUMBERS_JSON = (
    '[{"id":"106540352242922","display":"+1 555 000 1111","label":"support"},'
    '{"id":"106540352242933","display":"+1 555 000 2222","label":"sales"}]'
)


def test_business_numbers_are_read_as_a_json_list_whose_first_is_the_default(
    environment: pytest.MonkeyPatch,
) -> None:
    environment.setenv("WHATSAPP_PHONE_NUMBERS", NUMBERS_JSON)
    settings = Settings(_env_file=None)
    assert [(n.id, n.label) for n in settings.whatsapp_phone_numbers] == [
        ("106540352242922", "support"),
        ("106540352242933", "sales"),
    ]
    assert settings.whatsapp_phone_number_id == "106540352242922"
    assert settings.business_number("sales").display == "+1 555 000 2222"


def test_a_single_phone_number_id_is_a_list_of_one(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("WHATSAPP_PHONE_NUMBER_ID", "106540352242922")
    (number,) = Settings(_env_file=None).whatsapp_phone_numbers
    assert (number.id, number.label, number.access_token) == ("106540352242922", "", None)


def test_a_label_used_twice_is_refused(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("WHATSAPP_PHONE_NUMBERS", NUMBERS_JSON.replace("sales", "support"))
    with pytest.raises(ValidationError, match="label must appear once"):
        Settings(_env_file=None)


def test_a_default_number_outside_the_list_is_refused(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("WHATSAPP_PHONE_NUMBERS", NUMBERS_JSON)
    environment.setenv("WHATSAPP_PHONE_NUMBER_ID", "999")
    with pytest.raises(ValidationError, match="must be one of the ids"):
        Settings(_env_file=None)


def test_a_number_with_its_own_token_is_called_with_it_and_others_with_the_default(
    environment: pytest.MonkeyPatch,
) -> None:
    environment.setenv("WHATSAPP_ACCESS_TOKEN", "default-token")
    environment.setenv(
        "WHATSAPP_PHONE_NUMBERS",
        '[{"id":"1","label":"support"},{"id":"2","label":"sales","access_token":"own"}]',
    )
    settings = Settings(_env_file=None)
    assert (settings.access_token_for("1"), settings.access_token_for("2")) == (
        "default-token",
        "own",
    )
