"""The workspace: where a network's data lives (issue 12).

Versioned city profiles over the shipped data, the board of needs and offers, the register of
organisations, saved work, users with roles and an audit log, in SQLite (default) or PostgreSQL.
The public API is plain functions over a `Workspace` handle and frozen dataclasses; no ORM
object leaves the package.
"""
from __future__ import annotations

from .audit import AuditRecord, audit_log
from .board import KINDS as POST_KINDS
from .board import (BoardPost, create_post, get_post, hide_post, list_posts, post_markdown, set_post_status,
                    tag_vocabulary)
from .db import ENV_URL, Workspace, default_db_url, open_workspace, resolve_url
from .errors import (AuthenticationError, ConflictError, NotFoundError, PermissionDeniedError, WorkspaceError)
from .orgs import KINDS as ORG_KINDS
from .orgs import (OrganisationInfo, add_organisation, approve_organisation, list_organisations,
                   review_organisation)
from .profiles import (ChangeSet, ProfileVersionInfo, base_profiles, change_counter, changed_since, city_label,
                       compare_versions, find_city, get_profile, get_version, latest_profiles, merged_profiles,
                       profile_history, revert_profile, set_profile, share_base_profiles)
from .saved import KINDS as SAVED_KINDS
from .saved import SavedWork, compare_saved, delete_saved, list_saved, load_saved, save_work
from .survey_import import WorkspaceSurveyImport, import_survey_to_workspace
from .transfer import TransferReport, export_workspace, restore_workspace
from .users import (ROLES, Actor, authenticate, create_first_admin, create_user, get_user, list_users,
                    set_user_active)


def init_workspace(db=None, *, admin_email: str | None = None, admin_password: str | None = None,
                   data_dir=None) -> tuple[Workspace, Actor | None]:
    """Create or upgrade the workspace database; with `admin_email`, add the first admin."""
    ws = open_workspace(db, data_dir=data_dir)
    admin = create_first_admin(ws, admin_email, admin_password) if admin_email else None
    return ws, admin


__all__ = [
    "ENV_URL", "share_base_profiles",
    "Actor", "AuditRecord", "ORG_KINDS", "POST_KINDS", "SAVED_KINDS", "AuthenticationError", "BoardPost", "ChangeSet", "ConflictError", "NotFoundError",
    "OrganisationInfo", "PermissionDeniedError", "ProfileVersionInfo", "ROLES", "SavedWork", "TransferReport",
    "Workspace", "WorkspaceError", "WorkspaceSurveyImport", "add_organisation", "approve_organisation", "audit_log",
    "authenticate", "base_profiles", "change_counter", "changed_since", "city_label", "compare_saved", "compare_versions",
    "create_first_admin", "create_post", "create_user", "default_db_url", "delete_saved", "export_workspace",
    "find_city", "get_post", "get_profile", "get_user", "get_version", "hide_post", "import_survey_to_workspace",
    "init_workspace", "latest_profiles", "list_organisations", "list_posts", "list_saved", "list_users",
    "load_saved", "merged_profiles", "open_workspace", "post_markdown", "profile_history", "resolve_url",
    "restore_workspace", "review_organisation", "revert_profile", "save_work", "set_post_status", "set_profile",
    "set_user_active", "tag_vocabulary",
]
