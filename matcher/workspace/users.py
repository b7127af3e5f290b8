"""Users, roles and permissions.

Roles: `admin` (network admin: everything, moderation, approving organisations), `officer`
(edits only their own city's profile and posts for it) and `viewer` (reads). Every mutating
function takes an `actor` and re-reads that user from the database in its own transaction, so
a stale or hand-made Actor cannot gain rights. Passwords are hashed with Argon2id (argon2-cffi).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..errors import ProfileValidationError
from ..wording import R_, City, Reason
from . import audit
from ._validate import choice, problem, text, utc
from .db import Workspace
from .errors import AuthenticationError, NotFoundError, PermissionDeniedError, WorkspaceError
from .models import User

ROLES = ("admin", "officer", "viewer")
MIN_PASSWORD_CHARS = 8
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_hasher = PasswordHasher()


@dataclass(frozen=True)
class Actor:
    """Who is acting: what the app keeps after login and the CLI after `--as EMAIL`."""

    id: int
    email: str
    role: str
    city_id: str | None = None
    active: bool = True
    created_at: datetime | None = None


def _actor(u: User) -> Actor:
    return Actor(u.id, u.email, u.role, u.city_id, bool(u.active), utc(u.created_at))


def _email(value) -> str:
    value = text("user", "email", value, max_chars=320)
    value = value.strip().lower()
    if not _EMAIL.match(value):
        raise problem("user", "email", value, Reason("'{value}' is not an email address", value=value))
    return value


def _check_password(password) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_CHARS:
        raise problem("user", "password", None, Reason("the password must have at least {n} characters",
                                                       n=MIN_PASSWORD_CHARS))
    return password


def load_actor(session: Session, actor: Actor | None) -> User:
    """The acting user as stored now; refuses a missing or deactivated one."""
    if actor is None:
        raise PermissionDeniedError(Reason("this change needs a signed-in user"))
    user = session.get(User, actor.id)
    if user is None or not user.active or user.email != actor.email:
        raise PermissionDeniedError(Reason("user '{who}' is unknown or deactivated", who=actor.email))
    return user


def require(user: User, action: str, city_id: str | None = None, name=str) -> None:
    """Raise PermissionDeniedError unless `user` may do `action` (on `city_id`; `name` words a
    city id for the message, e.g. 'Milton Keynes (GB)').

    admin: anything. officer: edit_profile/post for their own city, register an organisation,
    save work. viewer: nothing that changes data.
    """
    if user.role == "admin":
        return
    if user.role == "officer":
        if action in ("edit_profile", "post"):
            if city_id is not None and city_id == user.city_id:
                return
            raise PermissionDeniedError(Reason(_NOT_THEIR_CITY[action], who=user.email,
                                               city=City(user.city_id, name(user.city_id)),
                                               other=City(city_id, name(city_id))))
        if action in ("add_organisation", "save_work"):
            return
    verb = _VERB.get(action, action)
    raise PermissionDeniedError(Reason("{who} ({role}) is not allowed to {action}", who=user.email,
                                       role=Reason(_ROLE_WORDS.get(user.role, user.role)),
                                       action=Reason(verb, city=City(city_id, name(city_id))) if city_id
                                       else Reason(verb.removesuffix(" '{city}'"))))


# What each action is, in the refusal's words (the city, where one is named, as '{city}').
_VERB = {"edit_profile": R_("edit the profile of '{city}'"), "post": R_("post on the board for '{city}'"),
         "moderate": R_("moderate the board"), "approve_organisation": R_("approve organisations"),
         "manage_users": R_("manage users"), "add_organisation": R_("register organisations"),
         "save_work": R_("save work"), "import": R_("import surveys"),
         "transfer": R_("export or restore the workspace"),
         "delete others' saved work": R_("delete others' saved work")}
_NOT_THEIR_CITY = {"edit_profile": R_("{who} is the officer of '{city}' and cannot edit the profile of '{other}'"),
                   "post": R_("{who} is the officer of '{city}' and cannot post on the board for '{other}'")}
_ROLE_WORDS = {"admin": R_("admin"), "officer": R_("officer"), "viewer": R_("viewer")}


def create_user(ws: Workspace, email: str, password: str, role: str, actor: Actor, *,
                city_id: str | None = None) -> Actor:
    """An admin adds a user; an officer must name their city."""
    email, password = _email(email), _check_password(password)
    choice("user", "role", role, ROLES)
    if role == "officer" and not city_id:
        raise problem("user", "city_id", None, Reason("an officer must be given the city they edit"))
    with ws.transaction(write=True) as s:
        me = load_actor(s, actor)
        require(me, "manage_users")
        return _insert_user(s, me, email, password, role, city_id)


def _insert_user(s: Session, me: User | None, email: str, password: str, role: str, city_id) -> Actor:
    if s.scalar(select(User.id).where(User.email == email)) is not None:
        raise WorkspaceError(Reason("a user '{who}' exists already", who=email))
    user = User(email=email, password_hash=_hasher.hash(password), role=role, city_id=city_id, active=True)
    s.add(user)
    s.flush()
    audit.record(s, me or user, "create_user", "user", user.id, {"email": email, "role": role, "city_id": city_id})
    return _actor(user)


def create_first_admin(ws: Workspace, email: str, password: str) -> Actor:
    """The first admin (`matcher workspace init --admin EMAIL`); refused once an admin exists."""
    email, password = _email(email), _check_password(password)
    with ws.transaction(write=True) as s:
        if s.scalar(select(func.count()).select_from(User).where(User.role == "admin")):
            raise WorkspaceError(Reason("the workspace has an admin already; an admin adds further users"))
        return _insert_user(s, None, email, password, "admin", None)


def authenticate(ws: Workspace, email: str, password: str) -> Actor:
    """The actor for a correct email and password; one message for every failure."""
    fail = AuthenticationError(Reason("unknown email or wrong password"))
    try:
        email = _email(email)
    except ProfileValidationError:  # a malformed email is just a failed login
        raise fail from None
    with ws.transaction(write=True) as s:
        user = s.scalar(select(User).where(User.email == email))
        if user is None or not user.active:
            _hasher.hash(password or "x")  # same cost as a real check: no user enumeration by timing
            raise fail
        try:
            _hasher.verify(user.password_hash, password or "")
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            raise fail from None
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = _hasher.hash(password)
        return _actor(user)


def get_user(ws: Workspace, email: str) -> Actor:
    """Look a user up by email (the CLI's `--as EMAIL`: whoever can open the database is trusted)."""
    with ws.transaction() as s:
        user = s.scalar(select(User).where(User.email == str(email).strip().lower()))
        if user is None:
            raise NotFoundError(Reason("no user '{who}' in this workspace", who=email))
        if not user.active:
            raise PermissionDeniedError(Reason("user '{who}' is deactivated", who=email))
        return _actor(user)


def list_users(ws: Workspace) -> list[Actor]:
    with ws.transaction() as s:
        return [_actor(u) for u in s.scalars(select(User).order_by(User.id))]


def set_user_active(ws: Workspace, email: str, active: bool, actor: Actor) -> Actor:
    with ws.transaction(write=True) as s:
        me = load_actor(s, actor)
        require(me, "manage_users")
        user = s.scalar(select(User).where(User.email == str(email).strip().lower()))
        if user is None:
            raise NotFoundError(Reason("no user '{who}' in this workspace", who=email))
        user.active = bool(active)
        audit.record(s, me, "activate_user" if active else "deactivate_user", "user", user.id, {"email": user.email})
        return _actor(user)
