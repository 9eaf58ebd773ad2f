"""Errors of the jobs domain: what a handler raises, and what the jobs API answers."""

from __future__ import annotations

from app.errors import DomainError, NotFound


class PermanentJobError(Exception):
    """A handler's failure that no retry can fix: the job goes dead at once.

    Raise it for bad payloads, files over Meta's limit, a message that no longer exists:
    anything where running the same job again would fail the same way. Its message
    becomes the job's last_error, so it must hold no secrets.
    """


class UncertainJobError(Exception):
    """A handler's call whose outcome cannot be known: the job stops as `uncertain`.

    Raise it when the job's call may have taken effect at Meta without its answer being
    recorded (an earlier run died in between, or the answer was lost on the way), and
    running it again could do the same thing twice (send a message twice). The job is
    never retried by itself; a person chooses "send again". Its message becomes the
    job's last_error.
    """


class RetryableJobError(Exception):
    """A handler's expected failure that a later attempt may not have (a service that is
    down): retried with backoff, and logged as a warning without a traceback. Its message
    becomes the job's last_error, so it must hold no secrets.
    """


class JobNotFound(NotFound):
    """No job has this id."""

    error = "job_not_found"


class JobNotRetryable(DomainError):
    """Only dead jobs and queued ones waiting for a retry can be retried now."""

    status_code = 409
    error = "job_not_retryable"


class JobNotUncertain(DomainError):
    """Only an `uncertain` job can be sent again."""

    status_code = 409
    error = "job_not_uncertain"
