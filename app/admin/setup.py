"""Mounting the admin panel at /admin: login, views, and the panel's own static files."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from sqladmin import Admin
from sqladmin.authentication import login_required
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from app.admin.auth import AdminAuth
from app.admin.views import VIEWS
from app.db import session_factory
from app.runtime import Runtime

ADMIN_PATH = "/admin"
HERE = Path(__file__).resolve().parent


class InboxAdmin(Admin):
    """sqladmin's Admin, opening on the conversations instead of an empty index page."""

    @login_required
    async def index(self, request: Request) -> Response:
        """Go to the conversations list."""
        return RedirectResponse(request.url_for("admin:list", identity="conversation"))


def mount_admin(app: FastAPI, runtime: Runtime) -> Admin:
    """Mount the admin panel on `app`; every page and media file behind the login.

    sqladmin gets a session factory of its own on the shared engine, because it
    reconfigures the factory it is given.
    """
    auth = AdminAuth(runtime.settings)
    admin = InboxAdmin(
        app,
        session_maker=session_factory(runtime.engine),
        base_url=ADMIN_PATH,
        title="WhatsApp inbox",
        authentication_backend=auth,
        templates_dir=str(HERE / "templates"),
    )
    auth.templates = admin.templates
    admin.admin.state.runtime = runtime
    admin.admin.router.routes.insert(
        0,
        Mount(
            "/inbox-statics",
            app=StaticFiles(directory=HERE / "static"),
            name="inbox-statics",
        ),
    )
    for view in VIEWS:
        admin.add_view(view)
    return admin
