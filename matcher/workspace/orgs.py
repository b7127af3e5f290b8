"""The register of organisations cities can be matched with: delivery partners, investors,
financial experts, energy agencies. Anyone signed in (not a viewer) proposes an entry; an admin
approves it before it is listed as approved or can post on the board."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from ..vocab import country_codes, language_codes, vocabularies
from ..wording import R_, Reason
from . import audit
from ._validate import choice, existing, problem, problems, text, utc, vocab_list
from .db import Workspace
from .models import Organisation, User, utcnow
from .users import Actor, load_actor, require

KINDS = ("delivery_partner", "investor", "financial_expert", "energy_agency", "other")
STATUSES = ("pending", "approved", "rejected")


@dataclass(frozen=True)
class OrganisationInfo:
    id: int
    name: str
    kind: str
    sectors: list[str]
    services: list[str]
    countries: list[str]
    languages: list[str]
    description: str | None
    website: str | None
    status: str
    created_by: str
    created_at: datetime
    reviewed_at: datetime | None = None


def _info(o: Organisation, email: str) -> OrganisationInfo:
    return OrganisationInfo(o.id, o.name, o.kind, list(o.sectors), list(o.services), list(o.countries),
                            list(o.languages), o.description, o.website, o.status, email, utc(o.created_at),
                            utc(o.reviewed_at))


def _codes(field: str, values, allowed, upper: bool) -> list[str]:
    out, bad = [], []
    for v in [values] if isinstance(values, str) else list(values or ()):
        code = str(v).strip().upper() if upper else str(v).strip().lower()
        (out if code in allowed else bad).append(code if code in allowed else v)
    if bad:
        raise problems("organisation", [
            (field, v, Reason("'{value}' is not an ISO 3166-1 alpha-2 country code", value=v) if upper
             else Reason("'{value}' is not an ISO 639-1 language code", value=v)) for v in bad])
    return list(dict.fromkeys(out))


def add_organisation(ws: Workspace, name: str, kind: str, actor: Actor, *, sectors=(), services=(), countries=(),
                     languages=(), description: str | None = None, website: str | None = None) -> OrganisationInfo:
    """Propose an organisation (status pending until an admin approves it)."""
    name = text("organisation", "name", name, max_chars=300).strip()
    choice("organisation", "kind", kind, KINDS)
    sectors = vocab_list("organisation", "sectors", sectors, vocabularies()["priority_sectors"], R_("priority sector"))
    services = [text("organisation", "services", s, max_chars=200).strip()
                for s in ([services] if isinstance(services, str) else list(services or ()))]
    countries = _codes("countries", countries, country_codes(), upper=True)
    languages = _codes("languages", languages, set(language_codes()), upper=False)
    description = text("organisation", "description", description, max_chars=5000, required=False)
    website = text("organisation", "website", website, max_chars=500, required=False)
    if website and not website.startswith(("https://", "http://")):
        raise problem("organisation", "website", website, Reason("a website must start with https:// or http://"))
    with ws.transaction(write=True) as s:
        me = load_actor(s, actor)
        require(me, "add_organisation")
        org = Organisation(name=name, kind=kind, sectors=sectors, services=list(dict.fromkeys(services)),
                           countries=countries, languages=languages, description=description, website=website,
                           status="pending", created_by=me.id)
        s.add(org)
        s.flush()
        audit.record(s, me, "add_organisation", "organisation", org.id, {"name": name, "kind": kind})
        return _info(org, me.email)


def review_organisation(ws: Workspace, org_id: int, status: str, actor: Actor) -> OrganisationInfo:
    """An admin approves (or rejects) an entry."""
    choice("organisation", "status", status, ("approved", "rejected"))
    with ws.transaction(write=True) as s:
        me = load_actor(s, actor)
        require(me, "approve_organisation")
        org = existing(s, Organisation, org_id, "organisation")
        org.status, org.reviewed_by, org.reviewed_at = status, me.id, utcnow()
        audit.record(s, me, "approve_organisation" if status == "approved" else "reject_organisation",
                     "organisation", org.id, {"name": org.name})
        creator = s.get(User, org.created_by)
        return _info(org, creator.email)


def approve_organisation(ws: Workspace, org_id: int, actor: Actor) -> OrganisationInfo:
    return review_organisation(ws, org_id, "approved", actor)


def list_organisations(ws: Workspace, *, status: str | None = "approved", kind: str | None = None,
                       sector: str | None = None, country: str | None = None) -> list[OrganisationInfo]:
    """Entries by name; approved ones by default (status=None: all)."""
    stmt = select(Organisation, User.email).join(User, Organisation.created_by == User.id).order_by(Organisation.name, Organisation.id)
    if status is not None:
        stmt = stmt.where(Organisation.status == choice("organisation", "status", status, STATUSES))
    if kind is not None:
        stmt = stmt.where(Organisation.kind == choice("organisation", "kind", kind, KINDS))
    with ws.transaction() as s:
        out = [_info(o, email) for o, email in s.execute(stmt)]
    if sector is not None:
        wanted = vocab_list("organisation", "sector", [sector], vocabularies()["priority_sectors"],
                            R_("priority sector"))[0]
        out = [o for o in out if wanted in o.sectors]
    if country is not None:
        out = [o for o in out if country.upper() in o.countries]
    return out
