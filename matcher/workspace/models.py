"""The workspace tables (SQLAlchemy 2 declarative). Internal: the public API returns dataclasses.

The migrations in migrations/versions create exactly these tables (a test compares them).
"""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {"ix": "ix_%(column_0_label)s", "uq": "uq_%(table_name)s_%(column_0_name)s",
          "ck": "ck_%(table_name)s_%(constraint_name)s",
          "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s", "pk": "pk_%(table_name)s"}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))  # admin, officer, viewer
    city_id: Mapped[str | None] = mapped_column(String(100))  # the officer's city
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ProfileVersion(Base):
    """One saved state of a city's profile; version numbers count per city from 1 (0 = shipped)."""

    __tablename__ = "profile_versions"
    __table_args__ = (UniqueConstraint("city_id", "version", name="uq_profile_versions_city_version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # the global change counter
    city_id: Mapped[str] = mapped_column(String(100), index=True)
    version: Mapped[int] = mapped_column(Integer)
    profile: Mapped[dict] = mapped_column(JSON)  # the full validated profile
    changes: Mapped[dict] = mapped_column(JSON)  # field -> [old, new]
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    source: Mapped[str] = mapped_column(String(300))  # cli, app, survey:<file> row N, revert to N
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Organisation(Base):
    __tablename__ = "organisations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(40))
    sectors: Mapped[list] = mapped_column(JSON)
    services: Mapped[list] = mapped_column(JSON)
    countries: Mapped[list] = mapped_column(JSON)
    languages: Mapped[list] = mapped_column(JSON)
    description: Mapped[str | None] = mapped_column(Text)
    website: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending, approved, rejected
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Post(Base):
    __tablename__ = "posts"
    __table_args__ = (Index("ix_posts_status_kind", "status", "kind"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # need, offer
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    city_id: Mapped[str | None] = mapped_column(String(100), index=True)
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    tags: Mapped[list] = mapped_column(JSON)
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="visible")  # visible, hidden
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    moderated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    moderation_reason: Mapped[str | None] = mapped_column(Text)


class SavedItem(Base):
    """Saved work: a shortlist, a pairing, a cohort plan or a reviewer assignment."""

    __tablename__ = "saved_items"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), index=True)
    name: Mapped[str] = mapped_column(String(300))
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    rules: Mapped[dict] = mapped_column(JSON)
    objective: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict] = mapped_column(JSON)


class AuditEntry(Base):
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_email: Mapped[str | None] = mapped_column(String(320))  # kept readable after a user is gone
    action: Mapped[str] = mapped_column(String(60))
    target_type: Mapped[str] = mapped_column(String(40))
    target_id: Mapped[str | None] = mapped_column(String(100))
    detail: Mapped[dict] = mapped_column(JSON)


# Tables in an order that satisfies the foreign keys (export, restore).
TABLES = (User, Organisation, ProfileVersion, Post, SavedItem, AuditEntry)
