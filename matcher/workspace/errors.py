"""Errors of the workspace: each says what happened and what to do, to be shown as it is.

Their message (and the message of each problem of a ProfileValidationError the workspace raises)
is a matcher.wording.Reason: the English text, as the CLI prints it, that keeps its template and
values (the cities it names as matcher.wording.City), so the app words it in the user's language.
"""
from __future__ import annotations

from ..errors import MatcherError


class WorkspaceError(MatcherError):
    """A workspace operation cannot be done (unknown id, restore into a used database, ...)."""


class NotFoundError(WorkspaceError, LookupError):
    """An id (post, organisation, saved item, user, version) does not exist."""


class PermissionDeniedError(WorkspaceError, PermissionError):
    """The acting user's role does not allow the change (checked in the library, not only the app)."""


class AuthenticationError(WorkspaceError):
    """Unknown user, wrong password or deactivated account (one message for all three)."""


class ConflictError(WorkspaceError):
    """Someone else saved the profile since the caller read it (optimistic locking).

    Carries who changed it and when, the version the caller expected, the current one and the
    caller's own changes, so nothing the caller typed is lost: re-read, re-apply, save again.
    """

    def __init__(self, city_id: str, expected_version: int, current_version: int,
                 changed_by: str | None, changed_at, attempted: dict):
        self.city_id = city_id
        self.expected_version = expected_version
        self.current_version = current_version
        self.changed_by = changed_by
        self.changed_at = changed_at
        self.attempted = dict(attempted)
        when = changed_at.strftime("%Y-%m-%d %H:%M:%S UTC") if changed_at is not None else "an unknown time"
        super().__init__(
            f"Conflict on profile '{city_id}': you edited version {expected_version}, but "
            f"{changed_by or 'someone'} saved version {current_version} at {when}. Nothing was saved; "
            f"your changes ({', '.join(sorted(self.attempted)) or 'none'}) are kept: reload the profile "
            f"and apply them again.")
