"""The versions of a campaign's numbers: raised with every write that changes what its pages show,
read to label answers (cache.py's Redis entries, the pages' ETags).

A campaign has one version row (models.ProgressVersion) for its root and one for each child of the
root (each city of a province's campaign). `bump` raises the root's and those of the children a
write touched, in the same transaction as the write: a submission or correction
(tally.Changes.apply); a rebuild of the tallies or an import of 任务数 raises them all (`bump_all`).
Writes that change what a dashboard shows beside the tallies (a review, a 催报, a 通报 issued, a
department's report, a rule or a due date) raise the branch they touch (`bump_at`). The version
carries a random token made with its row, so that a database made afresh never meets the labels of
the one before.

`stamp` reads the versions of a region in one statement, so that a browser's copy of a page is
confirmed (304) without computing anything; the versions live in the database, so the tags hold
with or without Redis.
"""
from __future__ import annotations

import functools
import hashlib
import secrets
from pathlib import Path
from typing import Iterable, Optional

from sqlalchemy import and_, bindparam, case, exists, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased

from reporting.extensions import db
from reporting.models import LEVELS, Campaign, ProgressVersion, Region, User, child_level


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
    # the writes still pending go first, as a statement on the model would flush them: every writer
    # takes its row locks in the same order
    db.session.flush()
    db.session.execute(_raising(db.session.get_bind().dialect.name), [
        dict(campaign_id=campaign.id, region_id=region_id, version=1, token=secrets.token_hex(16))
        for region_id in [campaign.root_id, *sorted(set(branches) - {campaign.root_id})]])


@functools.cache
def _raising(dialect_name: str):
    """INSERT a version, or raise the one there (built once, like the tallies' upsert). On the
    table, not the model: the ORM's bulk-insert path around one row cost more than the upsert."""
    table = ProgressVersion.__table__
    statement = {"postgresql": postgresql, "sqlite": sqlite}[dialect_name].insert(table)
    return statement.on_conflict_do_update(index_elements=["campaign_id", "region_id"],
                                           set_={"version": table.c.version + 1})


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
