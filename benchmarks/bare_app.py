"""The ceiling of the stack: FastAPI with the webhook's signature check, and nothing else.

One POST route that reads the raw body, checks X-Hub-Signature-256 in constant time and
answers 200: no database, no parsing. Whatever the service does beyond this is what a
delivery costs. `benchmarks.ingest_ratio` runs it under uvicorn:

    .venv/bin/uvicorn benchmarks.bare_app:app --workers 2 --no-access-log
"""

from __future__ import annotations

import hashlib
import hmac
import os

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

SECRET = os.environ.get("WHATSAPP_APP_SECRET", "bench-secret").encode()
app = FastAPI()


@app.post("/api/whatsapp/webhook/")
async def webhook(request: Request) -> JSONResponse:
    """Answer 200 to a correctly signed body, 403 to any other."""
    body = await request.body()
    expected = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(request.headers.get("x-hub-signature-256", ""), expected):
        return JSONResponse({"error": "forbidden"}, status_code=403)
    return JSONResponse({"ok": True})
