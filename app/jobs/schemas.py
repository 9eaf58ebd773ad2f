"""Shapes of the jobs API: list filters and the job as clients see it."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.pagination import PageParams

JobStateName = Literal["queued", "running", "done", "dead", "uncertain"]


class JobListParams(PageParams):
    """Filters and paging of the job list; every filter given must match."""

    state: JobStateName | None = Field(
        None,
        description="`queued` (waiting, maybe for a retry), `running`, `done`, `dead` "
        "(failed for good; see last_error) or `uncertain` (a send whose answer from Meta "
        "was never recorded: it may have gone out; POST …/send-again to send anyway).",
    )
    kind: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        description="The job kind: media.download, message.send, message.read_receipt, "
        "auto_reply.send.",
        examples=["media.download"],
    )


class JobOut(BaseModel):
    """A background job: what it does, where it stands, and how its last run went."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 311,
                    "kind": "media.download",
                    "payload": {"message_id": "wamid.HBgMOTE5ODc2NTQzMjEwFQIAEhgU"},
                    "state": "queued",
                    "attempts": 2,
                    "max_attempts": 8,
                    "run_after": "2024-01-15T10:30:09Z",
                    "locked_by": None,
                    "locked_until": None,
                    "last_error": "Graph API error 131000: Something went wrong",
                    "result": None,
                    "created_at": "2024-01-15T10:30:00Z",
                    "updated_at": "2024-01-15T10:30:05Z",
                    "finished_at": None,
                }
            ]
        },
    )

    id: int
    kind: str
    payload: Any
    state: JobStateName
    attempts: int = Field(description="Runs started so far (reset by a retry).")
    max_attempts: int = Field(description="After this many failed runs the job is dead.")
    run_after: datetime = Field(description="A queued job does not run before this time.")
    locked_by: str | None = Field(description="The worker running the job.")
    locked_until: datetime | None = Field(
        description="The running job's lease; past it, another worker reclaims the job."
    )
    last_error: str | None
    result: Any | None = Field(description="What the job's handler returned when done.")
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    call_started_at: datetime | None = Field(
        None, description="When a run began its send to Meta (send jobs); kept until done."
    )


class JobList(BaseModel):
    """A page of jobs, newest first."""

    count: int = Field(description="The number of jobs in this page (not in the table).")
    jobs: list[JobOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )
