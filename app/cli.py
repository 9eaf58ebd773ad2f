"""The `whatsapp-inbox` command: serve, worker, migrate, templates sync, hash-password."""

from __future__ import annotations

import argparse
import getpass
import sys

from pydantic import ValidationError

from app.autoreply.rules import BusinessHours, InvalidBusinessHours
from app.config import MissingSecretsError, Settings, check_production, fill_development_secrets
from app.log import configure_logging
from app.migrate import upgrade_database
from app.serve import CannotServe, share_with_workers
from app.serve import serve as run_server


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
    except (MissingSecretsError, InvalidBusinessHours) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc
    generated = fill_development_secrets(settings)
    if generated:
        print(
            f"{settings.environment}: these settings were not given, so random values are "
            "used for this run:",
            file=sys.stderr,
        )
        for name, value in generated.items():
            print(f"  {name}={value}", file=sys.stderr)
        share_with_workers(generated)
    return settings


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
    configure_logging(settings.log_level)
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
    configure_logging(settings.log_level)
    asyncio.run(run_worker(settings))


def migrate(_args: argparse.Namespace) -> None:
    """Apply every pending migration and exit."""
    settings = _read_settings()
    upgrade_database(settings.database_url, settings.database_pooler)


def templates_sync(_args: argparse.Namespace) -> None:
    """Fetch the business account's templates from Meta into the database, once."""
    import asyncio

    from app.errors import DomainError
    from app.message_templates.service import sync_templates
    from app.outbound.graph import GraphAPIError
    from app.runtime import Runtime

    settings = _read_settings()
    configure_logging(settings.log_level)

    async def run() -> str:
        runtime = Runtime.create(settings)
        try:
            result = await sync_templates(runtime, now=runtime.clock())
        finally:
            await runtime.close()
        return f"synced {result.templates} templates ({result.pages} pages)"

    try:
        print(asyncio.run(run()))
    except DomainError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        raise SystemExit(2) from exc
    except GraphAPIError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1) from exc


def hash_password(_args: argparse.Namespace) -> None:
    """Read a password and print its hash for ADMIN_PASSWORD_HASH."""
    from argon2 import PasswordHasher

    password = sys.stdin.readline().rstrip("\n") if not sys.stdin.isatty() else getpass.getpass()
    if not password:
        print("error: empty password", file=sys.stderr)
        raise SystemExit(2)
    print(PasswordHasher().hash(password))


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
    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
