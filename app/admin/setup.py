"""Mounting the admin panel at /admin: login, views, and the panel's own static files."""

from __future__ import annotations

from pathlib import Path
from types import MethodType
from typing import Any

from fastapi import FastAPI
from sqladmin import Admin, BaseView, ModelView
from sqladmin.authentication import login_required
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from app.admin.auth import AdminAuth
from app.admin.guard import AdminRequestGuard
from app.admin.views import VIEWS
from app.db import session_factory
from app.runtime import Runtime

ADMIN_PATH = "/admin"
HERE = Path(__file__).resolve().parent


class InboxAdmin(Admin):
    """sqladmin's Admin, opening on the conversations instead of an empty index page, with
    every state change (actions, logout) a POST, so that the CSRF check covers it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for index, route in enumerate(self.admin.router.routes):
            if isinstance(route, Route) and route.name == "logout":
                self.admin.router.routes[index] = Route(
                    route.path, endpoint=self.logout, name="logout", methods=["POST"]
                )

    @login_required
    async def index(self, request: Request) -> Response:
        """Go to the conversations list."""
        return RedirectResponse(request.url_for("admin:list", identity="conversation"))

    def _handle_action_decorated_func(
        self,
        func: MethodType,
        view: type[BaseView | ModelView],
        view_instance: BaseView | ModelView,
    ) -> None:
        # sqladmin registers actions as GET routes; the same routes answer POST only here.
        super()._handle_action_decorated_func(func, view, view_instance)
        if hasattr(func, "_action"):
            route = self.admin.router.routes[-1]
            assert isinstance(route, Route) and route.endpoint == func
            route.methods = {"POST"}


def mount_admin(app: FastAPI, runtime: Runtime) -> Admin:
    """Mount the admin panel on `app`; every page and media file behind the login.

    sqladmin gets a session factory of its own on the shared engine, because it
    reconfigures the factory it is given.
    """
    auth = AdminAuth(runtime)
    admin = InboxAdmin(
        app,
        session_maker=session_factory(runtime.engine),
        base_url=ADMIN_PATH,
        title="WhatsApp inbox",
        authentication_backend=auth,
        templates_dir=str(HERE / "templates"),
    )
    auth.templates = admin.templates
    admin.templates.env.globals["csrf_token"] = auth.csrf_token
    # Inside the session middleware sqladmin installed, so the guard sees the session.
    admin.admin.user_middleware.append(
        Middleware(AdminRequestGuard, expected_token=auth.csrf_token)
    )
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
