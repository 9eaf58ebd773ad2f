"""Assembles the application: settings, runtime, middleware, routers, lifespan."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app.admin import ADMIN_OFF_MESSAGE
from app.calls.endpoints import router as calls_router
from app.changes.endpoints import router as changes_router
from app.config import Settings, get_settings
from app.conversations.endpoints import conversations_page
from app.conversations.endpoints import router as conversations_router
from app.conversations.schemas import ConversationListParams
from app.customers.endpoints import router as customers_router
from app.docs import install_docs
from app.errors import install_error_handlers
from app.events.endpoints import router as events_router
from app.fast_paths import FastPaths, Handler, list_handler
from app.health.endpoints import router as health_router
from app.jobs.endpoints import router as jobs_router
from app.jobs.worker import Worker
from app.log import install_redaction
from app.media.endpoints import router as media_router
from app.message_templates.endpoints import router as templates_router
from app.messages.endpoints import messages_page
from app.messages.endpoints import router as messages_router
from app.messages.schemas import MessageListParams
from app.metrics.endpoints import router as metrics_router
from app.metrics.middleware import WebhookMetrics
from app.middleware import BodySizeLimit, QueryGuard, RequestId
from app.outbound.endpoints import router as outbound_router
from app.runtime import Runtime
from app.subscriptions.dispatcher import Dispatcher
from app.subscriptions.endpoints import router as subscriptions_router
from app.webhook.endpoints import receive_webhook
from app.webhook.endpoints import router as webhook_router
from app.webhook.group_commit import GroupCommit

logger = logging.getLogger(__name__)

API_PREFIX = "/api/whatsapp"
# Media uploads carry files far larger than any webhook; they check their own limit.
UPLOAD_PATHS = (f"{API_PREFIX}/media/",)

DESCRIPTION = """
The WhatsApp Business Cloud API back end: Meta delivers messages and statuses to the
webhook; internal services read and answer them here.

Every route under `/api/whatsapp/` except the webhook needs an API key: press
**Authorize** and paste one of the keys from the `API_KEYS` setting.
"""


def fast_routes() -> dict[tuple[str, str], Handler]:
    """The routes answered ahead of routing (app.fast_paths): the webhook's deliveries
    and the two lists that services poll."""
    return {
        ("POST", f"{API_PREFIX}/webhook/"): receive_webhook,
        ("POST", f"{API_PREFIX}/webhook"): receive_webhook,
        ("GET", f"{API_PREFIX}/messages/"): list_handler(MessageListParams, messages_page),
        ("GET", f"{API_PREFIX}/conversations/"): list_handler(
            ConversationListParams, conversations_page
        ),
    }


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app for `settings` (the environment's when not given)."""
    settings = settings or get_settings()
    runtime = Runtime.create(settings)
    ingest = GroupCommit(runtime.sessions, settings, runtime.outage)
    install_redaction()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Everything loaded at start-up lives as long as the process: moved out of the
        # garbage collector's sight, it no longer lengthens the full collections that a
        # large delivery's rows set off, which hold the event loop while they run.
        gc.collect()
        gc.freeze()
        await runtime.changes.start()
        worker = Worker(runtime) if settings.worker_enabled else None
        dispatcher = Dispatcher(runtime) if settings.worker_enabled else None
        if worker is not None and dispatcher is not None:
            await worker.start()
            await dispatcher.start()
        try:
            yield
        finally:
            await ingest.close()
            if dispatcher is not None:
                await dispatcher.stop()
            if worker is not None:
                await worker.stop()
            await runtime.close()

    app = FastAPI(
        title="whatsapp-inbox",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.runtime = runtime
    app.state.ingest = ingest
    # Declared first, so it runs inside the body-size limit.
    app.add_middleware(FastPaths, routes=fast_routes(), exception_handlers=app.exception_handlers)
    app.add_middleware(
        BodySizeLimit, max_bytes=settings.max_body_bytes, exempt_prefixes=UPLOAD_PATHS
    )
    # Outside the size limit, so that a 413 is counted and carries the request id.
    app.add_middleware(WebhookMetrics, path=f"{API_PREFIX}/webhook/")
    app.add_middleware(QueryGuard)
    app.add_middleware(RequestId)
    install_error_handlers(app)
    install_docs(app)
    app.include_router(health_router)
    app.include_router(metrics_router)
    app.include_router(webhook_router, prefix=API_PREFIX)
    app.include_router(messages_router, prefix=API_PREFIX)
    app.include_router(outbound_router, prefix=API_PREFIX)
    app.include_router(conversations_router, prefix=API_PREFIX)
    app.include_router(media_router, prefix=API_PREFIX)
    app.include_router(jobs_router, prefix=API_PREFIX)
    app.include_router(events_router, prefix=API_PREFIX)
    app.include_router(customers_router, prefix=API_PREFIX)
    app.include_router(calls_router, prefix=API_PREFIX)
    app.include_router(templates_router, prefix=API_PREFIX)
    app.include_router(changes_router, prefix=API_PREFIX)
    app.include_router(subscriptions_router, prefix=API_PREFIX)
    if settings.admin_enabled:
        # Imported here so that sqladmin is loaded only when the panel is on.
        from app.admin.setup import mount_admin

        mount_admin(app, runtime)
    else:
        from app.admin.off import router as admin_off_router

        app.include_router(admin_off_router)
        logger.warning(ADMIN_OFF_MESSAGE)
    return app
