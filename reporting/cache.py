"""Progress answers shared by every instance through Redis, and exactly as live as the tallies.

A campaign's numbers have versions (models.ProgressVersion): one for its root, one for each child
of the root (each city of a province's campaign). `bump` raises the root's and those of the
children a write touched, in the same transaction as the write: a submission or correction
(tally.Changes.apply); a rebuild of the tallies or an import of 任务数 raises them all. An answer
about a region is checked against the version of the branch that holds it: a city's dashboard
stays cached while other cities file, the province's moves with every write. An answer is stored in Redis with the version read
before it was computed, and served only to a reader that reads that same version: once a write
commits, the next reader sees the new version and computes afresh. The version carries a random
token made with its row, so that a database made afresh never meets the entries of the one before. A reader that computed from a
newer state than its version says only stores newer numbers under an older label, which nobody
reading the newer version is served. There is no time-based expiry; each key holds the last answer
of its (period, region, measure, day), so old versions do not pile up; a digest of the code that
computes the answers is in the key too, so a deploy never reads the entries of the one before. Today's date is part of the
key: a unit becomes 逾期 when its due day passes, with no write at all.

Without REDIS_URL (one process, the SQLite demo) nothing is cached and every answer is computed.

The same versions label the pages' HTTP answers (ETag): `stamp` reads them for a region in one
statement, so that a browser's copy is confirmed (304) without computing anything. The versions
live in the database, so the tags hold with or without Redis. Writes that change what a dashboard
shows beside the tallies (a review, a 催报, a 通报 issued, a department's report, a rule or a due
date) raise the versions too (`bump_at`, `bump_all`).
"""
from __future__ import annotations

import functools
import hashlib
import inspect
import pickle
import secrets
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterable, Optional

from flask import current_app
from markupsafe import Markup
from sqlalchemy import and_, bindparam, case, exists, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased

from . import clock, outages
from .extensions import db
from .hierarchy import child_level
from .models import LEVELS, Campaign, Period, ProgressVersion, Region, User

#: part of every key: raise it when what is stored changes shape, so that no older entry is read
FORMAT = 1


@functools.cache
def _code() -> str:
    """A digest of the code whose objects the entries hold: a deploy that changes how answers are
    computed or shaped (ranking.py, rollup.py, charts.py) never reads the entries of the one before."""
    from . import charts, ranking, rollup, system_figures
    text = "".join(inspect.getsource(module) for module in (charts, ranking, rollup, system_figures))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
_clients: dict[str, object] = {}


def branch(campaign: Campaign, region: Region) -> int:
    """The version row a progress answer of `region` is checked against: the child of the
    campaign's root that holds it, or the root for the root itself (and above)."""
    level = child_level(campaign.root.level)
    if level is None or LEVELS.index(region.level) < LEVELS.index(level):
        return campaign.root_id
    return getattr(region, f"{level}_id")


def bump(campaign: Campaign, branches: Iterable[int] = ()) -> None:
    """Raise the versions of the campaign's root and of `branches` (children of the root that a
    write changed), in the caller's transaction; the root first, so two writers never wait on
    each other in opposite orders."""
    db.session.execute(_raising(db.session.get_bind().dialect.name), [
        dict(campaign_id=campaign.id, region_id=region_id, version=1, token=secrets.token_hex(16))
        for region_id in [campaign.root_id, *sorted(set(branches) - {campaign.root_id})]])


@functools.cache
def _raising(dialect_name: str):
    """INSERT a version, or raise the one there (built once, like the tallies' upsert)."""
    statement = {"postgresql": postgresql, "sqlite": sqlite}[dialect_name].insert(ProgressVersion)
    return statement.on_conflict_do_update(index_elements=["campaign_id", "region_id"],
                                           set_={"version": ProgressVersion.version + 1})


def bump_all(campaign: Campaign) -> None:
    """Raise every version of the campaign (its tasks changed, or its tallies were rebuilt)."""
    bump(campaign)
    db.session.execute(update(ProgressVersion).where(ProgressVersion.campaign_id == campaign.id,
                                                     ProgressVersion.region_id != campaign.root_id)
                       .values(version=ProgressVersion.version + 1))


def version(campaign: Campaign, region: Region) -> Optional[str]:
    """The version an answer for `region` is labelled with, or None before the first write there."""
    row = db.session.execute(select(ProgressVersion.token, ProgressVersion.version).where(
        ProgressVersion.campaign_id == campaign.id,
        ProgressVersion.region_id == branch(campaign, region))).first()
    return f"{row.token}:{row.version}" if row else None


def bump_at(campaign: Campaign, region: Region) -> None:
    """Raise the version of the branch that holds `region` (and the root's): something shown on
    its pages changed that the tallies do not hold (a review, a 催报, a department's report)."""
    bump(campaign, {branch(campaign, region)})


_ROOT = aliased(Region, name="root")
_VERSIONS = (select(ProgressVersion.campaign_id, ProgressVersion.region_id, ProgressVersion.token,
                    ProgressVersion.version, _ROOT.id.label("root_id"),
                    *(getattr(_ROOT, f"{level}_id").label(f"root_{level}_id") for level in LEVELS[:-1]))
             .join(Campaign, Campaign.id == ProgressVersion.campaign_id)
             .join(_ROOT, _ROOT.id == Campaign.root_id).subquery("versions"))


def _on_chain(column) -> object:
    """`column` names the region asked about or one of its ancestors."""
    return or_(column == Region.id, *(column == getattr(Region, f"{level}_id") for level in LEVELS[:-1]))


@functools.cache
def _stamping():
    """The region of a code and the versions of every campaign's branch that holds it, in one
    statement: for a region under a campaign's root, the child of the root on its chain (the root
    moves with every write of the campaign, which is not news there); at the root and above, the
    root. Beside them, whether a 乡镇填报员 files the region's township (who reviews it, shown on
    the dashboard, turns on that account)."""
    v = _VERSIONS.c
    below_root = and_(v.region_id != v.root_id, _on_chain(v.region_id))
    at_or_above_root = and_(v.region_id == v.root_id,
                            or_(v.root_id == Region.id, *(getattr(v, f"root_{level}_id") == Region.id
                                                          for level in LEVELS[:-1])))
    township = case((Region.level == "township", Region.id), else_=Region.township_id)
    delegated = exists().where(User.region_id == township, User.active.is_(True), User.role == "township_filer")
    return (select(Region, v.campaign_id, v.token, v.version, delegated.label("delegated"))
            .outerjoin(_VERSIONS, or_(below_root, at_or_above_root))
            .where(Region.code == bindparam("code")))


def stamp(code: str) -> tuple[Optional[Region], str]:
    """The region of `code` (None if there is none) and a label of everything its progress answers
    depend on that the database holds: it changes with every write under the region that bumps a
    version. One statement, so that an unchanged answer is told in well under a millisecond."""
    rows = db.session.execute(_stamping(), {"code": code}).all()
    if not rows:
        return None, ""
    label = ";".join(sorted(f"{row.campaign_id}:{row.token}:{row.version}" for row in rows
                            if row.campaign_id is not None))
    return rows[0].Region, f"{label}|{int(rows[0].delegated)}"


@functools.cache
def deploy_digest() -> str:
    """A digest of the code and templates that make the pages: an answer tagged by one deploy is
    never taken as current by the next (the files are read once, at the first use)."""
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for folder, pattern in (("reporting", "*.py"), ("templates", "*.html"), ("forms", "*.py")):
        for path in sorted((root / folder).rglob(pattern)):
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    digest.update((root / "app.py").read_bytes())
    return digest.hexdigest()[:16]


def _store():
    url = current_app.config.get("REDIS_URL")
    if not url:
        return None
    client = _clients.get(url)
    if client is None:
        from redis import Redis
        client = _clients[url] = Redis.from_url(url, socket_timeout=2, socket_connect_timeout=1)
    return client


def _cached(key: str, period: Period, region: Region, compute: Callable[[], object], dump: Callable,
            load: Callable):
    from redis.exceptions import RedisError
    store = _store()
    if store is None:
        return compute()
    current = version(period.campaign, region)
    if current is None:
        return compute()
    if period.campaign.previous_id is not None:
        # 上年同期 figures are in the answer: a correction of last year's moves it too
        current += f"|{version(period.campaign.previous, region) or '-'}"
    label = current.encode() + b"\n"
    key = f"reporting:{FORMAT}:{_code()}:{key}:{clock.today().isoformat()}"
    try:
        held = store.get(key)
    except RedisError as error:
        # Redis gone: read through to the database, as without REDIS_URL
        outages.report("Redis（缓存）", error)
        return compute()
    if held is not None and held.startswith(label):
        return load(held[len(label):])
    value = compute()
    try:
        store.set(key, label + dump(value))
    except RedisError as error:
        outages.report("Redis（缓存）", error)
    return value


def progress(period: Period, region: Region, measure: Optional[str] = None):
    """ranking.progress, shared by the instances while the campaign's numbers stay at one version."""
    from .ranking import progress as compute_progress  # ranking needs the tallies, which bump here

    def dump(result) -> bytes:
        # the answer without the live objects the caller already holds (period, campaign, region)
        return pickle.dumps(replace(result, campaign=None, period=None, region=replace(result.region, region=None)),
                            protocol=pickle.HIGHEST_PROTOCOL)

    def load(data: bytes):
        result = pickle.loads(data)
        result.campaign, result.period, result.region.region = period.campaign, period, region
        for row in result.children:
            row.region = db.session.merge(row.region, load=False)  # in this session, no query
        return result
    return _cached(f"progress:{period.id}:{region.id}:{measure or ''}", period, region,
                   lambda: compute_progress(period, region, measure), dump, load)


#: how long a rendered piece is kept unread: it is checked by its digest, so this only bounds the space
PIECE_SECONDS = 6 * 3600


def pieces(name: str, wanted: dict[int, tuple[bytes, Callable[[], str]]]) -> dict[int, Markup]:
    """Rendered pieces of one page (a grid's rows), shared by the instances: `wanted` maps a piece's
    id to a digest of everything its rendering reads and the way to render it. A piece stored under
    the same digest is served as stored, the others are rendered and stored. The digest is the
    content, not a version: a piece changes with whatever it shows, and the pieces a write did not
    touch stay (a filer's 提交 moves the few rows it changed, not the county's other 590). The page's
    pieces are one entry, read in one piece (a county's 600 rows as 600 fields cost more to fetch
    than to render); two readers storing at once keep one's renderings, the other's are made again.
    Without Redis, or with it gone, every piece is rendered."""
    from redis.exceptions import RedisError
    store = _store()
    if store is None or not wanted:
        return {piece: Markup(render()) for piece, (_, render) in wanted.items()}
    key = f"reporting:{FORMAT}:pieces:{deploy_digest()}:{name}"
    try:
        data = store.get(key)
    except RedisError as error:
        outages.report("Redis（缓存）", error)
        return {piece: Markup(render()) for piece, (_, render) in wanted.items()}
    held: dict = pickle.loads(data) if data else {}
    found, changed = {}, False
    for piece, (digest, render) in wanted.items():
        stored = held.get(piece)
        if stored is not None and stored[0] == digest:
            found[piece] = Markup(stored[1])
        else:
            found[piece] = Markup(render())
            held[piece], changed = (digest, str(found[piece])), True
    if changed:
        try:
            store.set(key, pickle.dumps(held, protocol=pickle.HIGHEST_PROTOCOL), ex=PIECE_SECONDS)
        except RedisError as error:
            outages.report("Redis（缓存）", error)
    return found


def charts(period: Period, region: Region, draw: Callable[[], dict]) -> dict:
    """The dashboard's charts (SVG text), shared the same way."""
    return _cached(f"charts:{period.id}:{region.id}", period, region, draw,
                   lambda value: pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL), pickle.loads)
