"""What every admin list shares: a count that never walks a whole table, plain-text
search that also finds a phone number however it is written, and date-range filters."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, ClassVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from markupsafe import Markup
from sqladmin import ModelView
from sqladmin._types import _UNSET, UnsetAny
from sqlalchemy import Select, func, or_, select
from sqlalchemy.sql.selectable import Subquery
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from app.phone import InvalidPhoneNumber, normalize_phone_number

# sqladmin shows links to at most this many pages after the current one.
LOOKAHEAD_PAGES = 7
# The longest search term: longer ones find nothing a shorter one would not.
MAX_SEARCH_LENGTH = 200


class CountAtLeast(int):
    """A row count known only to be at least this many; it prints as "more than n-1".

    sqladmin's list footer formats the count with `%s`, so "Showing 1 to 25 of more than
    200 items" is said without changing its template.
    """

    def __str__(self) -> str:
        return f"more than {int(self) - 1}"


class InboxModelView(ModelView):
    """A ModelView fit for tables of millions of rows.

    sqladmin counts every matching row to draw its page links; here the count stops
    just past the last page link it can show, so every page costs about the same
    however large the table is.
    """

    can_create = False
    can_delete = False
    can_export = False
    list_template = "inbox/list.html"
    edit_template = "inbox/edit.html"
    details_template = "inbox/details.html"
    page_size = 25
    page_size_options: ClassVar[list[int]] = [25, 50, 100]

    async def count(self, request: Request, stmt: Select[Any] | None = None) -> int:
        """Count the rows of the list's query, but no more than the page links need.

        sqladmin passes `SELECT count(*) FROM (<filtered, sorted query>)`; the inner
        query is counted again with a LIMIT instead.
        """
        froms = stmt.get_final_froms() if stmt is not None else []
        if len(froms) != 1 or not isinstance(froms[0], Subquery):
            raise TypeError("the list count is expected to be taken over a subquery")
        listed = froms[0].element
        if not isinstance(listed, Select):
            raise TypeError("the list count is expected to be taken over a SELECT")
        page = self._requested_number(request, "page", 1)
        page_size = self._requested_number(request, "pageSize", self.page_size)
        page_size = min(page_size, max(self.page_size_options))
        limit = (page + LOOKAHEAD_PAGES) * page_size + 1
        bounded = listed.with_only_columns(*self.pk_columns).order_by(None).limit(limit)
        rows = await self._run_query(select(func.count()).select_from(bounded.subquery()))
        found = int(rows[0])
        return CountAtLeast(found) if found >= limit else found

    async def edit_context(self, request: Request) -> dict[str, Any]:
        """Where the agent came from (a `next` path, else the page that linked here), so
        that saving brings them back there, filters and all."""
        back = request.query_params.get("next") or request.headers.get("referer", "")
        return {"back_url": admin_path(request, back)}

    async def after_model_change(
        self, data: dict[str, Any], model: Any, is_created: bool, request: Request
    ) -> Response | None:
        """After "Save", back to where the agent was (else sqladmin's list)."""
        form = await request.form()
        back = admin_path(request, str(form.get("next", "")))
        if back is None or form.get("save") != "Save":
            return None
        return RedirectResponse(back, status_code=302)

    def _requested_number(self, request: Request, name: str, default: int) -> int:
        number = int(self.validate_page_number(request.query_params.get(name), default))
        return max(number, 1)

    def search_query(self, stmt: Select[Any], term: str) -> Select[Any]:
        """Rows where any searchable column contains the term, as plain text.

        LIKE wildcards in the term match only themselves. A term that is a phone
        number (`+91 98765-43210`) is also looked up in Meta's form (`919876543210`).
        """
        term = term.strip()
        if len(term) > MAX_SEARCH_LENGTH:
            raise HTTPException(
                status_code=400,
                detail=f"search is longer than {MAX_SEARCH_LENGTH} characters",
            )
        terms = {term}
        with contextlib.suppress(InvalidPhoneNumber):
            terms.add(normalize_phone_number(term))
        columns = [getattr(self.model, name) for name in self._search_fields]
        return stmt.where(
            or_(*(column.icontains(t, autoescape=True) for column in columns for t in terms))
        )

    def _stmt_by_identifier(self, identifier: str) -> Select[Any]:
        # sqladmin converts the path's pk with int(); a pk that is not a number names
        # no row, so it is a 404 rather than a server error.
        if not identifier.isdigit():
            raise HTTPException(status_code=404, detail=f"no row with id {identifier!r}")
        stmt: Select[Any] = super()._stmt_by_identifier(identifier)
        return stmt


class DateBoundFilter:
    """One end of a date range on a timestamp column, as a sqladmin list filter.

    The value is a day (`2024-01-31`, UTC); the start bound keeps rows from the
    beginning of that day, the end bound rows up to the end of it.
    """

    has_operator = False
    template = "inbox/date_filter.html"
    default_value: UnsetAny = _UNSET

    def __init__(self, column: Any, *, end: bool, title: str, parameter_name: str) -> None:
        self.column = column
        self.end = end
        self.title = title
        self.parameter_name = parameter_name

    async def lookups(self, request: Request, model: Any, run_query: Any) -> list[tuple[str, str]]:
        """No fixed choices: the template shows a date input."""
        return []

    async def get_filtered_query(self, query: Select[Any], value: Any, model: Any) -> Select[Any]:
        """`query` restricted to this bound, or a 400 naming the parameter and the format."""
        try:
            day = date.fromisoformat(str(value).strip())
        except ValueError:
            raise HTTPException(
                status_code=400,
                detail=f"{self.parameter_name} must be a date written as YYYY-MM-DD",
            ) from None
        start = datetime.combine(day, time.min, tzinfo=UTC)
        if self.end:
            return query.where(self.column < start + timedelta(days=1))
        return query.where(self.column >= start)


def admin_path(request: Request, url: str) -> str | None:
    """`url` as a path and query inside the admin panel (of this host), else None: a form
    never sends the agent anywhere else."""
    parts = urlsplit(url)
    admin_root = urlsplit(str(request.url_for("admin:index"))).path
    if parts.scheme not in ("", "http", "https") or parts.netloc not in ("", request.url.netloc):
        return None
    if not parts.path.startswith(admin_root) or "\\" in url:
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


def business_zone(request: Request) -> tzinfo:
    """BUSINESS_TIMEZONE, in which the admin shows every time (UTC if it is not a zone)."""
    name = request.app.state.runtime.settings.business_timezone
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def format_time(value: datetime | None, zone: tzinfo = UTC) -> str:
    """A timestamp as people read it, in `zone`: `2024-01-15 10:30:00 CET`."""
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z") if value else ""


def short_time(value: datetime | None, zone: tzinfo, now: datetime) -> str:
    """A timestamp as a list shows it: the time today, else the day and the time."""
    if value is None:
        return ""
    local = value.astimezone(zone)
    if local.date() == now.astimezone(zone).date():
        return local.strftime("%H:%M")
    return local.strftime("%Y-%m-%d %H:%M")


def pretty_json(value: Any) -> Markup:
    """JSON indented in a <pre> block (escaped), or nothing for None."""
    if value is None:
        return Markup("")
    text = json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)
    return Markup('<pre class="inbox-json">{}</pre>').format(text)


def shorten(text: str | None, length: int = 80) -> str:
    """The first `length` characters of `text`, with an ellipsis when cut."""
    if not text:
        return ""
    return text if len(text) <= length else text[: length - 1] + "…"
