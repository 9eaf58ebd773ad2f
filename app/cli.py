"""The `whatsapp-inbox` command: serve, worker, migrate, templates sync, hash-password."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from pydantic import ValidationError

from app.autoreply.rules import BusinessHours, InvalidBusinessHours
from app.config import MissingSecretsError, Settings, check_production
from app.dev_secrets import DEV_SECRETS_FILE, fill_and_keep_development_secrets
from app.log import configure_logging
from app.migrate import upgrade_database
from app.serve import CannotServe, share_with_workers
from app.serve import serve as run_server

if TYPE_CHECKING:
    from app.runtime import Runtime

T = TypeVar("T")


def _read_settings() -> Settings:
    """Settings from the environment; an invalid one is named and the command exits 2."""
    try:
        return Settings()
    except ValidationError as exc:
        # Inputs are left out: a rejected value may be a secret.
        problems = [
            f"  {'.'.join(str(part) for part in error['loc']).upper()}: {error['msg']}"
            for error in exc.errors(include_input=False)
        ]
        print("error: invalid settings:\n" + "\n".join(problems), file=sys.stderr)
        raise SystemExit(2) from exc


def _load_settings() -> Settings:
    """Settings from the environment, refusing production without secrets.

    Secrets generated for a development run are also put in this process's environment,
    so that the web processes `serve` starts use the same ones.
    """
    settings = _read_settings()
    try:
        check_production(settings)
        if settings.away_message:
            BusinessHours.from_settings(settings)
        _check_admin_login(settings)
    except (MissingSecretsError, InvalidBusinessHours, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc
    generated = fill_and_keep_development_secrets(settings, Path.cwd())
    if generated:
        kept = (
            f"values kept in {DEV_SECRETS_FILE} (made on the first start, reused on every start)"
            if settings.environment == "development"
            else "random values for this run"
        )
        print(
            f"{settings.environment}: these settings were not given, so {kept} are used:",
            file=sys.stderr,
        )
        for name, value in generated.items():
            print(f"  {name}={value}", file=sys.stderr)
        share_with_workers(generated)
    return settings


def _check_admin_login(settings: Settings) -> None:
    """Refuse an admin login that cannot work, before any process starts.

    A hash pasted unquoted into a shell or .env loses every `$part`: the one-line error
    says so, instead of a traceback from each web process.
    """
    if not settings.admin_username:
        return
    from app.admin.auth import check_password_hash

    check_password_hash(settings.admin_password_hash.get_secret_value())


def _positive_int(value: str) -> int:
    """argparse type of --workers: a whole number of at least 1."""
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {value!r}")
    return number


def serve(args: argparse.Namespace) -> None:
    """Migrate once, then run the web app (and, unless turned off, the worker) with uvicorn."""
    settings = _load_settings()
    configure_logging(settings.log_level, settings.log_format)
    try:
        run_server(
            settings,
            host=args.host or settings.host,
            port=args.port or settings.port,
            workers=args.workers or settings.web_concurrency,
        )
    except CannotServe as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc


def worker(args: argparse.Namespace) -> None:
    """Run only the job worker (for scale, beside web processes started with the worker off)."""
    import asyncio

    from app.jobs.worker import run_worker

    settings = _load_settings()
    if args.concurrency:
        settings.worker_concurrency = args.concurrency
    configure_logging(settings.log_level, settings.log_format)
    asyncio.run(run_worker(settings))


def migrate(_args: argparse.Namespace) -> None:
    """Apply every pending migration and exit."""
    settings = _read_settings()
    upgrade_database(settings.database_url, settings.database_pooler)


def _moment(value: str) -> datetime:
    """argparse type of --since/--until: ISO 8601, UTC unless it names its offset."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a date or time in ISO 8601: {value!r} (e.g. 2026-01-31 or 2026-01-31T09:00:00Z)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _with_runtime(work: Callable[[Runtime], Awaitable[T]]) -> T:
    """Run `work` on a Runtime of the environment's settings, closed afterwards."""
    import asyncio

    from app.runtime import Runtime

    settings = _read_settings()
    configure_logging(settings.log_level, settings.log_format)

    async def run() -> T:
        runtime = Runtime.create(settings)
        try:
            return await work(runtime)
        finally:
            await runtime.close()

    return asyncio.run(run())


def replay(args: argparse.Namespace) -> None:
    """Run the stored webhook events received since a moment through ingestion again."""
    from app.events.replay import replay_received

    report = _with_runtime(
        lambda runtime: replay_received(
            runtime, since=args.since, until=args.until, rejected_only=args.rejected
        )
    )
    print(
        f"replayed {report.events} events: {report.new_messages} new messages, "
        f"{report.new_statuses} new statuses; {report.still_rejected} events still "
        "have items that cannot be stored"
    )


def erase(args: argparse.Namespace) -> None:
    """Remove everything stored about a customer's number, and say what was removed."""
    from app.customers.exceptions import InvalidCustomerNumber
    from app.customers.schemas import ErasureReport
    from app.customers.service import erase_customer

    async def work(runtime: Runtime) -> ErasureReport:
        async with runtime.sessions() as session:
            report = await erase_customer(session, runtime.storage, args.phone)
            await session.commit()
        return report

    try:
        report = _with_runtime(work)
    except InvalidCustomerNumber as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        raise SystemExit(2) from exc
    removed = ", ".join(
        f"{count} {name.replace('_', ' ')}"
        for name, count in report.model_dump(exclude={"phone_number"}).items()
    )
    print(f"erased {report.phone_number}: {removed}")


def templates_sync(_args: argparse.Namespace) -> None:
    """Fetch the business account's templates from Meta into the database, once."""
    from app.errors import DomainError
    from app.message_templates.service import sync_templates
    from app.outbound.graph import GraphAPIError

    try:
        result = _with_runtime(lambda runtime: sync_templates(runtime, now=runtime.clock()))
    except DomainError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        raise SystemExit(2) from exc
    except GraphAPIError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1) from exc
    print(f"synced {result.templates} templates ({result.pages} pages)")


def hash_password(_args: argparse.Namespace) -> None:
    """Read a password and print its hash for ADMIN_PASSWORD_HASH."""
    from argon2 import PasswordHasher

    password = sys.stdin.readline().rstrip("\n") if not sys.stdin.isatty() else getpass.getpass()
    if not password:
        print("error: empty password", file=sys.stderr)
        raise SystemExit(2)
    print(PasswordHasher().hash(password))


def healthcheck(_args: argparse.Namespace) -> None:
    """Exit 0 when the server on this machine's PORT answers /healthz (the image's check)."""
    import httpx

    settings = _read_settings()
    url = f"http://127.0.0.1:{settings.port}/healthz"
    try:
        healthy = httpx.get(url, timeout=3).status_code == 200
    except httpx.HTTPError as exc:
        print(f"unhealthy: {url}: {type(exc).__name__}", file=sys.stderr)
        raise SystemExit(1) from exc
    if not healthy:
        print(f"unhealthy: {url} did not answer 200", file=sys.stderr)
        raise SystemExit(1)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `whatsapp-inbox` command."""
    parser = argparse.ArgumentParser(prog="whatsapp-inbox", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_serve = sub.add_parser("serve", help="migrate the database and serve the API")
    p_serve.add_argument("--host", default=None, help="address to bind (default: HOST)")
    p_serve.add_argument("--port", type=int, default=None, help="port (default: PORT or 8000)")
    p_serve.add_argument(
        "--workers",
        type=_positive_int,
        default=None,
        help="web processes (default: WEB_CONCURRENCY or 1)",
    )
    p_serve.set_defaults(func=serve)
    p_worker = sub.add_parser("worker", help="run the background job worker")
    p_worker.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="jobs run at once (default: WORKER_CONCURRENCY)",
    )
    p_worker.set_defaults(func=worker)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=migrate)
    p_templates = sub.add_parser("templates", help="message templates")
    templates_sub = p_templates.add_subparsers(dest="templates_command", required=True)
    templates_sub.add_parser(
        "sync", help="fetch the templates of WHATSAPP_BUSINESS_ACCOUNT_ID from Meta"
    ).set_defaults(func=templates_sync)
    sub.add_parser(
        "hash-password", help="print an ADMIN_PASSWORD_HASH for a password read from stdin"
    ).set_defaults(func=hash_password)
    p_replay = sub.add_parser(
        "replay",
        help="run stored webhook events through ingestion again (idempotent)",
    )
    p_replay.add_argument(
        "--since", type=_moment, required=True, help="events received at or after (ISO 8601)"
    )
    p_replay.add_argument(
        "--until", type=_moment, default=None, help="events received before (ISO 8601)"
    )
    p_replay.add_argument(
        "--rejected", action="store_true", help="only events with items that were not stored"
    )
    p_replay.set_defaults(func=replay)
    p_erase = sub.add_parser(
        "erase", help="remove everything stored about a customer (data-protection requests)"
    )
    p_erase.add_argument("--phone", required=True, help="the customer's number, any format")
    p_erase.set_defaults(func=erase)
    sub.add_parser(
        "healthcheck", help="exit 0 when the local server answers /healthz (for containers)"
    ).set_defaults(func=healthcheck)
    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
