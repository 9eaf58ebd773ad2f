"""Settings, read from the environment and an optional `.env` file."""

from __future__ import annotations

import ipaddress
import secrets
from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network
from typing import Annotated, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from app.business_numbers import BusinessNumber, check_numbers, find_number
from app.pooler import Pooler, url_flag

DEFAULT_API_VERSION = "v25.0"

# Values that mean "not set yet": copied from an example file, or left blank.
PLACEHOLDERS = frozenset(
    {
        "",
        "abc",
        "changeme",
        "change-me",
        "dummy",
        "example",
        "password",
        "placeholder",
        "replace-me",
        "replaceme",
        "secret",
        "test",
        "todo",
        "token",
        "xxx",
    }
)
# Example values such as `your-token`, `your_app_secret`, `<access token>`.
PLACEHOLDER_PREFIXES = ("your-", "your_", "<")
# An API key shorter than this is guessable, or a placeholder.
MIN_API_KEY_LENGTH = 32

# Loopback, link-local and with it the cloud metadata address (169.254.169.254).
DEFAULT_BLOCKED_NETWORKS: tuple[IPv4Network | IPv6Network, ...] = (
    IPv4Network("127.0.0.0/8"),
    IPv6Network("::1/128"),
    IPv4Network("169.254.0.0/16"),
    IPv6Network("fe80::/10"),
)

SECRET_SETTINGS = ("whatsapp_app_secret", "whatsapp_verify_token", "whatsapp_access_token")


def _split_list(value: object) -> object:
    """Accept a comma-separated string where a list is expected (API_KEYS=a,b)."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _asyncpg_query(url: str) -> str:
    """Rename libpq's `sslmode` (in the URLs Fly and others give) to asyncpg's `ssl`."""
    parts = urlsplit(url)
    if "sslmode=" not in parts.query:
        return url
    query = [
        ("ssl" if name == "sslmode" else name, value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit(parts._replace(query=urlencode(query)))


class Settings(BaseSettings):
    """Every setting of the service; see README.md for what each does."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    environment: Literal["development", "production", "test"] = "development"

    whatsapp_app_secret: SecretStr = SecretStr("")
    whatsapp_verify_token: SecretStr = SecretStr("")
    whatsapp_access_token: SecretStr = SecretStr("")
    whatsapp_phone_number_id: str = ""
    # Several business numbers (JSON); the first is the default. WHATSAPP_PHONE_NUMBER_ID
    # alone is a list of one.
    whatsapp_phone_numbers: list[BusinessNumber] = Field(default_factory=list)
    whatsapp_business_account_id: str = ""
    template_sync_interval_seconds: float = Field(default=3600.0, gt=0)
    whatsapp_api_version: str = DEFAULT_API_VERSION
    graph_api_base_url: str = "https://graph.facebook.com"
    graph_timeout_seconds: float = 15.0

    database_url: str = "sqlite+aiosqlite:///./whatsapp_inbox.db"
    # PgBouncer in transaction pooling mode between the service and PostgreSQL.
    database_pooler: Pooler = "none"
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    max_body_bytes: int = 4 * 1024 * 1024

    # Background work.
    worker_enabled: bool = True
    worker_concurrency: int = 4
    worker_poll_seconds: float = 1.0
    job_max_attempts: int = 8
    job_lease_seconds: float = 300.0
    job_backoff_base_seconds: float = 2.0
    job_backoff_max_seconds: float = 3600.0
    send_read_receipts: bool = True

    # Media storage: a local directory, or S3-compatible object storage.
    media_storage: Literal["local", "s3"] = "local"
    media_dir: str = "./media"
    s3_bucket: str = ""
    s3_endpoint_url: str = ""
    s3_region: str = "us-east-1"
    s3_access_key_id: str = ""
    s3_secret_access_key: SecretStr = SecretStr("")
    s3_prefix: str = "media/"

    # Auto-replies.
    greeting_message: str = ""
    away_message: str = ""
    business_hours_days: Annotated[list[int], NoDecode] = Field(
        default_factory=lambda: [0, 1, 2, 3, 4]
    )
    business_hours_start: str = "09:00"
    business_hours_end: str = "18:00"
    business_timezone: str = "UTC"
    call_instructions_message: str = ""
    call_keywords: Annotated[list[str], NoDecode] = Field(default_factory=list)
    auto_reply_cooldown_seconds: int = 86400

    # Admin panel.
    admin_username: str = ""
    admin_password_hash: SecretStr = SecretStr("")
    session_secret: SecretStr = SecretStr("")
    # Password checks (argon2: ~64 MiB and ~0.5 s each) running at once per process.
    admin_login_concurrency: int = Field(default=2, ge=1, le=16)
    # Failed admin logins per 10 minutes, all accounts and addresses together.
    admin_login_failure_budget: int = Field(default=100, ge=1)
    # Proxies whose X-Forwarded-For and X-Forwarded-Proto are believed: addresses or
    # networks (CIDR), or `*` for any. Empty: the socket's address is the client's.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # Opening a conversation's thread in the admin marks its messages read.
    admin_mark_read_on_open: bool = True

    # Webhooks out: events POSTed to subscribers. Private networks are allowed (internal
    # services live there); these never are, checked after DNS on every delivery.
    subscription_blocked_networks: Annotated[list[IPv4Network | IPv6Network], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_BLOCKED_NETWORKS)
    )
    subscription_max_attempts: int = Field(default=12, ge=1)
    subscription_timeout_seconds: float = Field(default=10.0, gt=0)

    host: str = "127.0.0.1"
    port: int = 8000
    # Web processes of `serve` (platforms such as Heroku set it from the instance size).
    web_concurrency: int = Field(default=1, ge=1)
    log_level: str = "info"
    # "json": one JSON object per line (app.log); plain text is for reading in a terminal.
    log_format: Literal["text", "json"] = "text"
    # A bearer token that opens only /metrics (API keys open it too).
    metrics_token: SecretStr = SecretStr("")

    # Retention (days; 0 keeps forever), applied by a periodic job (app.retention).
    retention_raw_events_days: int = Field(default=30, ge=0)
    retention_finished_jobs_days: int = Field(default=14, ge=0)
    retention_media_days: int = Field(default=365, ge=0)
    retention_interval_seconds: float = Field(default=3600.0, gt=0)

    @field_validator("api_keys", "call_keywords", "trusted_proxies", mode="before")
    @classmethod
    def _split_strings(cls, value: object) -> object:
        return _split_list(value)

    @field_validator("subscription_blocked_networks", mode="before")
    @classmethod
    def _split_networks(cls, value: object) -> object:
        return _split_list(value)

    @field_validator("business_hours_days", mode="before")
    @classmethod
    def _split_days(cls, value: object) -> object:
        return _split_list(value)

    @field_validator("business_hours_days")
    @classmethod
    def _weekdays(cls, value: list[int]) -> list[int]:
        if any(day not in range(7) for day in value):
            raise ValueError("days are numbered 0 (Monday) to 6 (Sunday)")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_addresses(cls, value: list[str]) -> list[str]:
        for entry in value:
            if entry == "*":
                continue
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    f"{entry!r} is not an IP address or network (e.g. 10.0.0.0/8), nor `*`"
                ) from None
        return value

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        """Railway and Fly give `postgres://…`; SQLAlchemy async wants a driver name."""
        for prefix in ("postgres://", "postgresql://"):
            if value.startswith(prefix):
                return _asyncpg_query("postgresql+asyncpg://" + value[len(prefix) :])
        if value.startswith("sqlite:///"):
            return "sqlite+aiosqlite:///" + value[len("sqlite:///") :]
        return value

    @field_validator("database_url")
    @classmethod
    def _pooler_flag(cls, value: str) -> str:
        """A misspelt `?pgbouncer=` would otherwise be ignored, or reach the driver."""
        try:
            url = make_url(value)
        except ArgumentError as exc:
            # The URL itself is left out of the message: it may hold a password.
            raise ValueError("not a database URL (e.g. postgresql://user@host/db)") from exc
        url_flag(url)
        return value

    @field_validator("whatsapp_phone_numbers")
    @classmethod
    def _distinct_numbers(cls, value: list[BusinessNumber]) -> list[BusinessNumber]:
        return check_numbers(value)

    @model_validator(mode="after")
    def _default_number(self) -> Settings:
        """WHATSAPP_PHONE_NUMBER_ID is the default number, and the list's first if unset."""
        ids = [number.id for number in self.whatsapp_phone_numbers]
        if not self.whatsapp_phone_number_id and ids:
            self.whatsapp_phone_number_id = ids[0]
        elif self.whatsapp_phone_number_id and not ids:
            self.whatsapp_phone_numbers = [BusinessNumber(id=self.whatsapp_phone_number_id)]
        elif ids and self.whatsapp_phone_number_id not in ids:
            raise ValueError(
                "WHATSAPP_PHONE_NUMBER_ID must be one of the ids in WHATSAPP_PHONE_NUMBERS"
            )
        return self

    def business_number(self, id_or_label: str) -> BusinessNumber:
        """The configured number with this phone_number_id or label (UnknownBusinessNumber
        otherwise)."""
        return find_number(self.whatsapp_phone_numbers, id_or_label)

    def number_named(self, phone_number_id: str) -> BusinessNumber:
        """The configured number with this id, or one known only by its id (a number
        that was configured once and is no longer)."""
        for number in self.whatsapp_phone_numbers:
            if number.id == phone_number_id:
                return number
        return BusinessNumber(id=phone_number_id or "unknown")

    def access_token_for(self, phone_number_id: str) -> str:
        """The token to call the Graph API about this number: its own, or the default."""
        for number in self.whatsapp_phone_numbers:
            if number.id == phone_number_id and number.access_token is not None:
                return number.access_token.get_secret_value()
        return self.whatsapp_access_token.get_secret_value()

    @property
    def is_production(self) -> bool:
        """True when the service must refuse to run without its real secrets."""
        return self.environment == "production"

    @property
    def graph_base(self) -> str:
        """The Graph API root including the version, without a trailing slash."""
        return f"{self.graph_api_base_url.rstrip('/')}/{self.whatsapp_api_version}"

    @property
    def admin_enabled(self) -> bool:
        """The admin panel is on only when a login is configured."""
        return bool(self.admin_username and self.admin_password_hash.get_secret_value())


class MissingSecretsError(RuntimeError):
    """Production start-up without real secrets; the message names each one."""


def _is_placeholder(value: str) -> bool:
    text = value.strip().lower()
    return text in PLACEHOLDERS or text.startswith(PLACEHOLDER_PREFIXES)


def _weak_api_key(key: SecretStr) -> bool:
    value = key.get_secret_value()
    return _is_placeholder(value) or len(value.strip()) < MIN_API_KEY_LENGTH


def missing_secrets(settings: Settings) -> list[str]:
    """Names (as environment variables) of the secrets that are unset or placeholders.

    API keys must also be at least MIN_API_KEY_LENGTH characters long; the name then
    says so. Values are never part of the answer.
    """
    missing = [
        name.upper()
        for name in SECRET_SETTINGS
        if _is_placeholder(getattr(settings, name).get_secret_value())
    ]
    if _is_placeholder(settings.whatsapp_phone_number_id):
        missing.append("WHATSAPP_PHONE_NUMBER_ID")
    if not settings.api_keys or any(_weak_api_key(k) for k in settings.api_keys):
        missing.append(f"API_KEYS (each at least {MIN_API_KEY_LENGTH} characters)")
    if settings.admin_enabled and _is_placeholder(settings.session_secret.get_secret_value()):
        missing.append("SESSION_SECRET")
    return missing


def fill_development_secrets(settings: Settings) -> dict[str, str]:
    """Give unset secrets random values outside production; return what was generated.

    The caller prints the returned values once, so a developer can sign test webhooks
    and call the API without configuring anything.
    """
    generated: dict[str, str] = {}
    for name in (*SECRET_SETTINGS, "session_secret"):
        if _is_placeholder(getattr(settings, name).get_secret_value()):
            value = secrets.token_urlsafe(24)
            setattr(settings, name, SecretStr(value))
            generated[name.upper()] = value
    if not settings.api_keys:
        key = secrets.token_urlsafe(24)
        settings.api_keys = [SecretStr(key)]
        generated["API_KEYS"] = key
    return generated


def check_production(settings: Settings) -> None:
    """Raise MissingSecretsError naming every missing secret when in production."""
    if not settings.is_production:
        return
    missing = missing_secrets(settings)
    if missing:
        raise MissingSecretsError(
            "refusing to start in production; set real values for: " + ", ".join(missing)
        )


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (tests build their own Settings instead)."""
    return Settings()
