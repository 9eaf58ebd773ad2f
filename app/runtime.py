"""What one process holds for its lifetime: settings, engine, sessions, HTTP and Graph clients."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.changes.bus import ChangeBus
from app.config import Settings
from app.db import Clock, create_engine, read_only, session_factory, utcnow
from app.media.storage import MediaStorage, create_storage
from app.outage import OutageTracker
from app.outbound.graph import GraphClient
from app.webhook.reader import BodyReader


@dataclass
class Runtime:
    """Shared by the web app and the worker; built once, closed once."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    # Sessions of requests that only read (see app.db.read_only).
    reads: async_sessionmaker[AsyncSession]
    http: httpx.AsyncClient
    graph: GraphClient
    storage: MediaStorage
    body_reader: BodyReader
    # Wakes readers of the change-event stream when new events are committed.
    changes: ChangeBus
    # The process's view of the database's availability, shared by requests and worker.
    outage: OutageTracker = field(default_factory=OutageTracker)
    # Routes and the worker read the time here, so that tests can fix it.
    clock: Clock = utcnow

    @classmethod
    def create(cls, settings: Settings, *, clock: Clock = utcnow) -> Runtime:
        """Open the engine and the HTTP client for `settings`; `clock` tells the time."""
        engine = create_engine(settings.database_url, pooler=settings.database_pooler)
        http = GraphClient.create_http_client(settings)
        sessions = session_factory(engine)
        return cls(
            settings=settings,
            engine=engine,
            sessions=sessions,
            reads=session_factory(read_only(engine)),
            http=http,
            graph=GraphClient(http, settings),
            storage=create_storage(settings),
            body_reader=BodyReader(),
            changes=ChangeBus(engine),
            clock=clock,
        )

    async def close(self) -> None:
        """Release connections; safe to call once at shutdown."""
        await self.changes.close()
        await self.http.aclose()
        await self.storage.close()
        await self.engine.dispose()
        await self.body_reader.close()
