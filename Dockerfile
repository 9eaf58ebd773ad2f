# The same install as README.md: a virtualenv with the project installed from source.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin inbox

WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY migrations ./migrations
RUN python -m venv /app/.venv \
    && /app/.venv/bin/pip install -e . \
    && mkdir -p /app/data /app/media \
    && chown inbox:inbox /app/data /app/media

USER 10001:10001

# Production refuses to start without its secrets; the platform provides them and
# DATABASE_URL (the SQLite default below is for a single container only).
# WEB_CONCURRENCY: web processes of `serve`, two for an instance of 1-2 vCPUs; raise it
# with the instance's cores (README.md, Deploying).
ENV ENVIRONMENT=production \
    HOST=0.0.0.0 \
    PORT=8000 \
    WEB_CONCURRENCY=2 \
    DATABASE_URL=sqlite+aiosqlite:////app/data/whatsapp_inbox.db \
    MEDIA_DIR=/app/media \
    PATH=/app/.venv/bin:$PATH

EXPOSE 8000
CMD ["whatsapp-inbox", "serve"]
