#!/usr/bin/env python3
"""`make bench`: the project's own entry points at national scale, each against a baseline of the same run.

Runs on SQLite (bench/out/bench.db) and on PostgreSQL (database reporting_bench, dropped and
recreated), prints one markdown table and writes it to bench/RESULTS.md. See bench/README.md.

This process only orchestrates: it imports nothing but the standard library and holds no data, so
that its own memory cannot leak into the peak RSS of the processes it starts (Linux carries a
parent's high-water mark into a child across exec). Every measured step runs in a process of its
own: the `flask` commands as users type them, and bench/workers.py for in-process measurements.

Adding a row: write a function `def my_step(cfg, db) -> list[Row]` and put it in STEPS. It sees
the state the earlier steps left on `db` (a Database: URL, environment, campaign, periods, token).
"""
from __future__ import annotations

import argparse
import datetime as dt
import http.client
import http.cookies
import json
import math
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from common import STARTED, checkout, fingerprint, free_port, load_average, log, machine

BENCH = Path(__file__).resolve().parent
#: the project under test (the checkout this file lives in, unless BENCH_PROJECT says otherwise)
ROOT = Path(os.environ.get("BENCH_PROJECT") or BENCH.parent).resolve()
OUT = BENCH / "out"
PYTHON = sys.executable
BIN = Path(PYTHON).parent
FLASK = [str(BIN / "flask"), "--app", "app"]
#: `flask` with the server clock set from BENCH_NOW (see flask_at.py): only for `reports import`
FLASK_AT = [PYTHON, str(BENCH / "flask_at.py"), "--app", "app"]
WORKERS = [PYTHON, str(BENCH / "workers.py")]

BENCH_USER, BENCH_PASSWORD = "bench", "Measure-Speed-2022"
CAMPAIGN = ["--start", "2022-09-01", "--end", "2022-12-31", "--extend-to", "2023-02-28",
            "--first-due", "2022-10-01", "--rhythm", "semimonthly"]
#: the baseline of every read: SUM(v1)..SUM(v8) of the same rows, grouped by the child's ancestor column
BARE_SELECT = "bare SQL GROUP BY, same rows"
PROVINCE_NAMES = {"37": "山东省", "64": "宁夏回族自治区"}


class BenchError(RuntimeError):
    """A step that could not be measured; the message says which command failed and why."""


# --- configuration ------------------------------------------------------------------------------

@dataclass
class Config:
    quick: bool
    runs: int                 # repetitions of every read measurement
    tree_runs: int            # repetitions of the national tree import (slow: 3 by default)
    periods: int              # periods loaded with `reports import` (each one is a measured run)
    http_requests: int        # timed requests per URL under gunicorn
    warmup: int               # untimed calls before the timed ones
    province: str
    city: str
    county: str
    tree_under: Optional[str]  # None: the whole country; else `regions import --under CODE`
    databases: list[str]
    pg_url: str
    divisions: str
    results: Path
    steps: list[str]  # empty: every step


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def configure(argv: list[str]) -> Config:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: 1 run, province 64 (宁夏) and only its subtree of the tree")
    parser.add_argument("--databases", default=os.environ.get("BENCH_DATABASES", "sqlite,postgresql"),
                        help="comma-separated: sqlite, postgresql (default both)")
    parser.add_argument("--steps", default=os.environ.get("BENCH_STEPS", ""),
                        help="comma-separated step names to run, in STEPS order (default all; a step "
                             "needs those before it that set up its data, e.g. tree_import,accounts,reports_import)")
    options = parser.parse_args(argv)
    quick = options.quick
    province = os.environ.get("BENCH_PROVINCE") or ("64" if quick else "37")
    beside = ROOT.parent / "shared" / "data" / "divisions"
    divisions = os.environ.get("BENCH_DIVISIONS") or str(beside if beside.is_dir() else "/work/shared/data/divisions")
    city, county = default_city_county(divisions, province)
    tree = os.environ.get("BENCH_TREE") or ("province" if quick else "national")
    databases = [d.strip().lower() for d in options.databases.split(",") if d.strip()]
    for name in databases:
        if name not in ("sqlite", "postgresql"):
            parser.error(f"unknown database {name!r}: use sqlite and/or postgresql")
    return Config(
        quick=quick,
        runs=env_int("BENCH_RUNS", 1 if quick else 5),
        tree_runs=env_int("BENCH_TREE_RUNS", 1 if quick else 3),
        periods=env_int("BENCH_PERIODS", 8),
        http_requests=env_int("BENCH_HTTP_REQUESTS", 5 if quick else 20),
        warmup=env_int("BENCH_WARMUP", 1 if quick else 2),
        province=province,
        city=os.environ.get("BENCH_CITY") or city,
        county=os.environ.get("BENCH_COUNTY") or county,
        tree_under=None if tree == "national" else province,
        databases=databases,
        pg_url=os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/reporting_bench"),
        divisions=divisions,
        results=Path(os.environ.get("BENCH_RESULTS") or
                     (OUT / "RESULTS-quick.md" if quick else BENCH / "RESULTS.md")),
        steps=[s.strip() for s in options.steps.split(",") if s.strip()],
    )


def default_city_county(divisions: str, province: str) -> tuple[str, str]:
    """The province's first city and that city's first county, by code (37: 3701 济南市, 370102 历下区)."""
    def codes(name: str, prefix: str, width: int) -> list[str]:
        path = Path(divisions) / name
        if not path.exists():
            return []
        with open(path, encoding="utf-8-sig") as f:
            return sorted(line.split(",", 1)[0] for line in f
                          if line.startswith(prefix) and len(line.split(",", 1)[0]) == width)
    cities = codes("cities.csv", province, 4)
    city = cities[0] if cities else province + "01"
    counties = codes("areas.csv", city, 6)
    return city, counties[0] if counties else city + "02"


# --- processes ------------------------------------------------------------------------------------

@dataclass
class Finished:
    returncode: int
    stdout: str
    stderr: str
    wall: float          # seconds from start to exit
    maxrss_kb: int       # the child's peak resident set (os.wait4 rusage), KiB

    @property
    def last_line(self) -> str:
        lines = [line for line in self.stdout.splitlines() if line.strip()]
        return lines[-1].strip() if lines else ""


def spawn(command: list[str], env: dict, label: str, check: bool = True) -> Finished:
    """Run one process to its end; its wall time and its own peak RSS come from os.wait4()."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                   stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        done = Finished(process.returncode, out.read().decode("utf-8", "replace"),
                        err.read().decode("utf-8", "replace"), wall, usage.ru_maxrss)
    if check and done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or done.stdout.strip().splitlines() or ["(no output)"])[-1]
        raise BenchError(f"{label}: exit {done.returncode}: {tail}")
    return done


def worker(task: str, args: dict, env: dict, label: Optional[str] = None) -> tuple[dict, Finished]:
    done = spawn(WORKERS + [task, json.dumps(args, ensure_ascii=False)], env, label or f"workers.py {task}")
    try:
        result = json.loads(done.last_line)
    except ValueError:
        raise BenchError(f"{label or task}: no result on its last line: {done.last_line[:200]!r}") from None
    if result.get("vmhwm_kb") and done.maxrss_kb > 1.5 * result["vmhwm_kb"] + 20_000:
        log(f"  note: rusage peak {done.maxrss_kb} KiB vs VmHWM {result['vmhwm_kb']} KiB for {task}")
    return result, done




# --- the table --------------------------------------------------------------------------------------

@dataclass
class Row:
    step: str
    runs: str
    ours: str
    baseline: str = "—"
    base_value: str = "—"
    ratio: Optional[float] = None
    p95: str = "—"
    rss_kb: Optional[int] = None
    goal: str = "—"
    met: Optional[bool] = None
    database: str = ""


def median(values: list[float]) -> float:
    return statistics.median(values)


def p95(values: list[float]) -> float:
    """Nearest-rank 95th percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def secs(value: float) -> str:
    return f"{value:.2f} s" if value < 10 else f"{value:.1f} s"


def mib(kb: Optional[int]) -> str:
    return "—" if kb is None else f"{kb / 1024:,.0f} MiB"


def render(rows: list[Row]) -> str:
    head = ["database", "step", "runs", "ours (median)", "p95", "baseline (same run)",
            "baseline (median)", "ours ÷ baseline", "peak RSS", "goal", "met"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * len(head)) + "|"]
    for r in rows:
        ratio = "—" if r.ratio is None else f"{r.ratio:.2f}×"
        met = {None: "—", True: "yes", False: "**no**"}[r.met]
        cells = [r.database, r.step, r.runs, r.ours, r.p95, r.baseline, r.base_value, ratio,
                 mib(r.rss_kb), r.goal, met]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines)


# --- one database -------------------------------------------------------------------------------------

@dataclass
class Database:
    key: str                  # sqlite or postgresql
    label: str
    url: str
    env: dict
    campaign: Optional[int] = None
    token: Optional[str] = None
    periods: list[dict] = field(default_factory=list)
    villages: int = 0

    @property
    def last(self) -> dict:
        return self.periods[-1]

    def reset(self) -> None:
        """An empty database: a new SQLite file, or the PostgreSQL database dropped and recreated."""
        if self.key == "sqlite":
            path = Path(self.url[len("sqlite:///"):])
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(str(path) + suffix).unlink(missing_ok=True)
        else:
            worker("pg_reset", {"url": self.url}, self.env, "drop and create the PostgreSQL database")


def database(cfg: Config, key: str) -> Database:
    if key == "sqlite":
        url, label = f"sqlite:///{OUT / 'bench.db'}", "SQLite"
    else:
        url, label = cfg.pg_url, "PostgreSQL"
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "bench-only-not-secret",
           "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("BENCH_NOW", None)
    env.pop("FLASK_APP", None)
    return Database(key, label, url, env)


# --- the measurements ------------------------------------------------------------------------------

def tree_import(cfg: Config, db: Database) -> list[Row]:
    """1. `flask regions import DIR` into an empty, upgraded database vs a bare executemany of the rows."""
    ours, floor, peaks, units = [], [], [], 0
    command = ["regions", "import", cfg.divisions] + (["--under", cfg.tree_under] if cfg.tree_under else [])
    for n in range(cfg.tree_runs):
        db.reset()
        spawn(FLASK + ["db", "upgrade"], db.env, "flask db upgrade")
        done = spawn(FLASK + command, db.env, "flask regions import")
        added = re.search(r"新增([\d,]+)个", done.last_line)
        base, _ = worker("tree_baseline", {"directory": cfg.divisions, "under": cfg.tree_under}, db.env)
        units = base["rows"]
        if not added or int(added.group(1).replace(",", "")) != units:
            raise BenchError(f"flask regions import: expected {units:,} new units, got “{done.last_line}”")
        ours.append(done.wall)
        peaks.append(done.maxrss_kb)
        floor.append(base["seconds"])
        log(f"  {db.label} tree import {n + 1}/{cfg.tree_runs}: {done.wall:.1f} s "
            f"({mib(done.maxrss_kb)}); bare INSERT {base['seconds']:.1f} s")
    scope = f"--under {cfg.tree_under}" if cfg.tree_under else "national"
    mine, bare = median(ours), median(floor)
    return [Row(step=f"1 tree import `regions import` ({scope}, {units:,} units), whole process",
                runs=str(cfg.tree_runs), ours=f"{secs(mine)} ({units / mine:,.0f} units/s)",
                baseline="bare executemany INSERT, similar table",
                base_value=f"{secs(bare)} ({units / bare:,.0f} rows/s)", ratio=mine / bare,
                rss_kb=max(peaks))]


def accounts(cfg: Config, db: Database) -> list[Row]:
    """Setup (not measured): the campaign over the province, and the bench user with a password and a token."""
    done = spawn(FLASK + ["campaign", "create", "--name", f"基准测试{cfg.province}", "--root", cfg.province]
                 + CAMPAIGN, db.env, "flask campaign create")
    db.campaign = int(done.last_line)
    log(f"  {db.label} campaign create: id {db.campaign}, {done.wall:.1f} s")
    spawn(FLASK + ["users", "create", BENCH_USER, "--role", "city_admin", "--region", cfg.province,
                   "--password", BENCH_PASSWORD], db.env, "flask users create")
    db.token = spawn(FLASK + ["users", "token", BENCH_USER], db.env, "flask users token").last_line
    return []


def reports_import(cfg: Config, db: Database) -> list[Row]:
    """2. `flask reports import PERIOD FILE --submit`, one run per period, vs a bare executemany of the same rows."""
    data, _ = worker("campaign_data", {"province": cfg.province, "campaign": db.campaign,
                                       "periods": cfg.periods, "outdir": str(OUT / "csv")}, db.env)
    db.periods, db.villages = data["periods"], data["villages"]
    spent, walls, floor, peaks = [], [], [], []
    for period in db.periods:
        # the clock of the server during the import: the morning of the period's due day (on time)
        now = f"{period['due']}T09:00:00"
        env = {**db.env, "BENCH_NOW": now}
        done = spawn(FLASK_AT + ["reports", "import", str(period["id"]), period["file"], "--submit"], env,
                     f"flask reports import {period['id']}")
        found = re.search(r"已导入([\d,]+)行.*用时([\d.]+)秒", done.last_line)
        if not found or int(found.group(1).replace(",", "")) != period["rows"]:
            raise BenchError(f"flask reports import: expected {period['rows']:,} rows, got “{done.last_line}”")
        base, _ = worker("report_baseline", {"file": period["file"], "period": period["id"], "now": now}, db.env)
        spent.append(float(found.group(2)))
        walls.append(done.wall)
        peaks.append(done.maxrss_kb)
        floor.append(base["seconds"])
        warnings = re.search(r"警告([\d,]+)条", done.last_line)
        log(f"  {db.label} period {period['seq']}: 用时 {found.group(2)} s, wall {done.wall:.1f} s "
            f"({mib(done.maxrss_kb)}, {warnings.group(1) if warnings else '?'} warnings); "
            f"bare INSERT {base['seconds']:.2f} s")
    worker("drop_tables", {"tables": ["bench_report"]}, db.env)
    worker("analyze", {}, db.env)  # PostgreSQL: what autovacuum would do after such a load
    rows_per = db.villages
    bare = median(floor)
    base_text = f"{secs(bare)} ({rows_per / bare:,.0f} rows/s)"
    common = dict(runs=f"{len(spent)} periods", baseline="bare executemany INSERT, copy of `report`",
                  base_value=base_text,
                  rss_kb=max(peaks))
    work, wall = median(spent), median(walls)
    # the goal: 25,000 rows a second on both databases; on PostgreSQL also within 2× of the bare
    # INSERT (SQLite's bare executemany runs in-process with no server to talk to: no fair floor)
    fast = rows_per / work >= 25_000
    goal, met = ("≥ 25,000 rows/s and ≤ 2×", fast and work / bare <= 2) if db.key == "postgresql" else \
        ("≥ 25,000 rows/s", fast)
    return [
        Row(step=f"2 `reports import --submit`, {rows_per:,} villages of {cfg.province}: command's 用时",
            ours=f"{rows_per / work:,.0f} rows/s ({secs(work)})", ratio=work / bare,
            goal=goal, met=met, **common),
        Row(step="2 same, whole process (start-up, read, validate, write, commit)",
            ours=f"{rows_per / wall:,.0f} rows/s ({secs(wall)})", ratio=wall / bare, **common),
    ]


def region_names(cfg: Config) -> dict[str, str]:
    return {cfg.province: f"province {cfg.province}", cfg.city: f"city {cfg.city}",
            cfg.county: f"county {cfg.county}"}


def read_rows(cfg: Config, result: dict, done: Finished, what: str, goal_for_province: bool) -> list[Row]:
    rows = []
    names = region_names(cfg)
    for code, samples in result["regions"].items():
        mine, bare = median(samples["ours_ms"]), median(samples["base_ms"])
        row = Row(step=f"{what} {names[code]}", runs=str(len(samples["ours_ms"])), ours=f"{mine:,.1f} ms",
                  p95=f"{p95(samples['ours_ms']):,.1f} ms",
                  baseline=BARE_SELECT,
                  base_value=f"{bare:,.1f} ms", ratio=mine / bare, rss_kb=done.maxrss_kb)
        if goal_for_province and code == cfg.province:
            row.goal, row.met = "< 300 ms and < 1.5×", mine < 300 and mine / bare < 1.5
        rows.append(row)
    return rows


def read_args(cfg: Config, db: Database) -> dict:
    return {"codes": [cfg.province, cfg.city, cfg.county], "period": db.last["id"],
            "runs": cfg.runs, "warmup": cfg.warmup}


def rollup_progress(cfg: Config, db: Database) -> list[Row]:
    """3. reporting.progress.ranking.progress(period, region) in an app context, fresh session per call."""
    args = {**read_args(cfg, db), "csv_enrolled": db.last["sums"]["enrolled"]}
    result, done = worker("progress", args, db.env)
    rows = read_rows(cfg, result, done, "3 `progress(period, region)`, last period,", True)
    exact = result["exact"]
    log(f"  {db.label} progress(): " + ", ".join(
        f"{c} {median(s['ours_ms']):.0f} ms vs {median(s['base_ms']):.0f} ms" for c, s in result["regions"].items())
        + f"; exact: {'yes' if exact['ok'] else 'no'}")
    rows.append(Row(step="3 roll-up exact: province enrolled = SUM(v3) of stored rows = CSV sum; "
                         "every child's 8 sums = bare GROUP BY",
                    runs="1", ours=f"exact: {'yes' if exact['ok'] else 'no'} "
                                   f"({exact['progress']:,} = {exact['stored']:,} = {exact['csv']:,})"
                    if exact['progress'] is not None and exact['stored'] is not None
                    else f"exact: no ({exact})",
                    goal="exact", met=exact["ok"]))
    return rows


def rollup_api(cfg: Config, db: Database) -> list[Row]:
    """3. GET /api/v1/progress/{code}?period=ID under the Flask test client, bearer token."""
    result, done = worker("api", {**read_args(cfg, db), "token": db.token}, db.env)
    rows = read_rows(cfg, result, done, "3 `GET /api/v1/progress/{code}` (test client),", False)
    expected = db.last["sums"]["enrolled"]
    if result["enrolled"].get(cfg.province) != expected:
        rows.append(Row(step="3 API province enrolled = CSV sum", runs="1",
                        ours=f"exact: no ({result['enrolled'].get(cfg.province)} ≠ {expected})",
                        goal="exact", met=False))
    return rows


def dashboard(cfg: Config, db: Database) -> list[Row]:
    """4. GET /dashboard/{province}?period=ID under the Flask test client, signed in."""
    args = {**read_args(cfg, db), "codes": [cfg.province], "username": BENCH_USER, "password": BENCH_PASSWORD}
    result, done = worker("dashboard", args, db.env)
    size = result["bytes"][cfg.province]
    return read_rows(cfg, result, done, f"4 `GET /dashboard/{{code}}` (test client, {size / 1024:,.0f} KiB),",
                     False)


def under_gunicorn(cfg: Config, db: Database) -> list[Row]:
    """5. gunicorn -w 2: GET /api/v1/progress/{province} and /dashboard/{province}, timed with http.client."""
    port = free_port()
    log_path = OUT / f"gunicorn-{db.key}.log"
    with open(log_path, "wb") as log_file:
        server = subprocess.Popen([str(BIN / "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{port}",
                                   "app:create_app()"], cwd=ROOT, env=db.env, stdin=subprocess.DEVNULL,
                                  stdout=log_file, stderr=log_file)
    try:
        wait_until_serving(port, server, log_path)
        cookie = sign_in(port)
        period = db.last["id"]
        urls = {
            "api": (f"/api/v1/progress/{cfg.province}?period={period}", {"Authorization": f"Bearer {db.token}"}),
            "dashboard": (f"/dashboard/{cfg.province}?period={period}", {"Cookie": cookie}),
            "floor": ("/login", {}),
        }
        samples: dict[str, list[float]] = {name: [] for name in urls}
        for n in range(max(cfg.warmup, 2) * 2 + cfg.http_requests):  # warm both workers first
            for name, (path, headers) in urls.items():
                elapsed = timed_get(port, path, headers)
                if n >= max(cfg.warmup, 2) * 2:
                    samples[name].append(elapsed)
        peaks = [vmhwm(pid) for pid in children_of(server.pid)]
        # the bare GROUP BY of the same rows, while the server sits idle
        bare, _ = worker("bare", {"codes": [cfg.province], "period": period, "runs": cfg.http_requests,
                                  "warmup": cfg.warmup}, db.env)
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    peak = max(peaks) if peaks else None
    floor = median(samples["floor"])
    base = median(bare["regions"][cfg.province]["base_ms"])
    rows = []
    for name, label in (("api", f"`GET /api/v1/progress/{cfg.province}`"),
                        ("dashboard", f"`GET /dashboard/{cfg.province}`")):
        mine = median(samples[name])
        rows.append(Row(step=f"5 gunicorn -w 2, http.client: {label}, last period "
                             f"(HTTP floor, `GET /login`: {floor:,.1f} ms)", runs=str(len(samples[name])),
                        ours=f"{mine:,.1f} ms", p95=f"{p95(samples[name]):,.1f} ms",
                        baseline=BARE_SELECT, base_value=f"{base:,.1f} ms", ratio=mine / base, rss_kb=peak))
    log(f"  {db.label} gunicorn: api {median(samples['api']):.0f} ms, dashboard "
        f"{median(samples['dashboard']):.0f} ms, /login {floor:.1f} ms, bare {base:.1f} ms; worker peak {mib(peak)}")
    return rows


def grid(cfg: Config, db: Database) -> list[Row]:
    """6. bench/grid.py: 章丘区's filing grid (594 villages) in a database of its own, test client."""
    if db.key == "sqlite":
        url = f"sqlite:///{OUT / 'grid.db'}"
    else:
        url = cfg.pg_url.rsplit("/", 1)[0] + "/reporting_bench_grid"
        worker("pg_reset", {"url": url}, db.env, "drop and create the grid's PostgreSQL database")
    done = spawn([PYTHON, str(BENCH / "grid.py"), url], {**db.env, "DATABASE_URL": url,
                                                         "BENCH_RUNS": str(max(cfg.runs, 7))}, "bench/grid.py")
    result = json.loads(done.last_line)
    bare = median(result["bare_ms"])
    rows = []
    for name, label, goal in (("page_ms", "grid page", None),
                              ("carried_page_ms", "grid page of the next period (594 rows of carried values)", None),
                              ("cell_ms", "one cell update (htmx: saves the row, "
                                                                           "returns its totals)", None),
                              ("submit_ms", "提交 of the 594 villages (validate, update, tallies, audit; "
                                            "no revision rows for first submissions)", 150.0)):
        samples = result[name]
        row = Row(step=f"6 filing grid, 章丘区 370114 (594 villages), test client: {label}",
                  runs=str(len(samples)), ours=f"{median(samples):,.1f} ms", p95=f"{p95(samples):,.1f} ms",
                  rss_kb=done.maxrss_kb)
        if goal:
            row.baseline, row.base_value = "bare executemany UPDATE of the 594 rows", f"{bare:,.1f} ms"
            row.ratio, row.goal, row.met = median(samples) / bare, "< 150 ms", median(samples) < goal
        rows.append(row)
    log(f"  {db.label} grid: page {median(result['page_ms']):.0f} ms, cell {median(result['cell_ms']):.0f} ms, "
        f"submit {median(result['submit_ms']):.0f} ms (bare UPDATE {bare:.0f} ms)")
    return rows


def demo_database(cfg: Config, db: Database) -> Database:
    """The Jiangmen demo (`flask demo`) in a database of its own, next to the benchmark's."""
    if db.key == "sqlite":
        demo = Database(db.key, db.label, f"sqlite:///{OUT / 'jiangmen.db'}", {})
    else:
        demo = Database(db.key, db.label, cfg.pg_url.rsplit("/", 1)[0] + "/reporting_bench_jiangmen", {})
    demo.env = {**db.env, "DATABASE_URL": demo.url}
    demo.reset()
    spawn(FLASK + ["db", "upgrade"], demo.env, "flask db upgrade (Jiangmen)")
    spawn(FLASK + ["demo"], demo.env, "flask demo")
    return demo


def circular_render(cfg: Config, db: Database) -> list[Row]:
    """7. The Jiangmen city circular (draft to PDF bytes, warm process) against its Latin-font twin;
    the same through `flask circulars render` as a whole process; the province's circular."""
    demo = demo_database(cfg, db)
    city, done = worker("circular", {"region": "4407", "runs": cfg.runs, "warmup": cfg.warmup, "twin": True},
                        demo.env, "workers.py circular 4407")
    mine, twin = median(city["ours_ms"]) / 1000, median(city["twin_ms"]) / 1000
    pages, twin_pages = city["pdf"]["pages"], city["twin_pdf"]["pages"]
    latin_only = all("DejaVu" in name for name in city["twin_pdf"]["fonts"])
    walls, peaks = [], []
    for n in range(cfg.warmup + cfg.runs):
        cli = spawn(FLASK + ["circulars", "render", "--region", "4407", "--period", str(city["period"]),
                             "--out", str(OUT / f"jiangmen-{db.key}.pdf")], demo.env, "flask circulars render")
        if n >= cfg.warmup:
            walls.append(cli.wall)
            peaks.append(cli.maxrss_kb)
    province_runs = min(cfg.runs, 3)
    province, province_done = worker("circular", {"region": cfg.province, "period": db.last["id"],
                                                  "runs": province_runs, "warmup": 0},
                                     db.env, f"workers.py circular {cfg.province}")
    province_s = median(province["ours_ms"]) / 1000
    log(f"  {db.label} circulars: Jiangmen {mine:.2f} s ({pages} pages) vs Latin twin {twin:.2f} s "
        f"({twin_pages} pages, fonts {', '.join(city['twin_pdf']['fonts'])}); CLI {median(walls):.2f} s; "
        f"province {cfg.province} {province_s:.1f} s ({province['pdf']['pages']} pages)")
    return [
        Row(step=f"7 circular, 江门市 4407 (7 counties, annex of 82 townships, 2 charts; {pages} pages): "
                 f"live numbers to PDF bytes, warm process",
            runs=str(len(city["ours_ms"])), ours=secs(mine), p95=secs(p95(city["ours_ms"]) / 1000),
            baseline=f"its Latin-font twin (bench/twin.py; {twin_pages} pages, "
                     f"{'DejaVu only' if latin_only else 'NOT Latin-only: ' + ', '.join(city['twin_pdf']['fonts'])})",
            base_value=secs(twin), ratio=mine / twin, rss_kb=done.maxrss_kb,
            goal="< 1.5 s and ≤ 1.3× the twin", met=mine < 1.5 and mine / twin <= 1.3 and latin_only),
        Row(step="7 same, whole process `flask circulars render` (start-up, imports, fonts, render, write)",
            runs=str(len(walls)), ours=secs(median(walls)), p95=secs(p95(walls)), rss_kb=max(peaks)),
        Row(step=f"7 circular, province {cfg.province} ({province['pdf']['pages']} pages), live numbers to "
                 f"PDF bytes: what the background job renders",
            runs=str(len(province["ours_ms"])), ours=secs(province_s), rss_kb=province_done.maxrss_kb),
    ]


#: the measurements, in order; each may rely on the state the ones before it left on the Database
STEPS: list[Callable[[Config, Database], list[Row]]] = [
    tree_import,
    accounts,
    reports_import,
    rollup_progress,
    rollup_api,
    dashboard,
    under_gunicorn,
    grid,
    circular_render,
]


# --- HTTP helpers ---------------------------------------------------------------------------------



def request(port: int, method: str, path: str, headers: dict, body: Optional[bytes] = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        conn.close()


def timed_get(port: int, path: str, headers: dict) -> float:
    started = time.perf_counter()
    status, _, body = request(port, "GET", path, headers)
    elapsed = (time.perf_counter() - started) * 1000
    if status != 200:
        raise BenchError(f"gunicorn GET {path}: HTTP {status} {body[:200]!r}")
    return elapsed


def wait_until_serving(port: int, server: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise BenchError(f"gunicorn exited with {server.returncode}; see {log_path}")
        try:
            if request(port, "GET", "/login", {})[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise BenchError(f"gunicorn did not answer within 60 s; see {log_path}")


def session_cookie(headers) -> str:
    jar = http.cookies.SimpleCookie()
    for name, value in headers:
        if name.lower() == "set-cookie":
            jar.load(value)
    return "; ".join(f"{key}={morsel.value}" for key, morsel in jar.items())


def sign_in(port: int) -> str:
    """The login form as a browser fills it (CSRF token included); returns the session cookie."""
    status, headers, body = request(port, "GET", "/login", {})
    found = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', body) or \
        re.search(rb'value="([^"]+)"[^>]*name="csrf_token"', body)
    cookie = session_cookie(headers)
    form = {"username": BENCH_USER, "password": BENCH_PASSWORD}
    if found:
        form["csrf_token"] = found.group(1).decode()
    status, headers, body = request(port, "POST", "/login", {
        "Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"},
        urllib.parse.urlencode(form).encode())
    if status not in (302, 303):
        raise BenchError(f"gunicorn POST /login: HTTP {status}")
    return session_cookie(headers) or cookie


def children_of(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as f:
                        if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                            found.append(int(entry))
                except OSError:
                    continue
        return found


def vmhwm(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


# --- the whole run ---------------------------------------------------------------------------------



def versions(dbs: list[Database]) -> str:
    found = []
    for db in dbs:
        script = ("import sqlite3; print('SQLite', sqlite3.sqlite_version)" if db.key == "sqlite" else
                  "import os, psycopg; c = psycopg.connect(os.environ['DATABASE_URL']); "
                  "print('PostgreSQL', c.execute('show server_version').fetchone()[0])")
        try:
            found.append(spawn([PYTHON, "-c", script], db.env, "version").last_line)
        except BenchError:
            pass
    return ", ".join(found)








def main(argv: list[str]) -> int:
    cfg = configure(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    dbs = [database(cfg, key) for key in cfg.databases]
    log(f"project {ROOT}; province {cfg.province} (city {cfg.city}, county {cfg.county}); "
        f"runs {cfg.runs}, tree runs {cfg.tree_runs}, periods {cfg.periods}; databases {', '.join(cfg.databases)}")
    rows: list[Row] = []
    failed = False
    parts = []
    for db in dbs:
        db_started = time.perf_counter()
        code_before, load_at_start, commit = fingerprint(ROOT), load_average(), checkout(ROOT)
        for step in STEPS:
            if cfg.steps and step.__name__ not in cfg.steps:
                continue
            log(f"{db.label}: {step.__name__}")
            try:
                produced = step(cfg, db)
            except BenchError as error:
                log(f"{db.label}: {step.__name__} FAILED: {error}")
                rows.append(Row(database=db.label, step=f"{step.__name__} FAILED", runs="—",
                                ours=str(error).replace("\n", " ")[:300], met=False))
                failed = True
                break  # the later steps need this one's state
            for row in produced:
                row.database = db.label
            rows.extend(produced)
        minutes = (time.perf_counter() - db_started) / 60
        log(f"{db.label}: done in {minutes:.1f} min")
        try:
            schema = worker("schema", {}, db.env)[0].get("revision")
        except BenchError:
            schema = "?"
        edited = fingerprint(ROOT) != code_before
        parts.append(f"{db.label}: {minutes:.1f} min, {commit}, schema {schema}, load average "
                     f"{load_at_start} → {load_average()}"
                     + ("; **the project's code changed during this part** (concurrent edits)" if edited else ""))
    total = time.perf_counter() - STARTED
    table = render(rows)
    own_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    notes = [
        f"Run {dt.datetime.now().strftime('%Y-%m-%d %H:%M')}{' (--quick)' if cfg.quick else ''}; "
        f"total {total / 60:.1f} min; {machine()}; {versions(dbs)}.",
        "Per database (load average 1/5/15 min at its start → end): " + "; ".join(parts) + ".",
        f"Province {cfg.province} {PROVINCE_NAMES.get(cfg.province, '')}, {dbs[0].villages if dbs else 0:,} villages; "
        f"runs: tree import {cfg.tree_runs}, reports import {cfg.periods} periods, reads {cfg.runs} "
        f"(after {cfg.warmup} warm-up), gunicorn {cfg.http_requests} requests per URL.",
        f"Peak RSS is the measured process's own high-water mark (os.wait4 rusage; gunicorn: the larger "
        f"worker's VmHWM); the orchestrator itself peaked at {own_peak / 1024:.0f} MiB.",
    ]
    text = table + "\n\n" + "\n".join(notes) + "\n"
    print(text)
    cfg.results.parent.mkdir(parents=True, exist_ok=True)
    cfg.results.write_text("# Benchmark results\n\nWritten by `make bench` (bench/run.py); see bench/README.md "
                           "for what each row measures.\n\n" + text, encoding="utf-8")
    log(f"wrote {cfg.results}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
