"""Progress answers shared by every instance through Redis, and exactly as live as the tallies.

A campaign's numbers have a version (models.ProgressVersion), raised by `bump` in the same
transaction as every write that moves them: a submission or correction (tally.Changes.apply), a
rebuild of the tallies, an import of 任务数. An answer is stored in Redis with the version read
before it was computed, and served only to a reader that reads that same version: once a write
commits, the next reader sees the new version and computes afresh. The version carries a random
token made with its row, so that a database made afresh never meets the entries of the one before. A reader that computed from a
newer state than its version says only stores newer numbers under an older label, which nobody
reading the newer version is served. There is no time-based expiry; each key holds the last answer
of its (period, region, measure, day), so old versions do not pile up. Today's date is part of the
key: a unit becomes 逾期 when its due day passes, with no write at all.

Without REDIS_URL (one process, the SQLite demo) nothing is cached and every answer is computed.
"""
from __future__ import annotations

import pickle
import secrets
from dataclasses import replace
from typing import Callable, Optional

from flask import current_app
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from . import clock
from .extensions import db
from .models import Period, ProgressVersion, Region

#: part of every key: raise it when what is stored changes shape, so that no older entry is read
FORMAT = 1
_clients: dict[str, object] = {}


def bump(campaign_id: int) -> None:
    """Raise the version of the campaign's numbers, in the caller's transaction."""
    dialect = {"postgresql": postgresql, "sqlite": sqlite}[db.session.get_bind().dialect.name]
    statement = dialect.insert(ProgressVersion).values(campaign_id=campaign_id, version=1,
                                                       token=secrets.token_hex(16))
    db.session.execute(statement.on_conflict_do_update(
        index_elements=["campaign_id"], set_={"version": ProgressVersion.version + 1}))


def version(campaign_id: int) -> Optional[str]:
    """The campaign's version as cache entries are labelled, or None before its first write."""
    row = db.session.execute(select(ProgressVersion.token, ProgressVersion.version)
                             .where(ProgressVersion.campaign_id == campaign_id)).first()
    return f"{row.token}:{row.version}" if row else None


def _store():
    url = current_app.config.get("REDIS_URL")
    if not url:
        return None
    client = _clients.get(url)
    if client is None:
        from redis import Redis
        client = _clients[url] = Redis.from_url(url, socket_timeout=2)
    return client


def _cached(key: str, campaign_id: int, compute: Callable[[], object], dump: Callable, load: Callable):
    store = _store()
    if store is None:
        return compute()
    current = version(campaign_id)
    if current is None:
        return compute()
    label = current.encode() + b"\n"
    key = f"reporting:{FORMAT}:{key}:{clock.today().isoformat()}"
    held = store.get(key)
    if held is not None and held.startswith(label):
        return load(held[len(label):])
    value = compute()
    store.set(key, label + dump(value))
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
    return _cached(f"progress:{period.id}:{region.id}:{measure or ''}", period.campaign_id,
                   lambda: compute_progress(period, region, measure), dump, load)


def charts(period: Period, region: Region, draw: Callable[[], dict]) -> dict:
    """The dashboard's charts (SVG text), shared the same way."""
    return _cached(f"charts:{period.id}:{region.id}", period.campaign_id, draw,
                   lambda value: pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL), pickle.loads)
