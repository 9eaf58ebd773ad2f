# The service installed as a package (`pip install .`, not editable) into a virtualenv,
# built in one stage and copied into a clean one: the image holds no source tree. The
# base image is pinned by digest (python:3.12-slim as resolved when last updated), so
# every build starts from the same bytes; update the tag and digest together.
FROM python:3.12-slim@sha256:78387bc3881b8273120a12ebe6c1ab22b018ccc2c9adf565ae1ac9b536e184ea AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY app ./app
RUN python -m venv /opt/whatsapp-inbox \
    && /opt/whatsapp-inbox/bin/pip install --no-cache-dir .

FROM python:3.12-slim@sha256:78387bc3881b8273120a12ebe6c1ab22b018ccc2c9adf565ae1ac9b536e184ea

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin inbox
COPY --from=build /opt/whatsapp-inbox /opt/whatsapp-inbox

WORKDIR /app
RUN mkdir -p /app/data /app/media \
    && chown inbox:inbox /app/data /app/media

USER 10001:10001

# Production refuses to start without its secrets; the platform provides them and
# DATABASE_URL (the SQLite default below is for a single container only).
# WEB_CONCURRENCY: web processes of `serve`, two for an instance of 1-2 vCPUs; raise it
# with the instance's cores (README.md, Deploying). LOG_FORMAT=json: one JSON object per
# line, for the platform's log search.
ENV ENVIRONMENT=production \
    HOST=0.0.0.0 \
    PORT=8000 \
    WEB_CONCURRENCY=2 \
    LOG_FORMAT=json \
    DATABASE_URL=sqlite+aiosqlite:////app/data/whatsapp_inbox.db \
    MEDIA_DIR=/app/media \
    PATH=/opt/whatsapp-inbox/bin:$PATH

EXPOSE 8000
# Healthy while the server answers /healthz on $PORT (the database is /readyz's concern:
# an outage must not get a working container replaced).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["whatsapp-inbox", "healthcheck"]
CMD ["whatsapp-inbox", "serve"]
