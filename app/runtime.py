"""What one process holds for its lifetime: settings, engine, sessions, HTTP and Graph clients."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.config import Settings
from app.db import create_engine, session_factory
from app.media.storage import MediaStorage, create_storage
from app.outbound.graph import GraphClient
from app.webhook.reader import BodyReader


@dataclass
class Runtime:
    """Shared by the web app and the worker; built once, closed once."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    http: httpx.AsyncClient
    graph: GraphClient
    storage: MediaStorage
    body_reader: BodyReader

    @classmethod
    def create(cls, settings: Settings) -> Runtime:
        """Open the engine and the HTTP client for `settings`."""
        engine = create_engine(settings.database_url, pooler=settings.database_pooler)
        http = GraphClient.create_http_client(settings)
        return cls(
            settings=settings,
            engine=engine,
            sessions=session_factory(engine),
            http=http,
            graph=GraphClient(http, settings),
            storage=create_storage(settings),
            body_reader=BodyReader(),
        )

    async def close(self) -> None:
        """Release connections; safe to call once at shutdown."""
        await self.http.aclose()
        await self.storage.close()
        await self.engine.dispose()
        self.body_reader.close()
