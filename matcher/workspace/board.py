"""The board: needs and offers posted by a city or an organisation, tagged with survey wording.

Matching posts is done elsewhere; here they are stored, listed and moderated. Texts are kept
verbatim: queries are parametrised and whoever renders a post escapes it (`post_markdown`).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from ..errors import UnknownCityError
from ..present.safe import md_escape
from ..vocab import vocabularies
from ..wording import R_, Reason
from . import audit
from ._validate import NOT_FOUND, choice, existing, problem, text, utc, vocab_list
from .db import Workspace
from .errors import NotFoundError, PermissionDeniedError
from .models import Organisation, Post, User
from .profiles import city_label
from .users import Actor, load_actor, require

KINDS = ("need", "offer")
STATUSES = ("visible", "hidden")
TAG_VOCABS = ("priority_sectors", "barriers", "funding_gaps", "co_benefits")
MAX_TEXT = 5000


def tag_vocabulary() -> tuple[str, ...]:
    """Allowed tags: the survey's sectors, barriers, funding gaps and co-benefits."""
    vocab = vocabularies()
    return tuple(dict.fromkeys(label for key in TAG_VOCABS for label in vocab[key]))


@dataclass(frozen=True)
class BoardPost:
    id: int
    kind: str
    text: str
    tags: list[str]
    author: str
    city_id: str | None
    org_id: int | None
    org_name: str | None
    status: str
    created_at: datetime
    moderation_reason: str | None = None


def _post(p: Post, author: str, org_name: str | None) -> BoardPost:
    return BoardPost(p.id, p.kind, p.text, list(p.tags or []), author, p.city_id, p.org_id, org_name, p.status,
                     utc(p.created_at), p.moderation_reason)


def _city_exists(ws: Workspace, city_id: str) -> bool:
    from .profiles import get_profile

    try:
        get_profile(ws, city_id)
        return True
    except UnknownCityError:
        return False


def create_post(ws: Workspace, kind: str, post_text: str, actor: Actor, *, city_id: str | None = None,
                org_id: int | None = None, tags=()) -> BoardPost:
    """A need or an offer for a city (its officer or an admin) or an approved organisation."""
    choice("post", "kind", kind, KINDS)
    post_text = text("post", "text", post_text, max_chars=MAX_TEXT)
    tags = vocab_list("post", "tags", list(tags or ()), tag_vocabulary(),
                      R_("survey sector, barrier, funding gap or co-benefit"))
    if (city_id is None) == (org_id is None):
        raise problem("post", "city_id", None, Reason("a post is for exactly one city or one organisation"))
    if city_id is not None and not _city_exists(ws, city_id):
        raise UnknownCityError(city_id)
    with ws.transaction(write=True) as s:
        me = load_actor(s, actor)
        org_name = None
        if city_id is not None:
            require(me, "post", city_id, name=lambda c: city_label(ws, c))
        else:
            org = existing(s, Organisation, org_id, "organisation")
            if org.status != "approved":
                raise PermissionDeniedError(Reason("organisation '{name}' is not approved yet", name=org.name))
            if me.role != "admin" and org.created_by != me.id:
                raise PermissionDeniedError(Reason("{who} cannot post for organisation '{name}'", who=me.email,
                                                   name=org.name))
            org_name = org.name
        p = Post(kind=kind, author_id=me.id, city_id=city_id, org_id=org_id, tags=tags, text=post_text,
                 status="visible")
        s.add(p)
        s.flush()
        audit.record(s, me, "post", "post", p.id, {"kind": kind, "city_id": city_id, "org_id": org_id, "tags": tags})
        return _post(p, me.email, org_name)


def list_posts(ws: Workspace, *, kind: str | None = None, city_id: str | None = None, tag: str | None = None,
               include_hidden: bool = False, actor: Actor | None = None) -> list[BoardPost]:
    """Posts newest first; hidden ones too when an admin (`actor`) asks."""
    if include_hidden:
        with ws.transaction() as s:
            require(load_actor(s, actor), "moderate")
    stmt = (select(Post, User.email, Organisation.name).join(User, Post.author_id == User.id)
            .outerjoin(Organisation, Post.org_id == Organisation.id).order_by(Post.id.desc()))
    if kind is not None:
        stmt = stmt.where(Post.kind == choice("post", "kind", kind, KINDS))
    if city_id is not None:
        stmt = stmt.where(Post.city_id == city_id)
    if not include_hidden:
        stmt = stmt.where(Post.status == "visible")
    with ws.transaction() as s:
        posts = [_post(p, email, org) for p, email, org in s.execute(stmt)]
    if tag is not None:
        wanted = vocab_list("post", "tag", [tag], tag_vocabulary(), R_("tag"))[0]
        posts = [p for p in posts if wanted in p.tags]
    return posts


def get_post(ws: Workspace, post_id: int) -> BoardPost:
    with ws.transaction() as s:
        row = s.execute(select(Post, User.email, Organisation.name).join(User, Post.author_id == User.id)
                        .outerjoin(Organisation, Post.org_id == Organisation.id).where(Post.id == post_id)).first()
        if row is None:
            raise NotFoundError(Reason(NOT_FOUND["post"], id=post_id))
        return _post(*row)


def set_post_status(ws: Workspace, post_id: int, status: str, actor: Actor, reason: str | None = None) -> BoardPost:
    """Moderation (admins): hide a post, or show it again. The post itself is kept."""
    choice("post", "status", status, STATUSES)
    reason = text("post", "reason", reason, max_chars=1000, required=False)
    with ws.transaction(write=True) as s:
        me = load_actor(s, actor)
        require(me, "moderate")
        p = existing(s, Post, post_id, "post")
        p.status, p.moderated_by, p.moderation_reason = status, me.id, reason
        audit.record(s, me, "hide_post" if status == "hidden" else "show_post", "post", p.id, {"reason": reason})
    return get_post(ws, post_id)


def hide_post(ws: Workspace, post_id: int, actor: Actor, reason: str | None = None) -> BoardPost:
    return set_post_status(ws, post_id, "hidden", actor, reason)


def post_markdown(post: BoardPost) -> str:
    """A post as Markdown with every user-written part escaped: text cannot add links, HTML or headings."""
    who = f"city {md_escape(post.city_id)}" if post.city_id else f"organisation {md_escape(post.org_name)}"
    tags = ", ".join(md_escape(t) for t in post.tags)
    return (f"**{post.kind.capitalize()}** #{post.id} by {who}" + (f" ({tags})" if tags else "")
            + f"\n\n{md_escape(post.text)}\n")
