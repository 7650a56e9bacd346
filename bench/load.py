#!/usr/bin/env python3
"""`make load`: county filers and city viewers against two gunicorn instances, timed; writes bench/LOAD.md.

What it does, in order (see bench/README.md, "Load test"):

1. Prepares its own PostgreSQL database (default `reporting_load`, dropped and recreated; a name
   without `load` in it is refused) with the project's own commands: `flask db upgrade`,
   `flask regions import DIR --under P` per province, `flask campaign create` per province (the
   collection window holding today), `flask targets import` (任务数 of every county, city and
   province), `flask reports import … --submit` for the periods already due (server clock at 09:00
   of each due day, through bench/flask_at.py), `flask reports import` of the current period as
   drafts (the information system's export the counties then check), and `flask users create` /
   `flask users token` for every simulated person (through Flask's CLI runner, in one process).
2. Starts two gunicorn instances on 127.0.0.1 sharing that database and one Redis (db 12, for the
   login rate limits and the job queue); db 12 is flushed first, no other.
3. Drives them with one thread per simulated person (http.client, a new connection per request,
   a hard timeout on each), alternating between the two instances request by request:
   - browser filers: sign in, open the filing grid, save rows as the grid's htmx does (one POST per
     row, with the row's revision), 提交 every few rows (acknowledging warnings once), and after a
     conflict reload the grid and type the row again;
   - API filers (a county's information system): GET a village's report, PUT it with the revision
     read, and after a 409 read again and retry;
   - viewers (city users): sign in, then in a loop the city's dashboard page, its charts fragment
     (htmx, as the page asks for it once loaded), `GET /api/v1/progress/<city>` (bearer token) and
     sometimes one county's dashboard, with a think time between rounds. Each keeps the answers
     with their ETag and asks again with If-None-Match, as a browser does (a 304 counts as served).
   Each person connects from a loopback address of its own (127.0.x.y), as each office has its
   own address, so the per-address login limit (20 per minute) applies per person, unchanged.
4. Afterwards compares what every writer was told it saved with the database (values, revision
   numbers, audit entries, revision history) and counts lost updates.
5. Prints one markdown table and writes it, with the goal check, to bench/LOAD.md.

The gunicorn processes run in process groups of their own and are always stopped (try/finally,
SIGTERM then SIGKILL), also on Ctrl-C.
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import http.client
import http.cookies
import json
import math
import os
import random
import re
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from common import checkout, fingerprint, free_port, load_average, log, machine, simulate

BENCH = Path(__file__).resolve().parent
ROOT = Path(os.environ.get("BENCH_PROJECT") or BENCH.parent).resolve()
OUT = BENCH / "out"
PYTHON = sys.executable
BIN = Path(PYTHON).parent
FLASK = [str(BIN / "flask"), "--app", "app"]
#: `flask` with the server clock fixed (BENCH_NOW): only to file the periods already due, on time
FLASK_AT = [PYTHON, str(BENCH / "flask_at.py"), "--app", "app"]

KEYS = ["population", "should_enroll", "enrolled", "hardship_should", "hardship_enrolled",
        "students_enrolled", "newborns_enrolled", "college_enrolled"]
PASSWORD = "Load-test-2026-pw"
FILER_FOOTER = {"name": "王建华", "phone": "13812345678", "head": "李局长"}
SYSTEM_FOOTER = {"name": "信息系统", "phone": "028-86612345", "head": "李局长"}
REDIS_DB = int(os.environ.get("LOAD_REDIS_DB", "12"))  # flushed before every run
#: request types in the order of the table; the dashboard goal is judged on DASHBOARD_KINDS together
KINDS = [
    "GET /login", "POST /login", "GET / (home)",
    "GET /filing/ (303 to grid)", "GET grid page", "POST row save (htmx)", "POST 提交 (htmx)",
    "GET /api/v1/reports", "PUT /api/v1/reports",
    "GET /dashboard/<city>", "GET /dashboard/<city>/charts (htmx)", "GET /dashboard/<county>",
    "GET /api/v1/progress/<city>",
]
DASHBOARD_KINDS = ["GET /dashboard/<city>", "GET /dashboard/<city>/charts (htmx)", "GET /dashboard/<county>"]
DASHBOARD_GOAL_MS = 300
#: the heading under which bench/LOAD.md keeps its profiles; a new run rewrites only what is above it
PROFILES = "## Where the workers' CPU went (py-spy)"


class LoadError(RuntimeError):
    """The load test could not be prepared or run; the message says which step failed and why."""




# --- configuration ------------------------------------------------------------------------------

@dataclass
class Config:
    quick: bool
    seconds: float
    filers: int
    viewers: int
    api_share: float          # fraction of the filers that write through the JSON API
    shared: int               # API filers placed on a county that a browser filer also files
    hot: int                  # villages per county the filers work on (the ones that phoned in)
    provinces: list[str]
    workers: int              # gunicorn workers per instance
    timeout: float            # hard timeout of every request (socket), seconds
    ramp: float               # people start at random moments within the first `ramp` seconds
    filer_think: tuple[float, float]
    viewer_think: tuple[float, float]
    rows_per_submit: tuple[int, int]  # a browser filer clicks 提交 after this many row saves
    drill: float              # chance that a viewer's round also opens one county's dashboard
    seed: int
    pg_url: str
    redis: str
    divisions: str
    results: Path
    reuse: bool
    gunicorn_config: Optional[str]   # an extra gunicorn config file (e.g. profiling hooks)
    settle: float             # wait up to this long for the machine to calm down after the set-up
    profile: Optional[Path]   # a directory: sample the workers with py-spy during the load


def think_range(text: str) -> tuple[float, float]:
    low, _, high = text.partition(",")
    low_f, high_f = float(low), float(high or low)
    if low_f < 0 or high_f < low_f:
        raise argparse.ArgumentTypeError(f"think time {text!r}: expected MIN,MAX seconds")
    return low_f, high_f


def configure(argv: list[str]) -> Config:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: 20 filers, 5 viewers, 20 s, province 64 (宁夏) only")
    parser.add_argument("--seconds", type=float, help="length of the load (default 120; --quick 20)")
    parser.add_argument("--filers", type=int, help="simulated county filers (default 200; --quick 20)")
    parser.add_argument("--viewers", type=int, help="simulated city viewers (default 50; --quick 5)")
    parser.add_argument("--api-share", type=float, default=0.2,
                        help="fraction of the filers writing through the JSON API (default 0.2)")
    parser.add_argument("--shared", type=int,
                        help="API filers on a county a browser filer also files, for real conflicts "
                             "(default 20; --quick 2); the others each have a county of their own")
    parser.add_argument("--hot", type=int, default=10,
                        help="villages per county the filers correct (default 10)")
    parser.add_argument("--provinces", help="comma-separated province codes (default 51,64; --quick 64)")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers per instance (default 3)")
    parser.add_argument("--timeout", type=float, default=30.0, help="hard timeout per request, s (default 30)")
    parser.add_argument("--ramp", type=float, help="start-up spread, s (default 15; --quick 3)")
    parser.add_argument("--filer-think", type=think_range, default=(3.0, 8.0),
                        help="seconds between a filer's actions, MIN,MAX (default 3,8)")
    parser.add_argument("--viewer-think", type=think_range, default=(5.0, 15.0),
                        help="seconds between a viewer's refreshes, MIN,MAX (default 5,15)")
    parser.add_argument("--rows-per-submit", type=think_range,
                        help="row saves between two 提交 of a browser filer, MIN,MAX (default 4,8; --quick 2,3)")
    parser.add_argument("--seed", type=int, default=20261127)
    parser.add_argument("--pg-url", default=os.environ.get(
        "LOAD_PG_URL", "postgresql://postgres@127.0.0.1:5432/reporting_load"))
    parser.add_argument("--redis", default=os.environ.get("LOAD_REDIS", "127.0.0.1:6379"),
                        help="HOST:PORT of Redis; db 12 is flushed and used")
    parser.add_argument("--results", help="where to write the table (default bench/LOAD.md; "
                                          "--quick bench/out/LOAD-quick.md)")
    parser.add_argument("--gunicorn-config", metavar="FILE",
                        help="pass `-c FILE` to both gunicorn instances (e.g. hooks that time each request)")
    parser.add_argument("--profile", metavar="DIR",
                        help="sample both instances' workers with py-spy during the load and write the raw "
                             "stacks to DIR (summarise them with bench/pyspy_report.py)")
    parser.add_argument("--settle", type=float,
                        help="before the load, wait up to this many seconds for the 1-min load average to "
                             "fall below 1 (default 60; --quick 0)")
    parser.add_argument("--reuse", action="store_true",
                        help="skip the set-up and reuse the database of the last run with the same "
                             "provinces and people (for trying the client; not for results)")
    o = parser.parse_args(argv)
    quick = o.quick
    beside = ROOT.parent / "shared" / "data" / "divisions"
    divisions = os.environ.get("BENCH_DIVISIONS") or str(beside if beside.is_dir() else "/work/shared/data/divisions")
    cfg = Config(
        quick=quick,
        seconds=o.seconds if o.seconds is not None else (20.0 if quick else 120.0),
        filers=o.filers if o.filers is not None else (20 if quick else 200),
        viewers=o.viewers if o.viewers is not None else (5 if quick else 50),
        api_share=o.api_share,
        shared=o.shared if o.shared is not None else (2 if quick else 20),
        hot=o.hot,
        provinces=[p.strip() for p in (o.provinces or ("64" if quick else "51,64")).split(",") if p.strip()],
        workers=o.workers,
        timeout=o.timeout,
        ramp=o.ramp if o.ramp is not None else (3.0 if quick else 15.0),
        filer_think=o.filer_think,
        viewer_think=o.viewer_think,
        rows_per_submit=tuple(int(n) for n in (o.rows_per_submit or ((2, 3) if quick else (4, 8)))),
        drill=0.3,
        seed=o.seed,
        pg_url=o.pg_url,
        redis=o.redis,
        divisions=divisions,
        results=Path(o.results) if o.results else (OUT / "LOAD-quick.md" if quick else BENCH / "LOAD.md"),
        reuse=o.reuse,
        gunicorn_config=o.gunicorn_config,
        settle=o.settle if o.settle is not None else (0.0 if quick else 60.0),
        profile=Path(o.profile) if o.profile else None,
    )
    name = urllib.parse.urlsplit(cfg.pg_url).path.lstrip("/")
    if "load" not in name:
        parser.error(f"refusing database {name!r}: this script drops its database, and only one "
                     f"whose name contains 'load'")
    if not 0 < cfg.seconds <= 3600 or cfg.filers < 1 or cfg.viewers < 0 or cfg.filers + cfg.viewers > 5000:
        parser.error("bounded runs only: 0 < --seconds <= 3600, --filers >= 1, filers + viewers <= 5000")
    if not 0 <= cfg.api_share <= 1:
        parser.error("--api-share must lie between 0 and 1")
    api = round(cfg.filers * cfg.api_share)
    if cfg.shared > min(api, cfg.filers - api):
        parser.error(f"--shared {cfg.shared}: more than the API filers ({api}) or the browser filers "
                     f"({cfg.filers - api})")
    return cfg


# --- processes ----------------------------------------------------------------------------------

def app_env(cfg: Config) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("FLASK_APP", "BENCH_NOW", "TEST_DATABASE_URL")}
    env.update(DATABASE_URL=cfg.pg_url, SECRET_KEY="load-test-only-not-secret", COOKIE_SECURE="0",
               RATELIMIT_STORAGE_URI=f"redis://{cfg.redis}/{REDIS_DB}", REDIS_URL=f"redis://{cfg.redis}/{REDIS_DB}",
               PYTHONDONTWRITEBYTECODE="1", PYTHONUNBUFFERED="1")
    return env


def call(command: list[str], env: dict, label: str, timeout: float = 1800) -> str:
    """Run a command to its end in the project root; its last line of standard output."""
    started = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise LoadError(f"{label}: no end after {timeout:.0f} s") from None
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or done.stdout.strip().splitlines() or ["(no output)"])[-1]
        raise LoadError(f"{label}: exit {done.returncode}: {tail}")
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    log(f"  {label}: {time.perf_counter() - started:.1f} s" + (f" — {lines[-1][:120]}" if lines else ""))
    return lines[-1].strip() if lines else ""


def pg(url: str):
    import psycopg
    return psycopg.connect(url, autocommit=True)


def admin_url(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, ""))


def reset_database(cfg: Config) -> None:
    name = urllib.parse.urlsplit(cfg.pg_url).path.lstrip("/")
    assert "load" in name and re.fullmatch(r"[a-z0-9_]+", name), name  # checked in configure() too
    with pg(admin_url(cfg.pg_url)) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    log(f"  database {name} dropped and created")


def flush_redis(cfg: Config) -> None:
    import redis
    host, _, port = cfg.redis.partition(":")
    redis.Redis(host=host, port=int(port or 6379), db=REDIS_DB, socket_timeout=5).flushdb()


# --- the world: tree, campaigns, data, people ------------------------------------------------------

def campaign_window(today: dt.date) -> dict:
    """The collection window holding today (as the demo picks it): 9月1日–12月31日, extended to 2月28日."""
    if today.month >= 9 or today.month <= 2:
        year = today.year if today.month >= 9 else today.year - 1
        return {"annual": year + 1, "start": dt.date(year, 9, 1), "end": dt.date(year, 12, 31),
                "extend_to": dt.date(year + 1, 2, 28), "first_due": dt.date(year, 10, 1)}
    # outside the usual window (March to August): one of the same shape around today, still open
    start = (today - dt.timedelta(days=80)).replace(day=1)
    end = today + dt.timedelta(days=40)
    return {"annual": today.year, "start": start, "end": end, "extend_to": end + dt.timedelta(days=60),
            "first_due": None}


def province_names(divisions: str) -> dict[str, str]:
    with open(Path(divisions) / "provinces.csv", encoding="utf-8-sig") as f:
        return {row["code"]: row["name"] for row in csv.DictReader(f)}




def prepare(cfg: Config, env: dict) -> dict:
    """A fresh database with the provinces' tree, a live campaign each, data and the people."""
    reset_database(cfg)
    call(FLASK + ["db", "upgrade"], env, "flask db upgrade")
    names = province_names(cfg.divisions)
    for province in cfg.provinces:
        call(FLASK + ["regions", "import", cfg.divisions, "--under", province], env,
            f"flask regions import --under {province}")
    today = dt.date.today()
    window = campaign_window(today)
    outdir = OUT / "load"
    outdir.mkdir(parents=True, exist_ok=True)
    world = {"provinces": {}, "counties": {}, "cities": {}, "villages": 0, "window": {
        k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in window.items()}}
    with pg(cfg.pg_url) as conn:
        for province in cfg.provinces:
            command = ["campaign", "create", "--name", f"{names.get(province, province)}{window['annual']}年度",
                       "--root", province, "--start", window["start"].isoformat(),
                       "--end", window["end"].isoformat(), "--extend-to", window["extend_to"].isoformat(),
                       "--rhythm", "semimonthly"]
            if window["first_due"]:
                command += ["--first-due", window["first_due"].isoformat()]
            campaign = int(call(FLASK + command, env, f"flask campaign create --root {province}"))
            periods = [{"id": r[0], "seq": r[1], "as_of": r[2].isoformat(), "due": r[3].isoformat()}
                       for r in conn.execute("SELECT id, seq, as_of, due FROM period WHERE campaign_id = %s "
                                             "ORDER BY seq", (campaign,))]
            current = next((p for p in periods if dt.date.fromisoformat(p["due"]) >= today), periods[-1])
            rows = conn.execute(
                "SELECT v.code, c.code, ci.code FROM region v JOIN region c ON c.id = v.county_id "
                "JOIN region ci ON ci.id = v.city_id JOIN region p ON p.id = v.province_id "
                "WHERE v.level = 'village' AND p.code = %s ORDER BY v.code", (province,)).fetchall()
            by_county: dict[str, list[str]] = defaultdict(list)
            city_of: dict[str, str] = {}
            for village, county, city in rows:
                by_county[county].append(village)
                city_of[county] = city
            codes = [r[0] for r in rows]
            table = dict(simulate(codes, len(periods), cfg.seed + int(province), final_max=0.97))
            # 任务数: 95 % of the villages' 应参保 for every county; a city's and the province's add up
            tasks = {county: math.ceil(0.95 * sum(table[v][0][1] for v in villages))
                     for county, villages in by_county.items()}
            city_tasks: dict[str, int] = defaultdict(int)
            for county, task in tasks.items():
                city_tasks[city_of[county]] += task
            targets = outdir / f"{province}_targets.csv"
            with open(targets, "w", encoding="utf-8", newline="") as f:
                writer = csv.writer(f)
                writer.writerow(["单位代码", "任务数"])
                writer.writerow([province, sum(city_tasks.values())])
                writer.writerows(sorted(city_tasks.items()))
                writer.writerows(sorted(tasks.items()))
            call(FLASK + ["targets", "import", str(campaign), str(targets)], env, f"flask targets import {province}")
            for period in periods:
                if period["seq"] > current["seq"]:
                    break
                path = outdir / f"{province}_period{period['seq']}.csv"
                with open(path, "w", encoding="utf-8", newline="") as f:
                    writer = csv.writer(f)
                    writer.writerow(["单位代码"] + KEYS)
                    for code in codes:
                        writer.writerow([code, *table[code][period["seq"] - 1]])
                if period is current:
                    # today's export of the information system, as drafts the counties check and submit
                    call(FLASK + ["reports", "import", str(period["id"]), str(path)], env,
                        f"flask reports import {period['id']} (current period, drafts)")
                else:
                    call(FLASK_AT + ["reports", "import", str(period["id"]), str(path), "--submit"],
                        {**env, "BENCH_NOW": f"{period['due']}T09:00:00"},
                        f"flask reports import {period['id']} --submit (due {period['due']}, on time)")
            world["provinces"][province] = {"name": names.get(province, province), "campaign": campaign,
                                            "periods": periods, "current": current}
            for county, villages in by_county.items():
                world["counties"][county] = {"province": province, "city": city_of[county],
                                             "period": current["id"], "villages": villages}
            for city in sorted(set(city_of.values())):
                world["cities"][city] = {"province": province, "period": current["id"],
                                         "counties": sorted(c for c in by_county if city_of[c] == city)}
            world["villages"] += len(codes)
    world["people"] = cast(cfg, world)
    create_accounts(cfg, env, world["people"])
    with pg(cfg.pg_url) as conn:
        conn.execute("ANALYZE")  # what autovacuum would do within a minute of such a load
    return world


def cast(cfg: Config, world: dict) -> list[dict]:
    """Who takes part: browser filers, API filers (some sharing a browser filer's county), viewers."""
    rng = random.Random(cfg.seed)
    api_count = round(cfg.filers * cfg.api_share)
    browser_count = cfg.filers - api_count
    needed = cfg.filers - cfg.shared
    counties = sorted(world["counties"])
    if len(counties) < needed:
        raise LoadError(f"{cfg.filers} filers with --shared {cfg.shared} need {needed} counties; provinces "
                        f"{','.join(cfg.provinces)} have {len(counties)} with villages (add a province "
                        f"with --provinces, or raise --shared)")
    # spread over the whole tree: every k-th county by code, so that every city has filers
    chosen = [counties[int(i * len(counties) / needed)] for i in range(needed)]
    rng.shuffle(chosen)
    browser, own_api = chosen[:browser_count], chosen[browser_count:]
    people = []
    for county in browser:
        people.append({"kind": "browser", "username": f"lf{county}", "county": county, "role": "county_filer"})
    for county in browser[:cfg.shared]:
        people.append({"kind": "api", "username": f"ls{county}", "county": county, "role": "county_filer",
                       "shared": True})
    for county in own_api:
        people.append({"kind": "api", "username": f"ls{county}", "county": county, "role": "county_filer",
                       "shared": False})
    cities = sorted(world["cities"])
    for n in range(cfg.viewers):
        city = cities[n % len(cities)]
        people.append({"kind": "viewer", "username": f"lv{city}_{n // len(cities) + 1}", "city": city,
                       "role": "viewer"})
    for n, person in enumerate(people):
        person["index"] = n
    return people


def create_accounts(cfg: Config, env: dict, people: list[dict]) -> None:
    """`flask users create` (and `users token` for API filers and viewers), run through Flask's CLI
    runner in one process: the same commands without an interpreter start-up each."""
    spec = OUT / "load" / "accounts.json"
    tokens_file = OUT / "load" / "tokens.json"
    spec.write_text(json.dumps([{
        "username": p["username"], "role": p["role"], "region": p.get("county") or p["city"],
        "name": FILER_FOOTER["name"] if p["kind"] == "browser" else "", "phone": FILER_FOOTER["phone"]
        if p["kind"] == "browser" else "", "token": p["kind"] in ("api", "viewer")} for p in people],
        ensure_ascii=False), encoding="utf-8")
    call([PYTHON, str(Path(__file__).resolve()), "_accounts", str(spec), str(tokens_file)], env,
        f"flask users create ×{len(people)}, users token ×{sum(p['kind'] != 'browser' for p in people)}")
    tokens = json.loads(tokens_file.read_text())
    for person in people:
        if person["username"] in tokens:
            person["token"] = tokens[person["username"]]


def accounts_main(spec_path: str, out_path: str) -> int:
    """The `_accounts` step, in a process of its own: the CLI commands through Flask's CLI runner."""
    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)
    from app import create_app
    app = create_app()
    runner = app.test_cli_runner()
    tokens = {}
    for user in json.loads(Path(spec_path).read_text(encoding="utf-8")):
        args = ["users", "create", user["username"], "--role", user["role"], "--region", user["region"],
                "--password", PASSWORD, "--name", user["name"], "--phone", user["phone"]]
        result = runner.invoke(args=args)
        if result.exit_code != 0:
            print(f"flask {' '.join(args[:3])}: {result.output.strip()[-300:]}", file=sys.stderr)
            return 1
        if user["token"]:
            result = runner.invoke(args=["users", "token", user["username"]])
            if result.exit_code != 0:
                print(f"flask users token {user['username']}: {result.output.strip()[-300:]}", file=sys.stderr)
                return 1
            tokens[user["username"]] = result.stdout.strip().splitlines()[-1]
    Path(out_path).write_text(json.dumps(tokens))
    print(f"{len(tokens)} tokens")
    return 0


# --- the servers --------------------------------------------------------------------------------



class Server:
    """`gunicorn -w N -b 127.0.0.1:PORT 'app:create_app()'` in a process group of its own."""

    def __init__(self, name: str, env: dict, workers: int, config: Optional[str] = None):
        self.name = name
        self.port = free_port()
        self.log_path = OUT / f"load-gunicorn-{name}.log"
        self.command = [str(BIN / "gunicorn"), "-w", str(workers), "-b", f"127.0.0.1:{self.port}",
                        "--graceful-timeout", "5", *(["-c", config] if config else []), "app:create_app()"]
        with open(self.log_path, "wb") as log_file:
            self.process = subprocess.Popen(self.command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                            stdout=log_file, stderr=log_file, start_new_session=True)
        self.peak_kb: dict[int, int] = {}   # worker pid -> VmHWM
        self.cpu_ticks: dict[int, int] = {}  # worker pid -> utime + stime, last seen
        self.cpu_base: dict[int, int] = {}   # the same when the load started (start-up excluded)

    def wait_until_serving(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise LoadError(f"gunicorn {self.name} exited with {self.process.returncode}; see {self.log_path}")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                connection.request("GET", "/login")
                status = connection.getresponse().status
                connection.close()
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise LoadError(f"gunicorn {self.name} did not answer within {timeout:.0f} s; see {self.log_path}")

    def workers(self) -> list[int]:
        try:
            with open(f"/proc/{self.process.pid}/task/{self.process.pid}/children") as f:
                return [int(p) for p in f.read().split()]
        except OSError:
            return []

    def sample(self) -> None:
        """Remember each worker's VmHWM and CPU time (a worker killed and replaced keeps its entry)."""
        for pid in self.workers():
            try:
                with open(f"/proc/{pid}/status") as f:
                    for line in f:
                        if line.startswith("VmHWM:"):
                            self.peak_kb[pid] = max(self.peak_kb.get(pid, 0), int(line.split()[1]))
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                    self.cpu_ticks[pid] = int(fields[11]) + int(fields[12])
            except (OSError, IndexError, ValueError):
                pass

    def stop(self) -> None:
        """SIGTERM to the whole group (graceful), SIGKILL after 15 s."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait()


def start_profiler(server: Server, directory: Path) -> subprocess.Popen:
    """py-spy on the instance's master and its workers: 100 samples a second of the busy threads,
    without pausing them, as raw stacks ("frame;frame;… count") with each process's id."""
    directory.mkdir(parents=True, exist_ok=True)
    out = directory / f"spy-{server.name}.txt"
    return subprocess.Popen([str(BIN / "py-spy"), "record", "--pid", str(server.process.pid), "--subprocesses",
                             "--nonblocking", "--rate", "100", "--format", "raw", "--output", str(out)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=open(directory / f"spy-{server.name}.log", "wb"))


def stop_profiler(spy: subprocess.Popen) -> None:
    spy.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
    try:
        spy.wait(timeout=30)
    except subprocess.TimeoutExpired:
        spy.kill()
        spy.wait()


# --- the simulated people -----------------------------------------------------------------------

@dataclass
class Sample:
    kind: str
    at: float           # seconds since the load started
    ms: float
    port: int
    error: Optional[str]


class RequestFailed(Exception):
    """A request that counts as an error (already recorded); the person recovers and carries on."""


@dataclass
class Response:
    status: int
    headers: dict
    text: str


@dataclass
class Write:
    """A value change the server acknowledged: what the writer believes is stored, at which revision."""
    village: str
    revision: int
    values: dict
    #: it changed a report already submitted (a correction, which keeps a revision row); a first
    #: submission keeps none: the report itself is its first version
    correction: bool
    who: str


class Run:
    """Shared state of one load: servers, clock, samples, acknowledged writes, counters."""

    def __init__(self, cfg: Config, world: dict, ports: list[int]):
        self.cfg = cfg
        self.world = world
        self.ports = ports
        self.t0 = time.perf_counter()
        self.deadline = self.t0 + cfg.seconds
        self.samples: list[Sample] = []
        self.writes: list[Write] = []
        self.events: Counter = Counter()
        self.error_examples: dict[str, str] = {}
        self.stop = threading.Event()

    def record(self, sample: Sample) -> None:
        self.samples.append(sample)  # list.append is atomic under the GIL

    def note(self, event: str, n: int = 1) -> None:
        with LOCK:
            self.events[event] += n

    def time_left(self) -> bool:
        return time.perf_counter() < self.deadline and not self.stop.is_set()

    def pause(self, low_high: tuple[float, float], rng: random.Random) -> None:
        wait = min(rng.uniform(*low_high), max(0.0, self.deadline - time.perf_counter()))
        self.stop.wait(wait)


LOCK = threading.Lock()
CSRF_FIELD = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"'
                        r'|name="csrf_token"[^>]*value="([^"]+)"')
CSRF_HEADER = re.compile(r'"X-CSRFToken": "([^"]+)"')
CODE_CELL = re.compile(r'id="code-(\d+)" class="code"[^>]*>\d+<input type="hidden" name="revision" value="(\d+)"')
CELL = re.compile(r'id="c-(\d+)-([a-z_]+)" name="[a-z_]+" value="(\d*)"')
ERROR_P = re.compile(r'<p class="error"[^>]*>(.*?)</p>', re.S)
CHARTS_URL = re.compile(r'hx-get="(/dashboard/\d+/charts\?period=\d+)"')


def source_address(index: int) -> str:
    """Each person's own loopback address, 127.0.1.2 onwards (127.0.0.1 stays the harness's)."""
    return f"127.0.{1 + index // 250}.{2 + index % 250}"


class Browser:
    """One person's HTTP client: its own source address and cookies, alternating between instances."""

    def __init__(self, run: Run, person: dict):
        self.run = run
        self.person = person
        self.source = source_address(person["index"])
        self.cookies: dict[str, str] = {}
        self.turn = person["index"] % len(run.ports)
        self.last: Optional[Sample] = None
        #: the server sent this person to the login page: the session is gone
        self.signed_out = False
        #: answers kept with their ETag, asked again with If-None-Match as a browser does
        self.held: dict[tuple, tuple[str, Response]] = {}

    def request(self, kind: str, method: str, path: str, *, form: Optional[dict] = None,
                body: Optional[dict] = None, headers: Optional[dict] = None, expect=(200,),
                token: Optional[str] = None, conditional: bool = False) -> Response:
        """With `conditional`, the answer kept from the last time is revalidated (If-None-Match) and
        returned again on a 304."""
        key = (path, tuple(sorted((headers or {}).items())), token)
        held = self.held.get(key) if conditional else None
        if held:
            headers, expect = {**(headers or {}), "If-None-Match": held[0]}, (*expect, 304)
        port = self.run.ports[self.turn % len(self.run.ports)]
        self.turn += 1
        sent = {"Host": f"127.0.0.1:{port}", "User-Agent": "bench-load/1", "Accept-Encoding": "identity"}
        payload = None
        if form is not None:
            payload = urllib.parse.urlencode(form).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            payload = json.dumps(body, ensure_ascii=False).encode()
            sent["Content-Type"] = "application/json"
        if token:
            sent["Authorization"] = f"Bearer {token}"
        elif self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        sent.update(headers or {})
        started = time.perf_counter()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=self.run.cfg.timeout,
                                                source_address=(self.source, 0))
        try:
            connection.request(method, path, body=payload, headers=sent)
            answer = connection.getresponse()
            data = answer.read()
            status, got = answer.status, answer.getheaders()
        except (OSError, http.client.HTTPException) as error:
            ms = (time.perf_counter() - started) * 1000
            reason = "timeout" if isinstance(error, (socket.timeout, TimeoutError)) else type(error).__name__
            self.fail(Sample(kind, started - self.run.t0, ms, port, f"connection: {reason}"), str(error))
            raise RequestFailed(reason) from None
        finally:
            connection.close()
        ms = (time.perf_counter() - started) * 1000
        if not token:
            jar = http.cookies.SimpleCookie()
            for name, value in got:
                if name.lower() == "set-cookie":
                    jar.load(value)
            for name, morsel in jar.items():
                self.cookies[name] = morsel.value
        text = data.decode("utf-8", "replace")
        heads = {name.lower(): value for name, value in got}
        if status not in expect:
            where = heads.get("location", "")
            if status in (302, 303) and "/login" in where or status == 401 and not token:
                self.signed_out = True
            self.fail(Sample(kind, started - self.run.t0, ms, port, f"HTTP {status}"),
                      f"{method} {path} -> {status} {where} {text[:300]!r}")
            raise RequestFailed(f"HTTP {status}")
        self.last = Sample(kind, started - self.run.t0, ms, port, None)
        self.run.record(self.last)
        if status == 304 and held:
            return held[1]
        answer = Response(status, heads, text)
        if conditional and "etag" in heads:
            self.held[key] = (heads["etag"], answer)
        return answer

    def fail(self, sample: Sample, detail: str) -> None:
        self.last = sample
        self.run.record(sample)
        with LOCK:
            self.run.error_examples.setdefault(f"{sample.kind}: {sample.error}", detail[:400])

    def refused(self, kind: str, reason: str, detail: str) -> None:
        """An answer with the right status that still refused the work (counted as an error)."""
        with LOCK:
            self.run.events[f"refused: {kind}"] += 1
            self.run.error_examples.setdefault(f"{kind}: {reason}", detail[:400])
        # this person's answer that refused the work becomes an error of its request type
        if self.last is not None and self.last.kind == kind and self.last.error is None:
            self.last.error = reason

    def sign_in(self) -> None:
        """Sign in; after a failure wait a little and try again, three times at most."""
        for attempt in range(3):
            try:
                return self.sign_in_once()
            except RequestFailed:
                if attempt == 2 or not self.run.time_left():
                    raise
                self.run.stop.wait(self.run.cfg.timeout / 10 + random.uniform(1, 3))

    def sign_in_once(self) -> None:
        """The login form as a browser fills it (CSRF token included), then the start page."""
        self.cookies.clear()
        self.signed_out = False
        page = self.request("GET /login", "GET", "/login")
        found = CSRF_FIELD.search(page.text)
        token = next(g for g in found.groups() if g) if found else ""
        answer = self.request("POST /login", "POST", "/login", expect=(303,), form={
            "csrf_token": token, "username": self.person["username"], "password": PASSWORD})
        target = answer.headers.get("location", "/")
        if "/login" in target:
            raise RequestFailed("login refused")
        self.request("GET / (home)", "GET", urllib.parse.urlsplit(target).path or "/")


def next_values(current: dict, rng: random.Random) -> dict:
    """A correction as a filer types it: a few more people enrolled (never above 应参保), and one
    more 大学生 (so that every save changes the row)."""
    values = {k: current.get(k) for k in KEYS}
    room = max(0, (values["should_enroll"] or 0) - (values["enrolled"] or 0))
    values["enrolled"] = (values["enrolled"] or 0) + min(rng.randint(1, 12), room)
    values["college_enrolled"] = (values["college_enrolled"] or 0) + 1
    return values


class GridFiler:
    """A county filer in the browser: the grid page, row saves as htmx sends them, 提交."""

    def __init__(self, run: Run, person: dict, rng: random.Random):
        self.run, self.person, self.rng = run, person, rng
        self.browser = Browser(run, person)
        county = run.world["counties"][person["county"]]
        self.county = person["county"]
        self.period = county["period"]
        self.hot = county["villages"][:run.cfg.hot]
        self.grid_url = f"/filing/{self.period}/{self.county}"
        self.csrf = ""
        self.revisions: dict[str, int] = {}
        self.values: dict[str, dict] = {}
        self.all_submitted = False

    def main(self) -> None:
        self.browser.sign_in()
        answer = self.browser.request("GET /filing/ (303 to grid)", "GET", "/filing/", expect=(302, 303))
        location = urllib.parse.urlsplit(answer.headers.get("location", "")).path
        if location != self.grid_url:
            self.browser.refused("GET /filing/ (303 to grid)", "wrong grid", f"redirected to {location}")
        self.open_grid()
        rows_until_submit = self.rng.randint(*self.run.cfg.rows_per_submit)
        while self.run.time_left():
            self.run.pause(self.run.cfg.filer_think, self.rng)
            if not self.run.time_left():
                break
            try:
                self.save_row(self.rng.choice(self.hot))
                rows_until_submit -= 1
                if rows_until_submit <= 0:
                    self.run.pause((1.0, 3.0), self.rng)  # fills in the footer, clicks 提交
                    self.submit()
                    rows_until_submit = self.rng.randint(*self.run.cfg.rows_per_submit)
            except RequestFailed:
                self.recover()

    def recover(self) -> None:
        """After a failed request: wait, then reload the grid (signing in again if the session is gone)."""
        self.run.pause(self.run.cfg.filer_think, self.rng)
        if not self.run.time_left():
            return
        try:
            if self.browser.signed_out:
                self.browser.sign_in()
            self.open_grid()
        except RequestFailed:
            pass

    def open_grid(self) -> None:
        page = self.browser.request("GET grid page", "GET", self.grid_url)
        found = CSRF_HEADER.search(page.text)
        self.csrf = found.group(1) if found else self.csrf
        self.revisions = {code: int(rev) for code, rev in CODE_CELL.findall(page.text)}
        self.all_submitted = 'id="reason"' in page.text
        values: dict[str, dict] = defaultdict(dict)
        for code, key, value in CELL.findall(page.text):
            if code in self.hot:
                values[code][key] = int(value) if value else None
        self.values = dict(values)
        if not self.revisions or not self.csrf:
            self.browser.refused("GET grid page", "grid without rows or CSRF token", page.text[:300])
            raise RequestFailed("empty grid")

    def save_row(self, village: str) -> None:
        """Type a row; on a conflict (someone else saved it) reload the grid and type it again."""
        for attempt in range(5):
            values = next_values(self.values.get(village, {}), self.rng)
            revision = self.revisions.get(village, 0)
            form = {k: "" if v is None else str(v) for k, v in values.items()}
            form["revision"] = str(revision)
            if self.all_submitted:
                form["reason"] = "据乡镇核实更正"
            answer = self.browser.request(
                "POST row save (htmx)", "POST", f"{self.grid_url}/units/{village}", form=form,
                headers={"HX-Request": "true", "HX-Target": f"u-{village}", "X-CSRFToken": self.csrf,
                         "HX-Current-URL": f"http://127.0.0.1{self.grid_url}"})
            if 'role="alert"' in answer.text:  # 该报表已被他人修改 / 刚被他人修改
                self.run.note("grid conflicts (row reloaded and typed again)")
                self.run.pause((0.5, 1.5), self.rng)  # reads the message, clicks 刷新
                self.open_grid()
                continue
            errors = [re.sub(r"<[^>]+>", "", e) for e in ERROR_P.findall(answer.text)]
            found = re.search(rf'id="code-{village}" class="code"[^>]*>\d+<input type="hidden" name="revision" '
                              rf'value="(\d+)"', answer.text)
            stored = int(found.group(1)) if found else None
            if errors or stored != revision + 1:
                self.browser.refused("POST row save (htmx)", "row not saved",
                                     f"{village} rev {revision} -> {stored}: {'；'.join(errors)[:300]}")
                self.open_grid()
                return
            # a row of a submitted grid stays submitted (a correction); the badge says so when no
            # warning is shown in its place
            submitted = self.all_submitted or re.search(
                rf'id="msg-{village}"[^>]*>\s*<span class="badge green">', answer.text) is not None
            self.revisions[village] = stored
            self.values[village] = values
            self.run.writes.append(Write(village, stored, values, submitted, self.person["username"]))
            return
        self.browser.refused("POST row save (htmx)", "conflict not resolved in 5 attempts", village)

    def submit(self) -> None:
        """提交 the grid; acknowledge the warnings once; after a refusal because of a concurrent save,
        reload and submit again."""
        acknowledge = False
        for attempt in range(5):
            form = {"csrf_token": self.csrf, "filer_name": FILER_FOOTER["name"],
                    "filer_phone": FILER_FOOTER["phone"], "filer_head": FILER_FOOTER["head"]}
            if acknowledge:
                form["acknowledge"] = "y"
            if self.all_submitted:
                form["reason"] = "据乡镇核实更正"
            answer = self.browser.request(
                "POST 提交 (htmx)", "POST", f"{self.grid_url}/submit", form=form, expect=(204, 422),
                headers={"HX-Request": "true", "HX-Target": "submit-panel", "X-CSRFToken": self.csrf,
                         "HX-Current-URL": f"http://127.0.0.1{self.grid_url}"})
            if answer.status == 204:
                target = answer.headers.get("hx-redirect", self.grid_url)
                if urllib.parse.urlsplit(target).path != self.grid_url:
                    self.browser.refused("POST 提交 (htmx)", "unexpected redirect", target)
                self.run.note("提交 accepted")
                self.open_grid()  # htmx follows HX-Redirect with a full page load
                return
            if "确认无误" in answer.text and "处错误" not in answer.text and not acknowledge:
                self.run.note("提交 held for warnings, acknowledged")
                acknowledge = True
                continue
            if "被他人修改" in answer.text:
                self.run.note("提交 conflicts (grid reloaded, submitted again)")
                self.open_grid()
                continue
            errors = [re.sub(r"<[^>]+>", "", e) for e in re.findall(r"<li>(.*?)</li>", answer.text, re.S)]
            self.browser.refused("POST 提交 (htmx)", "submission refused", "；".join(errors)[:300])
            self.open_grid()
            return
        self.browser.refused("POST 提交 (htmx)", "submission not through in 5 attempts", self.county)


class ApiFiler:
    """A county's information system: GET the report, PUT it back changed with the revision read."""

    def __init__(self, run: Run, person: dict, rng: random.Random):
        self.run, self.person, self.rng = run, person, rng
        self.browser = Browser(run, person)
        county = run.world["counties"][person["county"]]
        self.period = county["period"]
        self.hot = county["villages"][:run.cfg.hot]
        # beside a browser filer it pushes drafts, which the county checks and submits in the grid;
        # on a county of its own it submits
        self.submit = not person["shared"]

    def main(self) -> None:
        while self.run.time_left():
            self.run.pause(self.run.cfg.filer_think, self.rng)
            if not self.run.time_left():
                break
            try:
                self.update(self.rng.choice(self.hot))
            except RequestFailed:
                pass

    def update(self, village: str) -> None:
        path = f"/api/v1/reports/{village}/{self.period}"
        token = self.person["token"]
        for attempt in range(5):
            current = json.loads(self.browser.request("GET /api/v1/reports", "GET", path, token=token).text)
            values = next_values(current["values"], self.rng)
            body = {"values": values, "filer": SYSTEM_FOOTER, "submit": self.submit,
                    "revision": current["revision"]}
            if current["status"] == "submitted":
                body["reason"] = "信息系统数据同步更正"
            answer = self.browser.request("PUT /api/v1/reports", "PUT", path, body=body, token=token,
                                          expect=(200, 409))
            data = json.loads(answer.text)
            if answer.status == 409:
                self.run.note("API 409 conflicts (read again and retried)")
                continue
            stored = {k: data["values"].get(k) for k in KEYS}
            if stored != values or data["revision"] != current["revision"] + 1:
                self.browser.refused("PUT /api/v1/reports", "answer differs from what was sent",
                                     f"{village}: sent {values} rev {current['revision']}, got {data}")
                return
            self.run.writes.append(Write(village, data["revision"], values, current["status"] == "submitted",
                                         self.person["username"]))
            return
        self.browser.refused("PUT /api/v1/reports", "conflict not resolved in 5 attempts", village)


class Viewer:
    """A city user: the dashboard, its charts, the progress API, sometimes a county's dashboard."""

    def __init__(self, run: Run, person: dict, rng: random.Random):
        self.run, self.person, self.rng = run, person, rng
        self.browser = Browser(run, person)
        self.city = person["city"]
        self.counties = run.world["cities"][self.city]["counties"]

    def main(self) -> None:
        self.browser.sign_in()
        while self.run.time_left():
            try:
                page = self.browser.request("GET /dashboard/<city>", "GET", f"/dashboard/{self.city}",
                                            conditional=True)
                charts = CHARTS_URL.search(page.text)
                if charts is None:
                    self.browser.refused("GET /dashboard/<city>", "no charts link", page.text[:300])
                else:
                    self.browser.request("GET /dashboard/<city>/charts (htmx)", "GET", charts.group(1),
                                         headers={"HX-Request": "true", "HX-Target": "charts"}, conditional=True)
                self.browser.request("GET /api/v1/progress/<city>", "GET", f"/api/v1/progress/{self.city}",
                                     token=self.person["token"], conditional=True)
                if self.counties and self.rng.random() < self.run.cfg.drill:
                    self.run.pause((1.0, 3.0), self.rng)
                    self.browser.request("GET /dashboard/<county>", "GET",
                                         f"/dashboard/{self.rng.choice(self.counties)}", conditional=True)
            except RequestFailed:
                if self.browser.signed_out:
                    try:
                        self.browser.sign_in()
                    except RequestFailed:
                        pass
            self.run.pause(self.run.cfg.viewer_think, self.rng)


def person_thread(run: Run, person: dict, offset: float) -> None:
    rng = random.Random(f"{run.cfg.seed}-{person['username']}")
    run.stop.wait(offset)
    kind = {"browser": GridFiler, "api": ApiFiler, "viewer": Viewer}[person["kind"]]
    try:
        kind(run, person, rng).main()
    except RequestFailed:
        run.note(f"{person['kind']} gave up after a failed sign-in")
    except Exception as error:  # noqa: BLE001 - a client bug must show in the output, not kill the run
        with LOCK:
            run.events[f"client exception: {type(error).__name__}"] += 1
            run.error_examples.setdefault(f"client exception {type(error).__name__}", repr(error)[:400])


def drive(cfg: Config, world: dict, servers: list[Server]) -> tuple[Run, dict]:
    """All the people at once for cfg.seconds; returns the run and what the monitor saw."""
    run = Run(cfg, world, [s.port for s in servers])
    rng = random.Random(cfg.seed)
    people = world["people"]
    threads = []
    for person in people:
        offset = rng.uniform(0, min(cfg.ramp, cfg.seconds / 2))
        thread = threading.Thread(target=person_thread, args=(run, person, offset), daemon=True,
                                  name=person["username"])
        threads.append(thread)
    seen = {"load_max": 0.0}

    def monitor():
        while not run.stop.is_set():
            seen["load_max"] = max(seen["load_max"], os.getloadavg()[0])
            for server in servers:
                server.sample()
            run.stop.wait(1.0)

    watcher = threading.Thread(target=monitor, daemon=True)
    for server in servers:
        server.sample()
        server.cpu_base = dict(server.cpu_ticks)
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    pg_before = postgres_cpu()
    busy_before = machine_busy()
    run.t0 = time.perf_counter()
    run.deadline = run.t0 + cfg.seconds
    watcher.start()
    for thread in threads:
        thread.start()
    last_log = 0.0
    # people finish what they are doing after the deadline (each request has a hard timeout)
    hard_stop = run.deadline + 6 * cfg.timeout + 30
    while any(t.is_alive() for t in threads) and time.perf_counter() < hard_stop:
        time.sleep(0.5)
        now = time.perf_counter() - run.t0
        if now - last_log >= 10:
            last_log = now
            done = len(run.samples)
            errors = sum(1 for s in run.samples if s.error)
            log(f"  {now:5.0f} s: {done:,} requests, {errors} errors, load average {os.getloadavg()[0]:.1f}")
    run.stop.set()
    for server in servers:
        server.sample()
    watcher.join(5)
    stragglers = [t.name for t in threads if t.is_alive()]
    if stragglers:
        run.note("people still waiting at the hard stop", len(stragglers))
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    seen["postgres_cpu"] = postgres_cpu() - pg_before
    seen["busy"] = machine_busy() - busy_before
    seen["elapsed"] = time.perf_counter() - run.t0
    seen["client_cpu"] = (cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime)
    return run, seen


# --- the check: did every acknowledged write land? ----------------------------------------------

def check_writes(cfg: Config, world: dict, run: Run, marks: dict) -> dict:
    """Compare what the writers were told with the database.

    - values: each village's stored values equal those of the acknowledged write with the highest
      revision (a later write that overwrote it without knowing would show here);
    - revisions: no two writers were told the same revision number for the same village;
    - audit: the audit log holds exactly one report.save/submit/correct entry per acknowledged write
      (its target names the revision: 第N版), and none the writers did not hear of;
    - history: every acknowledged correction of a submitted report has its revision row with those
      values (a first submission has none: the report is its first version).
    """
    by_village: dict[str, list[Write]] = defaultdict(list)
    for write in run.writes:
        by_village[write.village].append(write)
    result = {"villages": len(by_village), "writes": len(run.writes), "value_mismatch": [],
              "duplicate_revisions": [], "unaudited": [], "audited_unacknowledged": [],
              "history_missing": [], "behind": []}
    if not by_village:
        return result
    with pg(cfg.pg_url) as conn:
        slots = {}
        for campaign, key, slot in conn.execute("SELECT campaign_id, key, slot FROM indicator"):
            slots.setdefault(campaign, {})[key] = slot
        periods = sorted({c["period"] for c in world["counties"].values()})
        rows = conn.execute(
            "SELECT g.code, r.revision, r.status, p.campaign_id, r.v1, r.v2, r.v3, r.v4, r.v5, r.v6, r.v7, "
            "r.v8, r.v9, r.v10, r.v11, r.v12 FROM report r JOIN region g ON g.id = r.region_id "
            "JOIN period p ON p.id = r.period_id WHERE r.period_id = ANY(%s) AND g.code = ANY(%s)",
            (periods, list(by_village))).fetchall()
        stored = {}
        for code, revision, status, campaign, *values in rows:
            stored[code] = (revision, status, {k: values[s - 1] for k, s in slots[campaign].items()})
        audited: dict[str, list[int]] = defaultdict(list)
        for (target,) in conn.execute(
                "SELECT target FROM audit_entry WHERE id > %s AND kind IN "
                "('report.save', 'report.submit', 'report.correct')", (marks["audit"],)):
            found = re.match(r"报表 (\d+) .*第(\d+)版", target)
            if found:
                audited[found.group(1)].append(int(found.group(2)))
        history: dict[tuple[str, int], dict] = {}
        for code, number, new_values in conn.execute(
                "SELECT g.code, v.number, v.new_values FROM revision v JOIN report r ON r.id = v.report_id "
                "JOIN region g ON g.id = r.region_id WHERE v.id > %s AND g.code = ANY(%s)",
                (marks["revision"], list(by_village))):
            history[(code, number)] = new_values if isinstance(new_values, dict) else json.loads(new_values)
    for village, writes in by_village.items():
        last = max(writes, key=lambda w: w.revision)
        revision, status, values = stored.get(village, (None, None, {}))
        if values != last.values:
            result["value_mismatch"].append(f"{village}: stored {values} rev {revision}, last acknowledged "
                                            f"{last.values} rev {last.revision} by {last.who}")
        if revision is None or revision < last.revision:
            result["behind"].append(f"{village}: stored rev {revision} < acknowledged {last.revision}")
        numbers = Counter(w.revision for w in writes)
        result["duplicate_revisions"] += [f"{village} rev {n} ×{c}" for n, c in numbers.items() if c > 1]
        logged = Counter(audited.get(village, []))
        result["unaudited"] += [f"{village} rev {n}" for n in numbers if logged[n] < numbers[n]]
        result["audited_unacknowledged"] += [f"{village} rev {n}" for n in logged if n not in numbers]
        for write in writes:
            if write.correction:
                kept = history.get((village, write.revision))
                if kept is None or {k: kept.get(k) for k in KEYS} != write.values:
                    result["history_missing"].append(f"{village} rev {write.revision}")
    return result


# --- the table ----------------------------------------------------------------------------------

def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of an ordered list."""
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)] if ordered else float("nan")


def stats_row(label: str, samples: list[Sample], seconds: float) -> list[str]:
    ms = sorted(s.ms for s in samples)
    errors = sum(1 for s in samples if s.error)
    if not ms:
        return [label, "0", "—", "—", "—", "—", "—", "0"]
    return [label, f"{len(ms):,}", f"{len(ms) / seconds:,.1f}", f"{percentile(ms, 0.5):,.0f}",
            f"{percentile(ms, 0.95):,.0f}", f"{percentile(ms, 0.99):,.0f}", f"{ms[-1]:,.0f}",
            f"{errors:,}" if not errors else f"**{errors:,}**"]


def render(run: Run, seconds: float) -> str:
    head = ["request", "count", "req/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors"]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    by_kind: dict[str, list[Sample]] = defaultdict(list)
    for sample in run.samples:
        by_kind[sample.kind].append(sample)
    for kind in KINDS + sorted(set(by_kind) - set(KINDS)):
        if by_kind.get(kind):
            lines.append("| " + " | ".join(stats_row(f"`{kind}`", by_kind[kind], seconds)) + " |")
    dashboards = [s for k in DASHBOARD_KINDS for s in by_kind.get(k, [])]
    lines.append("| " + " | ".join(stats_row("**dashboards together** (the 3 dashboard rows)", dashboards,
                                             seconds)) + " |")
    lines.append("| " + " | ".join(stats_row("**all requests**", run.samples, seconds)) + " |")
    return "\n".join(lines)


def dashboards_samples(by_kind: dict) -> list[Sample]:
    return [s for k in DASHBOARD_KINDS for s in by_kind.get(k, [])]


def over_time(samples: list[Sample], width: float) -> str:
    """Count, p50 and p95 per window of `width` seconds (by the moment a request was sent)."""
    windows: dict[int, list[float]] = defaultdict(list)
    for sample in samples:
        windows[int(sample.at // width)].append(sample.ms)
    parts = []
    for n in sorted(windows):
        ms = sorted(windows[n])
        parts.append(f"{n * width:.0f} s: {len(ms):,}, {percentile(ms, 0.5):,.0f} / {percentile(ms, 0.95):,.0f}")
    return "; ".join(parts)


def save_samples(run: Run, path: Path) -> None:
    """Every request of the run, for a closer look: kind, start (s), milliseconds, port, error."""
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["kind", "at_s", "ms", "port", "error"])
        for sample in sorted(run.samples, key=lambda s: s.at):
            writer.writerow([sample.kind, f"{sample.at:.3f}", f"{sample.ms:.1f}", sample.port, sample.error or ""])






def settle(limit: float) -> None:
    """Wait (at most `limit` s) for the 1-min load average to fall below 1, so that the set-up's
    imports do not weigh on the start of the load."""
    until = time.monotonic() + limit
    if os.getloadavg()[0] >= 1 and limit > 0:
        log(f"waiting up to {limit:.0f} s for the load average ({load_average(2)}) to fall below 1")
    while os.getloadavg()[0] >= 1 and time.monotonic() < until:
        time.sleep(2)


def postgres_cpu() -> float:
    """CPU seconds used so far by the live PostgreSQL processes (the server's, on this machine)."""
    ticks = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    text = f.read()
                if text[text.index("(") + 1:text.rindex(")")] == "postgres":
                    fields = text.rsplit(")", 1)[1].split()
                    ticks += int(fields[11]) + int(fields[12])
            except (OSError, ValueError, IndexError):
                pass
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_busy() -> float:
    """CPU seconds the whole machine has been busy (all processes, all cores), from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")






def report(cfg: Config, world: dict, run: Run, seen: dict, check: dict, servers: list[Server],
           load_start: str, load_end: str, pg_version: str, edited: bool) -> str:
    seconds = seen["elapsed"]
    table = render(run, seconds)
    by_kind: dict[str, list[Sample]] = defaultdict(list)
    for sample in run.samples:
        by_kind[sample.kind].append(sample)
    dashboards = sorted(s.ms for k in DASHBOARD_KINDS for s in by_kind.get(k, []))
    dashboard_p95 = percentile(dashboards, 0.95)
    errors = sum(1 for s in run.samples if s.error)
    refusals = sum(n for e, n in run.events.items() if e.startswith("refused:"))
    exceptions = sum(n for e, n in run.events.items() if e.startswith("client exception"))
    lost = (len(check["value_mismatch"]) + len(check["duplicate_revisions"]) + len(check["unaudited"])
            + len(check["history_missing"]) + len(check["behind"]))
    people = world["people"]
    browser = sum(p["kind"] == "browser" for p in people)
    api = [p for p in people if p["kind"] == "api"]
    shared = sum(p["shared"] for p in api)
    counties = len({p["county"] for p in people if p["kind"] != "viewer"})
    viewers = sum(p["kind"] == "viewer" for p in people)
    cities = len({p["city"] for p in people if p["kind"] == "viewer"})
    met = lambda ok: "met" if ok else "**not met**"  # noqa: E731
    peaks = [kb for s in servers for kb in s.peak_kb.values()]
    worker_cpu = sum(t - s.cpu_base.get(pid, 0) for s in servers
                     for pid, t in s.cpu_ticks.items()) / os.sysconf("SC_CLK_TCK")
    per_port = []
    for server in servers:
        mine = sorted(s.ms for s in run.samples if s.port == server.port)
        per_port.append(f"{server.name} (:{server.port}) {len(mine):,} requests, p50 "
                        f"{percentile(mine, 0.5):,.0f} ms, p95 {percentile(mine, 0.95):,.0f} ms, "
                        f"{len(server.peak_kb)} worker pids seen")
    conflicts = [f"{name} {n:,}" for name, n in sorted(run.events.items())
                 if not name.startswith(("refused:", "client exception"))]
    provinces = ", ".join(f"{p} {world['provinces'][p]['name']}" for p in cfg.provinces)
    current = "; ".join(f"{world['provinces'][p]['name']} 第{world['provinces'][p]['current']['seq']}期 "
                        f"(as of {world['provinces'][p]['current']['as_of']}, due {world['provinces'][p]['current']['due']})"
                        for p in cfg.provinces)
    notes = [
        f"**Goals**: errors = 0: {met(errors == 0)} ({errors:,}); lost updates = 0: {met(lost == 0)} ({lost:,}); "
        f"dashboard p95 < {DASHBOARD_GOAL_MS} ms: {met(dashboard_p95 < DASHBOARD_GOAL_MS)} "
        f"({dashboard_p95:,.0f} ms over {len(dashboards):,} dashboard requests).",
        f"**Lost updates: {lost}.** {check['writes']:,} acknowledged writes to {check['villages']:,} villages "
        f"(grid row saves and API PUTs) compared with the database: stored values ≠ the highest acknowledged "
        f"revision's {len(check['value_mismatch'])}; stored revision behind an acknowledged one "
        f"{len(check['behind'])}; one revision number acknowledged to two writers "
        f"{len(check['duplicate_revisions'])}; acknowledged but no audit entry (第N版) "
        f"{len(check['unaudited'])}; acknowledged correction of a submitted report without its revision row "
        f"{len(check['history_missing'])}. Audit entries nobody was told of (a write whose answer was lost): "
        f"{len(check['audited_unacknowledged'])}.",
        f"**Totals**: {len(run.samples):,} requests in {seconds:.1f} s ({len(run.samples) / seconds:,.1f} req/s), "
        f"{errors:,} errors (HTTP 5xx, 429, other unexpected status, connection errors and timeouts, and "
        f"{refusals:,} answers that refused the work; {exceptions} client exceptions). "
        f"Resolved, not errors: {', '.join(conflicts) or 'none'}.",
        f"**Machine**: {machine()}; {pg_version}; project {ROOT}, {checkout(ROOT)}"
        + ("; **the project's code changed while the servers ran (concurrent edits)**" if edited else "")
        + f". Load average (1/5/15 min) {load_start} at the "
        f"start → {load_end} at the end; 1-min peak {seen['load_max']:.2f}. The client shares the machine: it "
        f"used {seen['client_cpu']:.1f} CPU-seconds, the gunicorn workers {worker_cpu:.0f}, PostgreSQL "
        f"{seen['postgres_cpu']:.0f}; the whole machine was busy {seen['busy']:.0f} of the "
        f"{os.cpu_count() * seconds:.0f} CPU-seconds the cores had, so other processes took about "
        f"{max(0.0, seen['busy'] - seen['client_cpu'] - worker_cpu - seen['postgres_cpu']):.0f}. "
        f"**Worker CPU per request: {1000 * worker_cpu / max(1, len(run.samples)):.1f} ms** (the workers' CPU "
        f"seconds ÷ {len(run.samples):,} requests).",
        f"**Servers**: two gunicorn instances, `{' '.join(servers[0].command[1:])}` (sync workers), same "
        f"SECRET_KEY, DATABASE_URL={cfg.pg_url}, RATELIMIT_STORAGE_URI and REDIS_URL redis://{cfg.redis}/{REDIS_DB}. "
        f"Worker peak RSS (VmHWM) {max(peaks) / 1024 if peaks else 0:,.0f} MiB (largest of "
        f"{len(peaks)} workers). " + "; ".join(per_port) + ".",
        f"**People**: {len(people)} — {browser} browser filers, {len(api)} API filers ({shared} of them on a "
        f"county a browser filer also files, as the county's information system, so {cfg.filers} filer "
        f"accounts on {counties} counties), {viewers} viewers on {cities} cities; started at random "
        f"within {min(cfg.ramp, cfg.seconds / 2):.0f} s, for {cfg.seconds:.0f} s; think time filers "
        f"{cfg.filer_think[0]:g}–{cfg.filer_think[1]:g} s (提交 after every {cfg.rows_per_submit[0]}–"
        f"{cfg.rows_per_submit[1]} row saves), viewers {cfg.viewer_think[0]:g}–{cfg.viewer_think[1]:g} s; "
        f"each works on the first {cfg.hot} villages of its county; hard timeout {cfg.timeout:.0f} s per request.",
        f"**Data**: provinces {provinces}: {world['villages']:,} villages (report level), campaign window "
        f"{world['window']['start']} – {world['window']['end']} (extended to {world['window']['extend_to']}), "
        f"semi-monthly; periods already due filed on time with `flask reports import --submit`; the current "
        f"period ({current}) loaded as drafts with `flask reports import`; 任务数 for every county, city and "
        f"province with `flask targets import`.",
        "**Rate limits**: in force, unchanged (20 logins per minute per address, 5 per account, counted in "
        f"Redis db {REDIS_DB}); each person connects from a loopback address of its own (127.0.x.y), as "
        "each office has its own address. Latencies include every answered request and failed ones up "
        "to their failure; static files (CSS, JS) are not requested.",
    ]
    notes.append("**Over time** (all requests; window start: requests, p50 / p95 ms): " + over_time(run.samples, 20)
                 + ". Dashboards only: " + over_time(dashboards_samples(by_kind), 20) + ".")
    if run.error_examples:
        notes.append("**Errors, first example of each**: " + " · ".join(
            f"`{k}`: {v.replace('|', '/').replace(chr(10), ' ')[:240]}" for k, v in sorted(run.error_examples.items())))
    for name, items in (("value mismatches", check["value_mismatch"]), ("behind", check["behind"]),
                        ("duplicate revisions", check["duplicate_revisions"]), ("unaudited", check["unaudited"]),
                        ("history missing", check["history_missing"])):
        if items:
            notes.append(f"**{name}** (first 5): " + "; ".join(items[:5]))
    return table + "\n\n" + "\n\n".join(notes) + "\n"


# --- the whole run ------------------------------------------------------------------------------

def main(argv: list[str]) -> int:
    if argv[:1] == ["_accounts"]:
        return accounts_main(argv[1], argv[2])
    cfg = configure(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    env = app_env(cfg)
    state = OUT / "load" / "state.json"
    signature = {"provinces": cfg.provinces, "filers": cfg.filers, "viewers": cfg.viewers,
                 "shared": cfg.shared, "api_share": cfg.api_share, "seed": cfg.seed, "pg_url": cfg.pg_url}
    log(f"project {ROOT}; {cfg.filers} filers, {cfg.viewers} viewers, {cfg.seconds:.0f} s; provinces "
        f"{','.join(cfg.provinces)}; database {cfg.pg_url}")
    if cfg.reuse and state.exists() and json.loads(state.read_text())["signature"] == signature:
        world = json.loads(state.read_text())["world"]
        log("reusing the database of the last run (--reuse)")
    else:
        if cfg.reuse:
            log("--reuse: no earlier run with these settings; preparing from scratch")
        log("preparing the database")
        world = prepare(cfg, env)
        state.write_text(json.dumps({"signature": signature, "world": world}, ensure_ascii=False))
    flush_redis(cfg)
    with pg(cfg.pg_url) as conn:
        marks = {"audit": conn.execute("SELECT coalesce(max(id), 0) FROM audit_entry").fetchone()[0],
                 "revision": conn.execute("SELECT coalesce(max(id), 0) FROM revision").fetchone()[0]}
        pg_version = "PostgreSQL " + conn.execute("SHOW server_version").fetchone()[0]
    servers: list[Server] = []
    spies: list[subprocess.Popen] = []
    code_before = fingerprint(ROOT)

    def interrupted(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupted)
    try:
        for name in ("A", "B"):
            servers.append(Server(name, env, cfg.workers, cfg.gunicorn_config))
        for server in servers:
            server.wait_until_serving()
        log(f"gunicorn A on :{servers[0].port}, B on :{servers[1].port}, {cfg.workers} workers each")
        settle(cfg.settle)
        load_start = load_average(2)
        log(f"load for {cfg.seconds:.0f} s; load average {load_start}")
        if cfg.profile:
            spies = [start_profiler(server, cfg.profile) for server in servers]
        run, seen = drive(cfg, world, servers)
        load_end = load_average(2)
    finally:
        for spy in spies:
            stop_profiler(spy)
        for server in servers:
            server.stop()
        log("gunicorn stopped")
    check = check_writes(cfg, world, run, marks)
    save_samples(run, OUT / "load" / ("samples-quick.csv" if cfg.quick else "samples.csv"))
    edited = fingerprint(ROOT) != code_before
    text = report(cfg, world, run, seen, check, servers, load_start, load_end, pg_version, edited)
    stamp = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    print(text)
    cfg.results.parent.mkdir(parents=True, exist_ok=True)
    # the profiles kept below the results (bench/pyspy_report.py's tables) stay when the results change
    kept = cfg.results.read_text(encoding="utf-8").partition(PROFILES)[2] if cfg.results.exists() else ""
    cfg.results.write_text(
        f"# Load test results\n\nWritten by bench/load.py (`make load`) on {stamp}"
        f"{' with --quick' if cfg.quick else ''}; see bench/README.md for what each row measures.\n\n" + text
        + (f"\n{PROFILES}{kept}" if kept else ""), encoding="utf-8")
    log(f"wrote {cfg.results}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except LoadError as error:
        log(f"FAILED: {error}")
        sys.exit(1)
    except KeyboardInterrupt:
        log("interrupted; servers stopped")
        sys.exit(130)
