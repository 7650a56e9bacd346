"""Concurrency and crash safety, end to end: real gunicorn processes, real HTTP, a database of our own.

1. Lost updates: 8 writer threads race on one village's report through two gunicorn instances
   (2 workers each) sharing one database; every accepted write must be counted once, audited once.
2. A gunicorn worker killed with SIGKILL in the middle of a submitting PUT leaves the report as it
   was, and the same PUT then succeeds (PostgreSQL).
3. A bulk `flask reports import --submit` of a province's villages (山东's 62,074 by default) killed
   with SIGKILL in the middle of its writes leaves nothing behind, and a re-run then loads everything
   (PostgreSQL).
4. A filer's save committed while a bulk import validates makes the import refuse itself as a whole,
   rather than skip that unit's row and audit it as written (both databases, in-process).

Tests 1-3 make their own database (PostgreSQL: `reporting_concurrency` / `reporting_crash`, dropped
and created here and dropped afterwards; SQLite: a file under tmp_path) and touch no other; test 4
uses the suite's `app` fixture.
"""
from __future__ import annotations

import csv
import datetime as dt
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from sqlalchemy import create_engine, text

from app import database_url
from reporting import clock

from .conftest import PG_URL

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
ANHUI = ROOT / "tests" / "data" / "anhui"
# the national division data: beside the checkout, or where DIVISIONS_DIR says (a clean clone elsewhere)
DIVISIONS = next((path for path in (Path(os.environ.get("DIVISIONS_DIR", "/nonexistent")),
                                    (ROOT / ".." / "shared" / "data" / "divisions").resolve(),
                                    Path("/work/shared/data/divisions")) if path.is_dir()), None)
ON_PG = bool(PG_URL) and urlsplit(PG_URL).scheme.split("+")[0] in ("postgresql", "postgres")

VALUES = {"population": 3000, "should_enroll": 2600, "enrolled": 500, "hardship_should": 80,
          "hardship_enrolled": 60, "students_enrolled": 300, "newborns_enrolled": 10, "college_enrolled": 0}
FILER = {"name": "周建国", "phone": "13805571234", "head": "李镇长"}
WRITERS, UPDATES_EACH, WRITE_BUDGET = 8, 25, 45.0
#: the province of the crash test: 山东 (62,074 villages) by default; CONCURRENCY_CRASH_PROVINCE=34
#: (安徽, 18,334 villages) takes half a minute less
CRASH_PROVINCE = os.environ.get("CONCURRENCY_CRASH_PROVINCE", "37")


# --- databases ---------------------------------------------------------------------------------

def pg_url(name: str) -> str:
    """TEST_DATABASE_URL's server and user, with another database name (libpq form)."""
    parts = urlsplit(PG_URL)
    return urlunsplit(("postgresql", parts.netloc, f"/{name}", parts.query, ""))


@contextmanager
def pg_admin():
    import psycopg
    with psycopg.connect(pg_url("postgres"), autocommit=True) as connection:
        yield connection


def fresh_pg_database(name: str) -> str:
    assert "concurrency" in name or "crash" in name, "this module only drops databases of its own"
    with pg_admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    return pg_url(name)


def drop_pg_database(name: str) -> None:
    assert "concurrency" in name or "crash" in name
    with pg_admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def engine_for(url: str):
    engine = create_engine(database_url(url, str(ROOT / "instance")))
    try:
        yield engine
    finally:
        engine.dispose()


def scalar(engine, sql: str, **params):
    with engine.connect() as connection:
        return connection.execute(text(sql), params).scalar()


# --- processes -----------------------------------------------------------------------------------

def app_env(url: str, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "TEST_DATABASE_URL"}
    env.update(DATABASE_URL=url, SECRET_KEY="concurrency-test-secret", COOKIE_SECURE="0",
               RATELIMIT_STORAGE_URI=rate_limit_storage(), PYTHONUNBUFFERED="1", **extra)
    return env


def rate_limit_storage() -> str:
    """Redis when it answers (several instances share the limits), else each process's memory."""
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return "redis://127.0.0.1:6379"
    except OSError:
        return "memory://"


def flask(env: dict, *args: str, timeout: float = 120) -> str:
    """Run `flask --app app ARGS`; return its last line of standard output."""
    done = subprocess.run([str(BIN / "flask"), "--app", "app", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"flask {' '.join(args)} failed: {done.stderr.strip()[-800:]}"
    lines = done.stdout.strip().splitlines()
    return lines[-1] if lines else ""


@contextmanager
def app_for(url: str):
    """The app on `url`, in this process: set-up commands run here, without a start-up each."""
    from app import create_app
    from reporting.extensions import db
    app = create_app({"SECRET_KEY": "concurrency-test-secret", "DATABASE_URL": url})
    with app.app_context():
        try:
            yield app
        finally:
            db.session.remove()
            db.engine.dispose()


def cli(app, *args: str) -> str:
    """`flask --app app ARGS` through Flask's CLI runner; its last line of standard output."""
    result = app.test_cli_runner().invoke(args=list(args))
    assert result.exit_code == 0, f"flask {' '.join(args)} failed: {result.output[-800:]}"
    lines = result.stdout.strip().splitlines()
    return lines[-1] if lines else ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(port: int, method: str, path: str, token: str, body: dict | None = None, timeout: float = 30):
    """One request on a connection of its own; (status, decoded JSON)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Authorization": f"Bearer {token}"}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        data = response.read()
        return response.status, (json.loads(data) if data else None)
    finally:
        connection.close()


class Gunicorn:
    """`gunicorn -w N -b 127.0.0.1:PORT 'app:create_app()'`, logging to a file."""

    def __init__(self, env: dict, log_path: Path, workers: int = 2):
        self.port = free_port()
        self.log_path = log_path
        self.log = open(log_path, "w")
        try:
            self.process = subprocess.Popen(
                [str(BIN / "gunicorn"), "-w", str(workers), "-b", f"127.0.0.1:{self.port}",
                 "--graceful-timeout", "5", "app:create_app()"],
                cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        except BaseException:
            self.log.close()
            raise

    def wait_until_serving(self, token: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"gunicorn exited with {self.process.returncode}: {self.tail()}")
            try:
                status, _ = call(self.port, "GET", "/api/v1/regions/3413", token, timeout=5)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"gunicorn did not answer within {timeout:.0f} s: {self.tail()}")

    def workers(self) -> list[int]:
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as f:
                        # the command may hold spaces or parentheses: the ppid follows the last ')'
                        if int(f.read().rsplit(")", 1)[1].split()[1]) == self.process.pid:
                            found.append(int(entry))
                except (OSError, IndexError, ValueError):
                    pass
        return found

    def tail(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")[-1500:]


def stop_all(servers: list[Gunicorn]) -> None:
    """SIGTERM (graceful shutdown), SIGKILL after 15 s; the log closed."""
    for server in servers:  # all at once: each takes a second or two to wind its workers down
        if server.process.poll() is None:
            server.process.send_signal(signal.SIGTERM)
    for server in servers:
        try:
            server.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()
        server.log.close()


def pid_owning_local_port(port: int, candidates: list[int]) -> int | None:
    """Which of `candidates` holds the TCP socket whose local port is `port` (via /proc)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if int(fields[1].rsplit(":", 1)[1], 16) == port:
                        inodes.add(fields[9])
        except OSError:
            pass
    for pid in candidates:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    link = os.readlink(f"/proc/{pid}/fd/{fd}")
                except OSError:
                    continue
                if link.startswith("socket:[") and link[8:-1] in inodes:
                    return pid
        except OSError:
            pass
    return None


# --- the served 朱集镇 (tests 1 and 3) -----------------------------------------------------------

@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A database of our own with 朱集镇's 13 villages, a 2022 weekly campaign, a city admin of 宿州
    (the campaign is closed, only a city admin may still write) and two gunicorn instances."""
    tmp = tmp_path_factory.mktemp("concurrency")
    name = "reporting_concurrency"
    url = fresh_pg_database(name) if ON_PG else f"sqlite:///{tmp / 'concurrency.db'}"
    servers = []
    try:
        env = app_env(url)
        flask(env, "db", "upgrade")  # the real migrations, in a process of their own
        with app_for(url) as app:
            cli(app, "regions", "import", str(ANHUI))
            campaign_id = int(cli(app, "campaign", "create", "--name", "测试", "--root", "341323117",
                                  "--start", "2022-09-01", "--end", "2022-12-31", "--rhythm", "weekly"))
            cli(app, "users", "create", "w", "--role", "city_admin", "--region", "3413",
                "--password", "concurrency-writer-2026")
            token = cli(app, "users", "token", "w")
        for n in (1, 2):
            servers.append(Gunicorn(env, tmp / f"gunicorn-{n}.log"))
        for server in servers:
            server.wait_until_serving(token)
        status, periods = call(servers[0].port, "GET", f"/api/v1/campaigns/{campaign_id}/periods", token)
        assert status == 200, periods
        status, township = call(servers[0].port, "GET", "/api/v1/regions/341323117", token)
        assert status == 200, township
        villages = sorted(c["code"] for c in township["children"])
        assert len(villages) == 13
        with engine_for(url) as engine:
            yield {"url": url, "servers": servers, "token": token, "period_id": periods[0]["id"],
                   "villages": villages, "engine": engine}
    finally:
        stop_all(servers)
        if ON_PG:
            drop_pg_database(name)


def test_parallel_writers_lose_no_update(served):
    """8 threads × 25 read-modify-write updates of one village's report, alternating between two
    gunicorn instances: on 409 (stale revision) a writer re-reads and tries again."""
    started = time.monotonic()
    token, ports = served["token"], [s.port for s in served["servers"]]
    code, period_id = served["villages"][0], served["period_id"]
    path = f"/api/v1/reports/{code}/{period_id}"

    status, body = call(ports[0], "PUT", path, token,
                        {"values": VALUES, "filer": FILER, "submit": False, "revision": 0})
    assert status == 200, body
    assert (body["status"], body["revision"], body["values"]["enrolled"]) == ("draft", 1, VALUES["enrolled"])
    initial = VALUES["enrolled"]

    deadline = time.monotonic() + WRITE_BUDGET
    # a 409 comes from the check of the body's revision against the one read ("已在其他窗口修改": every
    # writer holds the same token), or,
    # when another write commits between that read and this UPDATE, from the UPDATE ... WHERE
    # revision = ? matching no row (version_id_col: "刚被他人修改")
    results = [{"accepted": [], "stale_read": 0, "stale_update": 0, "unexpected": []} for _ in range(WRITERS)]
    gate = threading.Barrier(WRITERS)

    def writer(n: int):
        mine, turn = results[n], n  # consecutive requests go to alternate instances
        try:
            gate.wait(60)
            done = 0
            while done < UPDATES_EACH and time.monotonic() < deadline:
                status, current = call(ports[turn % 2], "GET", path, token)
                turn += 1
                if status != 200:
                    mine["unexpected"].append(("GET", status, current))
                    return
                values = {**current["values"], "enrolled": current["values"]["enrolled"] + 1}
                status, answer = call(ports[turn % 2], "PUT", path, token,
                                      {"values": values, "filer": {}, "submit": False,
                                       "revision": current["revision"]})
                turn += 1
                if status == 200:
                    mine["accepted"].append((values["enrolled"], answer["revision"]))
                    done += 1
                elif status == 409 and "刚被他人修改" in answer["errors"][0]["message"]:
                    mine["stale_update"] += 1  # the next loop re-reads and retries
                elif status == 409 and "已在其他窗口修改" in answer["errors"][0]["message"]:  # the same user
                    mine["stale_read"] += 1
                else:
                    mine["unexpected"].append(("PUT", status, answer))
                    return
        except Exception as error:  # noqa: BLE001 - reported by the main thread
            mine["unexpected"].append(("exception", repr(error)))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WRITE_BUDGET + 60)
    assert not any(t.is_alive() for t in threads), "a writer is stuck"
    write_seconds = time.monotonic() - started

    unexpected = [u for r in results for u in r["unexpected"]]
    assert unexpected == [], unexpected[:5]
    accepted = [a for r in results for a in r["accepted"]]
    stale_read, stale_update = (sum(r[k] for r in results) for k in ("stale_read", "stale_update"))
    conflicts = stale_read + stale_update
    status, final = call(ports[1], "GET", path, token)
    assert status == 200, final
    engine = served["engine"]
    region_id = scalar(engine, "SELECT id FROM region WHERE code = :code", code=code)
    kinds = {}
    with engine.connect() as connection:
        for kind, count in connection.execute(text(
                "SELECT kind, count(*) FROM audit_entry WHERE region_id = :r GROUP BY kind"), {"r": region_id}):
            kinds[kind] = count
        audited = [json.loads(a) if isinstance(a, str) else a for (a,) in connection.execute(text(
            "SELECT after FROM audit_entry WHERE region_id = :r ORDER BY id"), {"r": region_id})]
        revisions = connection.execute(text(
            "SELECT count(*) FROM revision JOIN report ON report.id = revision.report_id "
            "WHERE report.region_id = :r"), {"r": region_id}).scalar()

    summary = (f"{len(accepted)} accepted PUTs, {conflicts} 409s ({stale_read} stale on reading, "
               f"{stale_update} at the UPDATE; as many re-reads and retries), "
               f"enrolled {initial} → {final['values']['enrolled']}, revision {final['revision']}, "
               f"audit entries {kinds}, writes in {write_seconds:.1f} s "
               f"({'PostgreSQL' if ON_PG else 'SQLite'}, 2 gunicorn instances × 2 workers)")
    print("\n" + summary)
    assert len(accepted) >= 2 * WRITERS, f"too few writes got through in {WRITE_BUDGET:.0f} s: {summary}"
    # zero lost updates: every accepted write built on the one before it
    assert final["values"]["enrolled"] == initial + len(accepted), summary
    assert sorted(v for v, _ in accepted) == list(range(initial + 1, initial + len(accepted) + 1)), summary
    assert sorted(r for _, r in accepted) == list(range(2, len(accepted) + 2)), summary
    assert final["revision"] == 1 + len(accepted) and final["status"] == "draft", summary
    # every accepted write has exactly one audit entry (plus the setup save); drafts make no revision
    assert kinds == {"report.save": len(accepted) + 1}, summary
    assert sorted(a["enrolled"] for a in audited) == list(range(initial, initial + len(accepted) + 1)), summary
    assert revisions == 0
    # the test raced: some writers read a revision that another had already replaced
    assert conflicts > 0, summary
    if len(accepted) < WRITERS * UPDATES_EACH:
        print(f"(the {WRITE_BUDGET:.0f} s budget ended the writers before their {WRITERS * UPDATES_EACH} updates)")


@pytest.mark.skipif(not ON_PG, reason=(
    "PostgreSQL only: to kill a worker after its UPDATE but before its COMMIT the test holds a table "
    "lock that lets the UPDATE through and stops the transaction's next INSERT; SQLite has only one "
    "write lock per file, so a lock held by the test stops the worker before it writes anything"))
def test_worker_killed_mid_submit_leaves_report_unchanged(served):
    """SIGKILL of the gunicorn worker while a submitting PUT is inside its transaction."""
    import psycopg
    token, server = served["token"], served["servers"][0]
    code, period_id = served["villages"][1], served["period_id"]
    path = f"/api/v1/reports/{code}/{period_id}"
    status, body = call(server.port, "PUT", path, token,
                        {"values": VALUES, "filer": FILER, "submit": False, "revision": 0})
    assert status == 200 and body["revision"] == 1, body
    engine = served["engine"]
    region_id = scalar(engine, "SELECT id FROM region WHERE code = :code", code=code)
    report_id = scalar(engine, "SELECT id FROM report WHERE region_id = :r AND period_id = :p",
                       r=region_id, p=period_id)
    dbname = urlsplit(served["url"]).path.lstrip("/")
    submit = {"values": {**VALUES, "enrolled": 700}, "filer": FILER, "submit": True, "revision": 1}

    outcome = {}

    def put():
        try:
            outcome["answer"] = call(server.port, "PUT", path, token, submit, timeout=60)
        except Exception as error:  # noqa: BLE001 - the worker dies under it
            outcome["error"] = error

    holder = psycopg.connect(pg_url(dbname))  # holds the audit table: its INSERTs wait
    request = threading.Thread(target=put)
    with holder, psycopg.connect(pg_url(dbname), autocommit=True) as watcher:
        try:
            holder.execute("LOCK TABLE audit_entry IN SHARE MODE")
            request.start()
            backend = None
            deadline = time.monotonic() + 30
            while backend is None and time.monotonic() < deadline:
                backend = watcher.execute(
                    "SELECT pid, client_port, backend_xid::text FROM pg_stat_activity WHERE datname = %s "
                    "AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO audit_entry%%'",
                    (dbname,)).fetchone()
                time.sleep(0.05)
            assert backend is not None, f"the PUT never reached its audit INSERT: {outcome}"
            pid, client_port, xid = backend
            assert xid is not None, "the transaction has written nothing yet"
            # its UPDATE of the report is done but not committed: the row is locked by that transaction
            with pytest.raises(psycopg.errors.LockNotAvailable):
                watcher.execute("SELECT id FROM report WHERE id = %s FOR UPDATE NOWAIT", (report_id,))
            worker = pid_owning_local_port(client_port, server.workers())
            assert worker is not None, "no gunicorn worker holds that database connection"
            os.kill(worker, signal.SIGKILL)
            request.join(30)
            assert not request.is_alive()
            assert "error" in outcome, f"the killed request answered: {outcome}"
        finally:
            holder.rollback()
            if request.ident is not None:  # started
                request.join(30)
        # released, the orphaned backend finishes its INSERT, finds its client gone and rolls back
        deadline = time.monotonic() + 30
        while watcher.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone():
            assert time.monotonic() < deadline, "the orphaned backend lives on"
            time.sleep(0.1)

    with engine.connect() as connection:
        row = connection.execute(text("SELECT status, revision, v3, submitted_at FROM report WHERE id = :i"),
                                 {"i": report_id}).one()
        kinds = dict(connection.execute(text(
            "SELECT kind, count(*) FROM audit_entry WHERE region_id = :r GROUP BY kind"), {"r": region_id}).all())
        revisions = connection.execute(text("SELECT count(*) FROM revision WHERE report_id = :i"),
                                       {"i": report_id}).scalar()
    print(f"\nafter the kill: report {tuple(row)}, audit {kinds}, revisions {revisions}")
    assert tuple(row) == ("draft", 1, VALUES["enrolled"], None)
    assert kinds == {"report.save": 1} and revisions == 0

    server.wait_until_serving(token)  # the master has replaced the worker
    status, body = call(server.port, "PUT", path, token, submit)
    assert status == 200, body
    assert (body["status"], body["revision"], body["values"]["enrolled"]) == ("submitted", 2, 700)
    with engine.connect() as connection:
        kinds = dict(connection.execute(text(
            "SELECT kind, count(*) FROM audit_entry WHERE region_id = :r GROUP BY kind"), {"r": region_id}).all())
        numbers = connection.execute(text("SELECT number, kind FROM revision WHERE report_id = :i"),
                                     {"i": report_id}).all()
    print(f"after the retry: audit {kinds}, revisions {[tuple(n) for n in numbers]}")
    assert kinds == {"report.save": 1, "report.submit": 1}
    assert [tuple(n) for n in numbers] == []  # a first submission is held by the report (filing.history)


# --- crash safety of the bulk import ----------------------------------------------------------

def audited_units(connection, after_id: int) -> int:
    """How many units the audit entries written after `after_id` account for: one per report.*
    entry, or the units a reports.import entry counts as written (an import may be audited either way)."""
    count = connection.execute(text("SELECT count(*) FROM audit_entry WHERE id > :a AND kind LIKE 'report.%'"),
                               {"a": after_id}).scalar()
    for (after,) in connection.execute(text(
            "SELECT after FROM audit_entry WHERE id > :a AND kind = 'reports.import'"), {"a": after_id}):
        after = json.loads(after) if isinstance(after, str) else after
        count += after["inserted"] + after["updated"]
    return count


@pytest.mark.skipif(not ON_PG, reason=(
    "PostgreSQL only: the test watches the import's backend in pg_stat_activity to kill it in the "
    "middle of its INSERTs; SQLite shows no other process's statements"))
def test_import_killed_mid_write_leaves_nothing_and_rerun_loads_all(tmp_path):
    import psycopg
    if DIVISIONS is None:
        pytest.fail("没有找到全国区划数据：请把 ../shared/data/divisions 放在检出目录旁，或设置 DIVISIONS_DIR")
    started = time.monotonic()
    name = "reporting_crash"
    url = fresh_pg_database(name)
    try:
        env = app_env(url)
        flask(env, "db", "upgrade")
        today = clock.today()
        with app_for(url) as app:
            cli(app, "regions", "import", str(DIVISIONS), "--under", CRASH_PROVINCE)
            # the command line writes as no user, so the campaign must still be open
            campaign_id = int(cli(app, "campaign", "create", "--name", "导入测试", "--root", CRASH_PROVINCE,
                                  "--start", (today - dt.timedelta(days=30)).isoformat(),
                                  "--end", (today + dt.timedelta(days=60)).isoformat(), "--rhythm", "weekly"))
        with engine_for(url) as engine:
            period_id = scalar(engine, "SELECT id FROM period WHERE campaign_id = :c AND seq = 1", c=campaign_id)
            with engine.connect() as connection:
                codes = connection.execute(text(
                    "SELECT code FROM region WHERE level = 'village' ORDER BY code")).scalars().all()
        # enough rows that the import spends seconds on each table, so that the kill lands mid-write
        assert len(codes) > 10_000, f"province {CRASH_PROVINCE} has only {len(codes)} villages"
        villages = len(codes)
        big = tmp_path / f"villages-{CRASH_PROVINCE}.csv"
        with open(big, "w", newline="", encoding="utf-8") as f:
            out = csv.writer(f)
            out.writerow(["单位代码", *VALUES])
            for n, code in enumerate(codes):
                out.writerow([code, 3000 + n % 500, 2600, 1500 + n % 900, 80, 60, 300, 10, n % 7])
        setup_seconds = time.monotonic() - started

        with engine_for(url) as engine:
            audit_before = scalar(engine, "SELECT max(id) FROM audit_entry") or 0

        # run 1: killed once its reports are written, while it writes the tallies or its audit entry
        killed = time.monotonic()
        seen, written = None, 0
        with open(tmp_path / "import-1.log", "w") as log:
            importer = subprocess.Popen(
                [str(BIN / "flask"), "--app", "app", "reports", "import", str(period_id), str(big), "--submit"],
                cwd=ROOT, env=app_env(url + "?application_name=crash_import"), stdout=log, stderr=subprocess.STDOUT)
        try:
            with psycopg.connect(pg_url(name), autocommit=True) as watcher:
                deadline = time.monotonic() + 150
                while importer.poll() is None and time.monotonic() < deadline:
                    # past its reports: the transaction has written, and its last statement (running, or
                    # done while Python builds the next) is no longer the reports' own COPY or INSERT; the
                    # tally and audit statements alone last a few milliseconds, too short to catch reliably
                    row = watcher.execute(
                        "SELECT pid, backend_xid::text, state, left(query, 40) FROM pg_stat_activity "
                        "WHERE application_name = 'crash_import' AND state <> 'idle' AND backend_xid IS NOT NULL "
                        "AND query !~* '^(INSERT INTO|COPY) \"?report\\M'"
                    ).fetchone()
                    if row is not None:
                        seen = row
                        os.kill(importer.pid, signal.SIGKILL)
                        # the uncommitted rows were on disk: the report table had grown
                        written = watcher.execute("SELECT pg_relation_size('report')").fetchone()[0]
                        break
                    time.sleep(0.01)
        finally:
            if importer.poll() is None and seen is None:
                importer.kill()
            importer.wait()
        output = (tmp_path / "import-1.log").read_text()
        assert seen is not None, f"never saw the import writing its tallies: {output[-500:]}"
        assert importer.returncode == -signal.SIGKILL, output[-500:]
        assert seen[1] is not None  # its transaction had written
        assert written > 0, "killed before its reports were written"
        kill_seconds = time.monotonic() - killed

        with engine_for(url) as engine:
            def counts():
                with engine.connect() as connection:
                    return (connection.execute(text("SELECT count(*) FROM report WHERE period_id = :p"),
                                               {"p": period_id}).scalar(),
                            connection.execute(text("SELECT count(*) FROM revision JOIN report ON "
                                                    "report.id = revision.report_id WHERE period_id = :p"),
                                               {"p": period_id}).scalar(),
                            audited_units(connection, audit_before))
            # wait for the server to notice the dead client and end its backend
            deadline = time.monotonic() + 30
            with psycopg.connect(pg_url("postgres"), autocommit=True) as watcher:
                while watcher.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (seen[0],)).fetchone():
                    assert time.monotonic() < deadline, "the killed import's backend lives on"
                    time.sleep(0.1)
            after_kill = counts()
            print(f"\nkilled ({seen[2]}) during {seen[3]!r} after {kill_seconds:.1f} s, with the report table at "
                  f"{written / 2**20:.1f} MiB; reports/revisions/audited units after the kill: {after_kill}")
            # a first submission gets no revision row: the reports and the import's entry hold it
            assert after_kill in ((0, 0, 0), (villages, 0, villages)), after_kill

            # run 2: the same import, to the end
            rerun = time.monotonic()
            last = flask(env, "reports", "import", str(period_id), str(big), "--submit", timeout=300)
            assert f"已导入{villages:,}行" in last, last
            after_rerun = counts()
            with engine.connect() as connection:
                statuses = dict(connection.execute(text(
                    "SELECT status, count(*) FROM report WHERE period_id = :p GROUP BY status"),
                    {"p": period_id}).all())
                enrolled = connection.execute(text("SELECT sum(v3) FROM report WHERE period_id = :p"),
                                              {"p": period_id}).scalar()
                kinds = dict(connection.execute(text(
                    "SELECT kind, count(*) FROM audit_entry WHERE id > :a GROUP BY kind"), {"a": audit_before}).all())
            print(f"re-run: {last}; reports/revisions/audited units: {after_rerun}; "
                  f"in {time.monotonic() - rerun:.1f} s (setup {setup_seconds:.1f} s)")
            assert after_rerun == (villages, 0, villages)
            assert statuses == {"submitted": villages}
            assert kinds in ({"report.submit": villages}, {"reports.import": 1}), kinds
            assert enrolled == sum(1500 + n % 900 for n in range(villages))
    finally:
        drop_pg_database(name)


# --- a save that lands while a bulk import validates ----------------------------------------------

@pytest.mark.parametrize("meanwhile", ["save", "first save"])
def test_import_refuses_rows_changed_while_it_validated(app, anhui, frozen_now, monkeypatch, meanwhile):
    """The import reads the stored reports, validates (tens of seconds for a province), then writes
    with `WHERE revision = <what it read>`. A filer's save committed in between must not be silently
    skipped (nor audited as written by the import): the import is refused as a whole."""
    from reporting import tables
    from reporting.campaigns.campaigns import create_campaign
    from reporting.extensions import db
    from reporting.filing import filing
    from reporting.models import Region
    from reporting.regions.hierarchy import descendants_at

    campaign, _ = create_campaign(name="测试", root=anhui, start=dt.date(2022, 9, 1),
                                  end=dt.date(2022, 12, 31), rhythm="weekly")
    db.session.commit()
    frozen_now(dt.datetime(2022, 9, 5, 10, 0))
    period = campaign.periods[0]
    villages = db.session.scalars(descendants_at(anhui, "village").order_by(Region.code)).all()
    rows = lambda enrolled, units: [(n + 2, v.code, {**VALUES, "enrolled": enrolled}, {})  # noqa: E731
                                    for n, v in enumerate(units)]
    # every village has a draft ("save"), or all but the first ("first save": the import will insert it)
    drafted = villages if meanwhile == "save" else villages[1:]
    filing.import_reports(period, rows(500, drafted), submit=False)
    db.session.commit()
    audit_before = db.session.scalar(text("SELECT count(*) FROM audit_entry"))
    target = villages[0]

    original = filing.Plan.add

    def filer_saves_meanwhile(*args, **kwargs):
        checked = original(*args, **kwargs)
        # after the import's reads and checks, before its writes: a county filer's save, committed on its own
        with db.engine.connect() as other:
            if meanwhile == "save":
                other.execute(text("UPDATE report SET v3 = 777, revision = revision + 1 "
                                   "WHERE region_id = :r AND period_id = :p"), {"r": target.id, "p": period.id})
            else:
                other.execute(text(
                    "INSERT INTO report (period_id, region_id, status, v3, filer_name, filer_phone, filer_head, "
                    "updated_at, revision) VALUES (:p, :r, 'draft', 777, '', '', '', :now, 1)"),
                    {"r": target.id, "p": period.id, "now": dt.datetime(2022, 9, 5, 10, 0)})
            other.commit()
        return checked

    monkeypatch.setattr(filing.Plan, "add", filer_saves_meanwhile)
    with pytest.raises(tables.ImportRejected, match="被他人修改"):
        filing.import_reports(period, rows(600, villages), submit=True)
    db.session.rollback()
    # nothing of the import: the filer's save stands, no report was submitted, nothing was audited
    assert db.session.scalar(text("SELECT v3 FROM report WHERE region_id = :r AND period_id = :p"),
                             {"r": target.id, "p": period.id}) == 777
    assert db.session.scalar(text("SELECT count(*) FROM report WHERE status = 'submitted'")) == 0
    assert db.session.scalar(text("SELECT count(*) FROM revision")) == 0
    assert db.session.scalar(text("SELECT count(*) FROM audit_entry")) == audit_before
