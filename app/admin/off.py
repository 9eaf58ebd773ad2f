"""What /admin answers while the panel is off: a page that says how to turn it on."""

from __future__ import annotations

from html import escape

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from app.admin import ADMIN_OFF_MESSAGE

router = APIRouter(include_in_schema=False)

_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Admin panel is off · whatsapp-inbox</title>
<style>body{{font-family:system-ui,sans-serif;max-width:42rem;margin:3rem auto;padding:0 1rem;
line-height:1.5}}code,pre{{background:#f3f3f3;padding:.1rem .3rem;border-radius:3px}}
pre{{padding:.8rem;overflow-x:auto}}</style></head>
<body>
<h1>The admin panel is off</h1>
<p>{message}.</p>
<ol>
<li>Make a password hash: <pre>whatsapp-inbox hash-password</pre></li>
<li>Set the login, the hash in <strong>single quotes</strong> (a shell or <code>.env</code>
file would otherwise take each <code>$…</code> of it for a variable):
<pre>ADMIN_USERNAME=admin
ADMIN_PASSWORD_HASH='$argon2id$v=19$m=65536,t=3,p=4$…'</pre></li>
<li>In production, also set <code>SESSION_SECRET</code> to a long random value.</li>
<li>Restart the service and open <a href="/admin">/admin</a> again.</li>
</ol>
</body>
</html>
"""


@router.get("/admin", response_class=HTMLResponse)
@router.get("/admin/{_rest:path}", response_class=HTMLResponse)
async def admin_is_off() -> HTMLResponse:
    """404 with the steps that turn the panel on."""
    return HTMLResponse(_PAGE.format(message=escape(ADMIN_OFF_MESSAGE)), status_code=404)
