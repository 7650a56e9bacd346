"""Issuing bodies (发文机关): each region's bureau as its circulars and robots name it, with the
defaults an admin starts from: its 机关代字 (unique in the installation), its 主送 from the children
it has, and the scope word of its own name (全区, 全县, 全市…)."""
from __future__ import annotations

import re

from sqlalchemy import func, select

from reporting.extensions import db
from reporting.models import Circular, Department, IssuingBody, Region

SCOPE_WORDS = {"province": "全省", "city": "全市", "county": "全县", "township": "全镇", "village": "全村"}
ADDRESSEES = {"province": "各市医疗保障局", "city": "各县（市、区）医疗保障局",
              "county": "各镇人民政府、街道办事处", "township": "各村（居）委会"}

#: the scope word of an issuing region, by the end of its own name: 新会区 → 全区, 恩平市 → 全市
SCOPE_BY_SUFFIX = (("街道办事处", "全街道"), ("街道", "全街道"), ("自治区", "全区"), ("自治州", "全州"),
                   ("自治县", "全县"), ("自治旗", "全旗"), ("旗", "全旗"), ("盟", "全盟"), ("区", "全区"),
                   ("县", "全县"), ("市", "全市"), ("省", "全省"), ("州", "全州"), ("镇", "全镇"),
                   ("乡", "全乡"), ("社区", "全社区"), ("村", "全村"))


def scope_word(region: Region) -> str:
    """全区, 全县, 全市, 全旗, 全镇, 全街道…: from the region's own name, else from its level."""
    name = re.sub(r"(居民委员会|村民委员会|委员会)$", "", region.name)
    for suffix, word in SCOPE_BY_SUFFIX:
        if name.endswith(suffix):
            return word
    return SCOPE_WORDS.get(region.level, "全区")


def default_addressee(region: Region) -> str:
    """主送 from the kinds of children the region has (江海区, only 街道: 各街道办事处), and its
    departments (区有关部门) where they report to it."""
    names = db.session.scalars(select(Region.name).where(Region.parent_id == region.id)).all()
    if region.level == "county":
        streets = [n for n in names if n.endswith(("街道", "街道办事处"))]
        towns = [n for n in names if n not in streets]
        town_word = ("乡镇" if any(n.endswith("乡") for n in towns) and any(n.endswith("镇") for n in towns)
                     else "乡" if towns and all(n.endswith("乡") for n in towns) else "镇")
        text = (f"各{town_word}人民政府、街道办事处" if towns and streets else
                "各街道办事处" if streets else f"各{town_word}人民政府")
    elif region.level == "township":
        villages = [n for n in names if "社区" not in n]
        text = ("各村（居）民委员会" if villages and len(villages) < len(names) else
                "各社区居民委员会" if names and not villages else "各村民委员会")
    else:
        text = ADDRESSEES.get(region.level, "")
    if db.session.scalar(select(func.count(Department.id)).where(Department.region_id == region.id)):
        text += f"，{scope_word(region)[1:]}有关部门"
    return text


def default_prefix(region: Region) -> str:
    """机关代字 no other issuing body of the installation uses: a city's first character (江医保),
    else the name without its level word (江海医保), else the whole name."""
    stem = re.sub(r"(街道办事处|街道|自治县|自治旗|新区|区|县|市|旗|镇|乡)$", "", region.name) or region.name
    candidates = ([f"{region.name[0]}医保"] if region.level in ("province", "city") else []) + \
        [f"{stem}医保", f"{region.name}医保"]
    taken = prefixes_taken(region)
    return next((c for c in candidates if c not in taken), candidates[-1])


def prefixes_taken(region: Region) -> set[str]:
    """The 机关代字 of every other issuing body: set by an admin, printed on a circular, or the
    default of a region that issues as a city does (a county never takes a city's 江医保)."""
    taken = set(db.session.scalars(select(IssuingBody.prefix).where(IssuingBody.region_id != region.id)))
    taken |= set(db.session.scalars(select(Circular.doc_prefix).where(
        Circular.region_id != region.id, Circular.doc_prefix.is_not(None)).distinct()))
    if region.level not in ("province", "city"):
        taken |= {f"{name[0]}医保" for name in db.session.scalars(
            select(Region.name).where(Region.level.in_(("province", "city"))))}
    return taken


def issuing_body(region: Region) -> IssuingBody:
    """The region's bureau, with sensible defaults until an admin sets its own (not saved here)."""
    body = db.session.scalar(select(IssuingBody).where(IssuingBody.region_id == region.id))
    if body is None:
        body = IssuingBody(region=region, region_id=region.id, name=f"{region.name}医疗保障局",
                           prefix=default_prefix(region), addressee=default_addressee(region),
                           copy_to="", printed_by=f"{region.name}医疗保障局办公室")
    return body


def check_prefix(region: Region, prefix: str) -> None:
    """An admin's 机关代字 must be its own: two bodies printing 江医保〔2026〕1号 would collide."""
    if prefix in prefixes_taken(region):
        raise ValueError(f"机关代字“{prefix}”已由其他发文机关使用，请另定")
