"""Progress answers shared by every instance through Redis, and exactly as live as the tallies.

An answer about a region is stored in Redis with the version of the branch that holds it
(versions.py), read before it was computed, and served only to a reader that reads that same
version: once a write commits, the next reader sees the new version and computes afresh. A city's
dashboard stays cached while other cities file; the province's moves with every write. A reader
that computed from a newer state than its version says only stores newer numbers under an older
label, which nobody reading the newer version is served. There is no time-based expiry; each key
holds the last answer of its (period, region, measure, day), so old versions do not pile up; a
digest of the code that computes the answers is in the key too, so a deploy never reads the
entries of the one before. Today's date is part of the key: a unit becomes 逾期 when its due day
passes, with no write at all.

Without REDIS_URL (one process, the SQLite demo) nothing is cached and every answer is computed.
"""
from __future__ import annotations

import functools
import hashlib
import inspect
import pickle
from dataclasses import replace
from typing import Callable, Optional

from flask import current_app
from markupsafe import Markup

from reporting import clock, outages
from reporting.basis import system_figures
from reporting.extensions import db
from reporting.models import Period, Region
from reporting.progress import charts as drawing
from reporting.progress import ranking, rollup
from reporting.versions import deploy_digest, version

#: part of every key: raise it when what is stored changes shape, so that no older entry is read
FORMAT = 1


@functools.cache
def _code() -> str:
    """A digest of the code whose objects the entries hold: a deploy that changes how answers are
    computed or shaped (ranking.py, rollup.py, charts.py) never reads the entries of the one before."""
    text = "".join(inspect.getsource(module) for module in (drawing, ranking, rollup, system_figures))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
_clients: dict[str, object] = {}


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
                   lambda: ranking.progress(period, region, measure), dump, load)


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
