"""The benchmark's work that runs in its own process: `python bench/workers.py TASK 'JSON ARGS'`.

run.py starts one process per task (cwd = the project root, DATABASE_URL in the environment), so
that every number comes from a fresh interpreter and a fresh connection pool, and so that the peak
RSS the parent reads with os.wait4() belongs to this task alone. Each task prints one JSON object
as the last line of its standard output; it includes `vmhwm_kb` (/proc/self/status VmHWM), which
run.py cross-checks against the rusage figure.

Timed sections use time.perf_counter() and cover only the work named in the README: a bare INSERT
is timed from the first executemany to the end of its COMMIT, with the rows already in memory.
"""
from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import os
import re
import sys
import time

from common import simulate

#: the value columns of the default form, in its order (population -> v1 ... college -> v8)
KEYS = ("population", "should_enroll", "enrolled", "hardship_should", "hardship_enrolled",
        "students_enrolled", "newborns_enrolled", "college_enrolled")
HEADER = ("单位代码",) + KEYS
LEVELS = ("province", "city", "county", "township", "village")
CODE_LENGTHS = {2: "province", 4: "city", 6: "county", 9: "township", 12: "village"}
DIVISION_FILES = (("provinces.csv", "province", None), ("cities.csv", "city", "provinceCode"),
                  ("areas.csv", "county", "cityCode"), ("streets.csv", "township", "areaCode"),
                  ("villages.csv", "village", "streetCode"))
#: the filer the project writes for rows that come from the information system
SYSTEM_FILER = "信息系统导入"


def vmhwm_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def database_url() -> str:
    return os.environ["DATABASE_URL"]


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite:")


def connect(url: str):
    """A bare DB-API connection (sqlite3 or psycopg 3) and its parameter marker."""
    if is_sqlite(url):
        import sqlite3
        conn = sqlite3.connect(url[len("sqlite:///"):])
        # the same connection settings the app uses (app.py); WAL is a property of the file
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=10000")
        return conn, "?"
    import psycopg
    return psycopg.connect(url), "%s"


# --- database administration ------------------------------------------------------------------

PROTECTED = {"postgres", "template0", "template1", "test", "reporting_test"}


def task_pg_reset(args: dict) -> dict:
    """Drop and recreate the benchmark's PostgreSQL database (never another one)."""
    import psycopg
    from psycopg import sql
    url = args["url"]
    base, _, name = url.rpartition("/")
    name = name.split("?")[0]
    if name in PROTECTED or "bench" not in name:
        raise SystemExit(f"refusing to drop database {name!r}: the benchmark only drops a *bench* database")
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return {"database": name}


def task_analyze(args: dict) -> dict:
    """PostgreSQL: refresh planner statistics, as autovacuum would within a minute of a big load."""
    url = database_url()
    if is_sqlite(url):
        return {"skipped": True}
    import psycopg
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE")
    return {"analyzed": True}


def task_schema(args: dict) -> dict:
    """The Alembic revision the database is at."""
    conn, _ = connect(database_url())
    try:
        (revision,) = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except Exception:  # noqa: BLE001 - no schema yet
        revision = None
    conn.close()
    return {"revision": revision}


def task_drop_tables(args: dict) -> dict:
    conn, _ = connect(database_url())
    for name in args["tables"]:
        conn.execute(f"DROP TABLE IF EXISTS {name}")
    conn.commit()
    conn.close()
    return {"dropped": args["tables"]}


# --- step 1: the national tree, bare ------------------------------------------------------------

def read_divisions(directory: str, under: str | None) -> list[tuple[str, str, str, str | None]]:
    """(code, name, level, parent code) of every unit, as `regions import` reads them."""
    rows = []
    for name, level, parent_column in DIVISION_FILES:
        path = os.path.join(directory, name)
        if os.path.exists(path):
            stream = open(path, encoding="utf-8-sig", newline="")
        elif os.path.exists(path + ".gz"):
            stream = io.TextIOWrapper(gzip.open(path + ".gz"), encoding="utf-8-sig", newline="")
        else:
            continue
        with stream:
            reader = csv.reader(stream)
            header = next(reader)
            code_at, name_at = header.index("code"), header.index("name")
            parent_at = header.index(parent_column) if parent_column else None
            for row in reader:
                if not row:
                    continue
                code = row[code_at].strip()
                if under and not (code.startswith(under) or under.startswith(code)):
                    continue
                rows.append((code, row[name_at].strip(), level,
                             row[parent_at].strip() if parent_at is not None else None))
    return rows


def task_tree_baseline(args: dict) -> dict:
    """A bare executemany INSERT of the division rows into a table shaped like `region`."""
    url = database_url()
    rows = read_divisions(args["directory"], args.get("under"))
    conn, mark = connect(url)
    pk = "INTEGER PRIMARY KEY" if is_sqlite(url) else "SERIAL PRIMARY KEY"
    conn.execute("DROP TABLE IF EXISTS bench_region")
    conn.execute(f"CREATE TABLE bench_region (id {pk}, code VARCHAR(12) NOT NULL UNIQUE, "
                 "name VARCHAR(100) NOT NULL, level VARCHAR(10) NOT NULL, parent_code VARCHAR(12))")
    conn.execute("CREATE INDEX ix_bench_region_parent_code ON bench_region (parent_code)")
    conn.commit()
    cursor = conn.cursor()
    started = time.perf_counter()
    cursor.executemany(f"INSERT INTO bench_region (code, name, level, parent_code) "
                       f"VALUES ({mark}, {mark}, {mark}, {mark})", rows)
    conn.commit()
    seconds = time.perf_counter() - started
    conn.execute("DROP TABLE bench_region")
    conn.commit()
    conn.close()
    return {"rows": len(rows), "seconds": seconds}


# --- step 2: the campaign's CSVs, and the bare INSERT of the same rows ------------------------------

def task_campaign_data(args: dict) -> dict:
    """The campaign's periods, and one CSV per period of rising counts for every village."""
    conn, mark = connect(database_url())
    province = args["province"]
    (root_id,) = conn.execute(f"SELECT id FROM region WHERE code = {mark}", (province,)).fetchone()
    level_column = f"{CODE_LENGTHS[len(province)]}_id"
    codes = [r[0] for r in conn.execute(
        f"SELECT code FROM region WHERE level = 'village' AND {level_column} = {mark} ORDER BY code",
        (root_id,)).fetchall()]
    periods = [{"id": r[0], "seq": r[1], "as_of": str(r[2]), "due": str(r[3])} for r in conn.execute(
        f"SELECT id, seq, as_of, due FROM period WHERE campaign_id = {mark} ORDER BY seq",
        (args["campaign"],)).fetchall()]
    conn.close()
    count = args["periods"]
    if len(periods) < count:
        raise SystemExit(f"the campaign has {len(periods)} periods, fewer than {count}")
    periods = periods[:count]
    table = simulate(codes, count, args.get("seed", 20220901))
    os.makedirs(args["outdir"], exist_ok=True)
    for n, period in enumerate(periods):
        path = os.path.join(args["outdir"], f"{province}_period{period['seq']}.csv")
        sums = dict.fromkeys(KEYS, 0)
        with open(path, "w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(HEADER)
            for code, series in table:
                values = series[n]
                writer.writerow((code,) + values)
                for key, value in zip(KEYS, values):
                    sums[key] += value
        period.update(file=path, rows=len(table), sums=sums)
    return {"villages": len(codes), "periods": periods}




BENCH_REPORT_DDL = """CREATE TABLE IF NOT EXISTS bench_report (
  id {pk},
  period_id INTEGER NOT NULL REFERENCES period (id),
  region_id INTEGER NOT NULL REFERENCES region (id),
  status VARCHAR(10) NOT NULL,
  v1 INTEGER, v2 INTEGER, v3 INTEGER, v4 INTEGER, v5 INTEGER, v6 INTEGER,
  v7 INTEGER, v8 INTEGER, v9 INTEGER, v10 INTEGER, v11 INTEGER, v12 INTEGER,
  filer_name VARCHAR(50) NOT NULL, filer_phone VARCHAR(30) NOT NULL, filer_head VARCHAR(50) NOT NULL,
  submitted_at TIMESTAMP, updated_at TIMESTAMP NOT NULL,
  updated_by_id INTEGER REFERENCES "user" (id),
  revision INTEGER NOT NULL,
  UNIQUE (period_id, region_id))"""


def task_report_baseline(args: dict) -> dict:
    """A bare executemany INSERT of one period's CSV rows into `bench_report`, a copy of `report`
    (same columns, keys, unique constraint, foreign keys and index), in the same database."""
    url = database_url()
    conn, mark = connect(url)
    ids = dict(conn.execute("SELECT code, id FROM region WHERE level = 'village'").fetchall())
    moment = dt.datetime.fromisoformat(args["now"])
    rows = []
    with open(args["file"], encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        next(reader)
        for cells in reader:
            rows.append((args["period"], ids[cells[0]], "submitted", *map(int, cells[1:9]),
                         SYSTEM_FILER, "", "", moment, moment, None, 1))
    pk = "INTEGER PRIMARY KEY" if is_sqlite(url) else "SERIAL PRIMARY KEY"
    conn.execute(BENCH_REPORT_DDL.format(pk=pk))
    conn.execute("CREATE INDEX IF NOT EXISTS ix_bench_report_region_period ON bench_report (region_id, period_id)")
    conn.commit()
    columns = ("period_id, region_id, status, v1, v2, v3, v4, v5, v6, v7, v8, filer_name, filer_phone, "
               "filer_head, submitted_at, updated_at, updated_by_id, revision")
    cursor = conn.cursor()
    started = time.perf_counter()
    cursor.executemany(f"INSERT INTO bench_report ({columns}) VALUES ({', '.join([mark] * 18)})", rows)
    conn.commit()
    seconds = time.perf_counter() - started
    conn.close()
    return {"rows": len(rows), "seconds": seconds}


# --- step 3 and 4: reads ---------------------------------------------------------------------------

def make_app(config: dict | None = None):
    sys.path.insert(0, os.getcwd())
    from app import create_app
    return create_app(config)


class Bare:
    """The hand-written floor of a roll-up: one GROUP BY over the same rows, on a pooled connection."""

    def __init__(self, engine, url: str):
        self.engine, self.mark = engine, "?" if is_sqlite(url) else "%s"

    def statement(self, level: str) -> str:
        child = LEVELS[LEVELS.index(level) + 1]
        group = "region.id" if child == "village" else f"region.{child}_id"
        sums = ", ".join(f"SUM(report.v{n})" for n in range(1, 9))
        return (f"SELECT {group}, {sums} FROM report JOIN region ON region.id = report.region_id "
                f"WHERE report.period_id = {self.mark} AND region.{level}_id = {self.mark} GROUP BY {group}")

    def run(self, level: str, region_id: int, period_id: int) -> tuple[float, list]:
        sql = self.statement(level)
        conn = self.engine.raw_connection()
        try:
            cursor = conn.cursor()
            started = time.perf_counter()
            cursor.execute(sql, (period_id, region_id))
            rows = cursor.fetchall()
            elapsed = time.perf_counter() - started
            cursor.close()
            conn.rollback()
        finally:
            conn.close()
        return elapsed * 1000, rows


def task_progress(args: dict) -> dict:
    """reporting.progress.ranking.progress(period, region) in an app context, a fresh session per call,
    interleaved with the bare GROUP BY; then the exactness check of the roll-up."""
    app = make_app()
    from reporting.extensions import db
    from reporting.models import Period
    from reporting.progress.ranking import progress
    from reporting.regions.hierarchy import region_by_code
    out = {"regions": {}}
    with app.app_context():
        bare = Bare(db.engine, database_url())
        for code in args["codes"]:
            ours, floor = [], []
            for n in range(args["warmup"] + args["runs"]):
                db.session.remove()
                region = region_by_code(code)
                period = db.session.get(Period, args["period"])
                started = time.perf_counter()
                result = progress(period, region)
                elapsed = (time.perf_counter() - started) * 1000
                level, region_id = region.level, region.id
                db.session.remove()
                base_ms, _ = bare.run(level, region_id, args["period"])
                if n >= args["warmup"]:
                    ours.append(elapsed)
                    floor.append(base_ms)
            out["regions"][code] = {"ours_ms": ours, "base_ms": floor, "children": len(result.children)}
        out["exact"] = exactness(db, bare, args)
    return out


def exactness(db, bare: Bare, args: dict) -> dict:
    """The province's enrolled total by progress() against SUM(v3) of the stored rows and the CSV's sum;
    and every child's eight sums against the bare GROUP BY, for each measured region."""
    from sqlalchemy import text

    from reporting.models import Period
    from reporting.progress.ranking import progress
    from reporting.regions.hierarchy import region_by_code
    db.session.remove()
    period = db.session.get(Period, args["period"])
    root = region_by_code(args["codes"][0])
    ours = progress(period, root).region.totals.values.get("enrolled")
    stored = db.session.execute(
        text(f"SELECT SUM(report.v3) FROM report JOIN region ON region.id = report.region_id "
             f"WHERE report.period_id = :p AND region.{root.level}_id = :r"),
        {"p": period.id, "r": root.id}).scalar()
    children_match = True
    for code in args["codes"]:
        region = region_by_code(code)
        result = progress(period, region)
        _, rows = bare.run(region.level, region.id, period.id)
        floor = {row[0]: tuple(int(v) for v in row[1:]) for row in rows}
        mine = {c.region.id: tuple(c.totals.values.get(k) for k in KEYS)
                for c in result.children if c.totals.values}
        if mine != floor:
            children_match = False
    csv_sum = args["csv_enrolled"]
    return {"progress": ours, "stored": int(stored) if stored is not None else None, "csv": csv_sum,
            "children_match": children_match,
            "ok": ours == stored == csv_sum and children_match}


def task_bare(args: dict) -> dict:
    """Only the bare GROUP BY of each region, e.g. as the baseline of the gunicorn rows."""
    app = make_app()
    from reporting.extensions import db
    from reporting.regions.hierarchy import region_by_code
    out = {"regions": {}}
    with app.app_context():
        bare = Bare(db.engine, database_url())
        for code in args["codes"]:
            region = region_by_code(code)
            level, region_id = region.level, region.id
            db.session.remove()
            samples = [bare.run(level, region_id, args["period"])[0]
                       for _ in range(args["warmup"] + args["runs"])]
            out["regions"][code] = {"base_ms": samples[args["warmup"]:]}
    return out


def samples_loop(args: dict, request, check) -> dict:
    """Time `request(code)` interleaved with the bare GROUP BY of the same region."""
    app = args["app"]
    from reporting.extensions import db
    from reporting.regions.hierarchy import region_by_code
    out = {"regions": {}}
    with app.app_context():
        bare = Bare(db.engine, database_url())
        places = {code: (r.level, r.id) for code in args["codes"] for r in [region_by_code(code)]}
        db.session.remove()
    for code in args["codes"]:
        ours, floor = [], []
        for n in range(args["warmup"] + args["runs"]):
            started = time.perf_counter()
            response = request(code)
            elapsed = (time.perf_counter() - started) * 1000
            check(code, response)
            with app.app_context():
                base_ms, _ = bare.run(*places[code], args["period"])
            if n >= args["warmup"]:
                ours.append(elapsed)
                floor.append(base_ms)
        out["regions"][code] = {"ours_ms": ours, "base_ms": floor}
    return out


def task_api(args: dict) -> dict:
    """GET /api/v1/progress/{code}?period=ID under the Flask test client, with a bearer token."""
    app = args["app"] = make_app()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {args['token']}"}
    seen = {}

    def request(code):
        return client.get(f"/api/v1/progress/{code}?period={args['period']}", headers=headers)

    def check(code, response):
        if response.status_code != 200:
            raise SystemExit(f"GET /api/v1/progress/{code}: {response.status_code} {response.get_data(as_text=True)[:300]}")
        seen[code] = response.get_json()["region"]["totals"].get("enrolled")

    out = samples_loop(args, request, check)
    out["enrolled"] = seen
    return out


def task_dashboard(args: dict) -> dict:
    """GET /dashboard/{code}?period=ID under the Flask test client, signed in through /login."""
    app = args["app"] = make_app({"WTF_CSRF_ENABLED": False})
    client = app.test_client()
    login = client.post("/login", data={"username": args["username"], "password": args["password"]})
    if login.status_code != 303:
        raise SystemExit(f"POST /login: {login.status_code}")
    sizes = {}

    def request(code):
        return client.get(f"/dashboard/{code}?period={args['period']}")

    def check(code, response):
        if response.status_code != 200:
            raise SystemExit(f"GET /dashboard/{code}: {response.status_code} {response.get_data(as_text=True)[:300]}")
        sizes[code] = len(response.get_data())

    out = samples_loop(args, request, check)
    out["bytes"] = sizes
    return out


# --- step 6: circulars -------------------------------------------------------------------------------

def pdf_facts(pdf: bytes) -> dict:
    """Pages and embedded font names of a PDF, read with poppler's pdfinfo and pdffonts."""
    import subprocess
    import tempfile
    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        f.write(pdf)
        f.flush()
        info = subprocess.run(["pdfinfo", f.name], capture_output=True, text=True, check=True).stdout
        fonts = subprocess.run(["pdffonts", f.name], capture_output=True, text=True, check=True).stdout
    pages = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))
    names = sorted({line.split()[0].split("+")[-1] for line in fonts.splitlines()[2:] if line.strip()})
    return {"pages": pages, "fonts": names, "bytes": len(pdf)}


def task_circular(args: dict) -> dict:
    """A city's or a province's circular as the site drafts it: from the live numbers to the PDF's
    bytes (draft, body text, annex tables, charts, HTML, WeasyPrint), in a warm process, a fresh
    session per run. With `twin`, each run also renders the Latin-font twin of the same HTML
    (bench/twin.py), interleaved, so both see the same machine load."""
    app = make_app()
    from sqlalchemy import func, select
    from twin import latin_twin

    from reporting.circulars import circulars
    from reporting.circulars.document import PDF_STYLESHEET, render_circular_html
    from reporting.extensions import db
    from reporting.models import Period, Report
    from reporting.pdf import PROJECT_DIR
    from reporting.regions.hierarchy import region_by_code
    out = {"ours_ms": [], "twin_ms": [], "html_ms": []}
    with app.app_context():
        region = region_by_code(args["region"])
        period_id = args.get("period") or db.session.scalar(
            select(func.max(Report.period_id)).where(Report.status == "submitted"))
        for n in range(args["warmup"] + args["runs"]):
            db.session.remove()
            region = region_by_code(args["region"])
            period = db.session.get(Period, period_id)
            started = time.perf_counter()
            draft = circulars.new_draft(period, region)
            html = render_circular_html(circulars.draft_document(draft))
            html_done = time.perf_counter()
            pdf = circulars.render_pdf_html(html)
            elapsed = time.perf_counter() - started
            db.session.rollback()
            twin_pdf = None
            if args.get("twin"):
                twin_html = latin_twin(html, PROJECT_DIR / PDF_STYLESHEET)
                twin_started = time.perf_counter()
                twin_pdf = circulars.render_pdf_html(twin_html)
                twin_elapsed = time.perf_counter() - twin_started
            if n >= args["warmup"]:
                out["ours_ms"].append(elapsed * 1000)
                out["html_ms"].append((html_done - started) * 1000)
                if twin_pdf is not None:
                    # the twin starts from the finished HTML: add the same HTML time to compare like with like
                    out["twin_ms"].append((twin_elapsed + html_done - started) * 1000)
        out["period"] = period_id
        out["title"] = draft.title
        out["pdf"] = pdf_facts(pdf)
        if twin_pdf is not None:
            out["twin_pdf"] = pdf_facts(twin_pdf)
    return out


TASKS = {name[len("task_"):]: function for name, function in globals().items() if name.startswith("task_")}


def main() -> None:
    task, args = sys.argv[1], json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
    result = TASKS[task](args)
    result["vmhwm_kb"] = vmhwm_kb()
    sys.stdout.write("\n" + json.dumps(result, ensure_ascii=False, default=str) + "\n")


if __name__ == "__main__":
    main()
