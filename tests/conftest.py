"""Fixtures in the manner of flaskr: app, client, runner, auth; the database is SQLite or PostgreSQL.

Set TEST_DATABASE_URL (e.g. postgresql://postgres@127.0.0.1:5432/test) to run on PostgreSQL.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3

import pytest
from sqlalchemy import text

from app import create_app
from reporting import clock
from reporting.extensions import db
from reporting.models import User
from reporting.regions.hierarchy import import_divisions, region_by_code

HERE = os.path.dirname(__file__)
JIANGMEN = os.path.join(HERE, "..", "reporting", "demo", "data", "jiangmen")
ANHUI = os.path.join(HERE, "data", "anhui")
PG_URL = os.environ.get("TEST_DATABASE_URL")

#: fixtures that several test modules share, each module on one topic
pytest_plugins = [f"tests.fixtures.{topic}" for topic in (
    "basis", "circulars", "demos", "departments", "filing", "jobs", "review", "robots", "tally", "zhuji")]

#: the moment every test runs at unless it chooses another (frozen_now, or REPORTING_TODAY set for the
#: run). It is an environment variable, so the processes a test starts (flask, gunicorn, RQ workers)
#: share it; no test reads the machine's date except test_clock's check that production does.
SUITE_MOMENT = "2026-12-07T10:00:00"
os.environ.setdefault(clock.SETTING, SUITE_MOMENT)


def pytest_report_header(config):
    return f"database: {PG_URL or 'SQLite (temporary file)'}"


@pytest.fixture(scope="session")
def _pg_schema():
    """On PostgreSQL the schema is made once per run; each test then empties the tables."""
    if not PG_URL:
        yield
        return
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "DATABASE_URL": PG_URL})
    with app.app_context():
        db.drop_all()
        db.session.execute(text("DROP TABLE IF EXISTS alembic_version"))
        db.session.commit()
        db.create_all()
        db.engine.dispose()
    yield


def copy_sqlite(source, target) -> None:
    """Copy a SQLite database whole, the part still in its write-ahead log included."""
    with contextlib.closing(sqlite3.connect(source)) as reading, \
            contextlib.closing(sqlite3.connect(target)) as writing:
        reading.backup(writing)


class KeptDatabases:
    """Databases made once per run and copied for each test that starts from them: the empty schema,
    the 江门市 tree, the demo. The first test that asks makes one the usual way and keeps it; each later
    test gets a copy (milliseconds, where the tree takes a fraction of a second and the demo four).
    SQLite copies the file; PostgreSQL, which empties its one database for each test, keeps each
    table's rows as COPY text and writes them back."""

    def __init__(self, folder):
        self.folder = folder
        self.tables: dict[str, dict[str, bytes]] = {}

    def kept(self, name: str) -> bool:
        return name in self.tables if PG_URL else (self.folder / f"{name}.db").exists()

    def sqlite_file(self, name: str):
        return self.folder / f"{name}.db"

    def keep(self, name: str, database) -> None:
        db.session.commit()
        if PG_URL:
            self.tables[name] = {}
            with self._cursor() as cursor:
                for table in db.metadata.sorted_tables:
                    with cursor.copy(f'COPY "{table.name}" TO STDOUT') as copy:
                        self.tables[name][table.name] = b"".join(bytes(block) for block in copy)
        else:
            db.session.remove()
            copy_sqlite(database, self.sqlite_file(name))

    def restore(self, name: str, database, holding: tuple[str, ...] = ()) -> bool:
        """Replace the test's database, empty but for the tables `holding` (which the copy holds too),
        by the kept one; False when there is none yet, or when the test has already written something
        else (a copy would lose it)."""
        if not self.kept(name) or filled_tables() - set(holding):
            return False
        if PG_URL:
            _empty_pg_tables()  # the tables `holding`
            with self._cursor() as cursor:
                # rows copied out of a consistent database need no foreign-key checks on the way back
                cursor.execute("SET LOCAL session_replication_role = replica")
                for table in db.metadata.sorted_tables:
                    rows = self.tables[name][table.name]
                    if not rows:
                        continue
                    with cursor.copy(f'COPY "{table.name}" FROM STDIN') as copy:
                        copy.write(rows)
                    if "id" in table.c and table.c.id.autoincrement is not False:
                        cursor.execute(f"SELECT setval(pg_get_serial_sequence('\"{table.name}\"', 'id'), "
                                       f'(SELECT max(id) FROM "{table.name}"))')
            db.session.commit()
        else:
            db.session.remove()
            db.engine.dispose()
            copy_sqlite(self.sqlite_file(name), database)
        return True

    @contextlib.contextmanager
    def _cursor(self):
        """A cursor on the session's own connection, inside its transaction."""
        with db.session.connection().connection.driver_connection.cursor() as cursor:
            yield cursor


def filled_tables() -> set[str]:
    """The tables that hold a row, in one query."""
    tables = db.metadata.sorted_tables
    found = db.session.execute(text("SELECT " + ", ".join(f'EXISTS (SELECT 1 FROM "{t.name}")' for t in tables))).one()
    return {t.name for t, rows in zip(tables, found) if rows}


def _empty_pg_tables() -> None:
    """Delete the rows a test left, and start every id again at 1. The foreign keys' triggers stay off
    meanwhile (every row goes, so none can dangle): 0.04 s where a TRUNCATE of every table took 0.6 s
    or more a test, and a checked DELETE of the 江门市 tree 0.7 s."""
    filled = filled_tables()
    db.session.execute(text("SET LOCAL session_replication_role = replica"))
    for table in reversed(db.metadata.sorted_tables):
        if table.name in filled:
            db.session.execute(text(f'DELETE FROM "{table.name}"'))
    db.session.execute(text("SELECT setval(oid::regclass, 1, false) FROM pg_class WHERE relkind = 'S' "
                            "AND relnamespace = 'public'::regnamespace"))
    db.session.commit()


@pytest.fixture(scope="session")
def _kept(tmp_path_factory):
    return KeptDatabases(tmp_path_factory.mktemp("kept"))


@pytest.fixture
def app(tmp_path, _pg_schema, _kept):
    config = {"TESTING": True, "SECRET_KEY": "test", "WTF_CSRF_ENABLED": False,
              "SESSION_COOKIE_SECURE": False, "RATELIMIT_ENABLED": False}
    database = tmp_path / "test.db"
    if PG_URL:
        config["DATABASE_URL"] = PG_URL
    else:
        config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{database}"
        if _kept.kept("schema"):
            copy_sqlite(_kept.sqlite_file("schema"), database)
    app = create_app(config)
    app.config["TEST_DATABASE_FILE"] = database
    with app.app_context():
        if PG_URL:
            _empty_pg_tables()
        elif not _kept.kept("schema"):
            db.create_all()
            _kept.keep("schema", database)
        yield app
        db.session.remove()
        # A connection still out here outlives dispose() and is closed by the garbage collector at
        # some later test (a ResourceWarning there): name the test that left it, after closing the rest.
        left_open = db.engine.pool.checkedout()
        db.engine.dispose()
        assert left_open == 0, f"{left_open} database connection(s) left open"


@pytest.fixture
def client(app):
    # The fixture's app context outlives each request, so `g` (where Flask-Login caches the user)
    # and the database session would carry over; start each request fresh, as a server does.
    def forget_user(sender, **extra):
        from flask import g
        g.pop("_login_user", None)
        db.session.expire_all()
    from flask import request_started
    request_started.connect(forget_user, app)
    yield app.test_client()
    request_started.disconnect(forget_user, app)


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def _from_copy(app, kept: KeptDatabases, name: str, make, holding: tuple[str, ...] = ()) -> None:
    """Start the test's database from the kept copy `name`, or make it with `make()` and keep it."""
    database = app.config["TEST_DATABASE_FILE"]
    if not kept.restore(name, database, holding):
        make()
        if not kept.kept(name):
            kept.keep(name, database)


@pytest.fixture
def jiangmen(app, _kept):
    """The real 江门市 tree: 1 province, 1 city, 7 counties, 82 townships, 1,348 villages."""
    def make():
        import_divisions(JIANGMEN)
        db.session.commit()
    _from_copy(app, _kept, "jiangmen", make)
    return region_by_code("4407")


@pytest.fixture
def anhui(app):
    """埇桥区 and 灵璧县 朱集镇 (341323117), the township of seed 001's village task table."""
    import_divisions(ANHUI)
    db.session.commit()
    return region_by_code("341323117")


@pytest.fixture(autouse=True)
def _no_outage_remembered():
    """The once-a-minute memory of outages lives in the process: each test starts without it."""
    from reporting import outages
    outages.forget()


@pytest.fixture
def frozen_now(monkeypatch):
    """Move the server's clock, for this process and those it starts: frozen_now(dt.datetime(...))."""
    def freeze(moment: dt.datetime):
        monkeypatch.setenv(clock.SETTING, moment.isoformat())
        return moment
    return freeze


def _demo_on(app, kept: KeptDatabases, frozen_now, moment: dt.datetime, name: str):
    """The 江门市 demo as `flask demo` loads it at `moment`; returns this year's campaign."""
    from reporting.demo.jiangmen import load_demo
    from reporting.models import Campaign
    frozen_now(moment)

    def make():
        load_demo(echo=lambda line: None)
        db.session.commit()
    _from_copy(app, kept, name, make, holding=("region",))  # the copy holds the tree too
    return db.session.scalar(db.select(Campaign).order_by(Campaign.start.desc()).limit(1))  # this year's


@pytest.fixture
def demo(app, jiangmen, frozen_now, _kept):
    """The 江门市 demo (`flask demo`) on 2026年11月27日: 第4期 complete, 第5期 partly filed."""
    return _demo_on(app, _kept, frozen_now, dt.datetime(2026, 11, 27, 10, 0), "demo")


@pytest.fixture
def demo_december(app, jiangmen, frozen_now, _kept):
    """The demo on 2026年12月8日: 第5期 (截至11月30日) complete, with the 信息系统 figures the demo
    imports for the last period due, and 第6期 partly filed."""
    return _demo_on(app, _kept, frozen_now, dt.datetime(2026, 12, 8, 10, 0), "demo_december")


#: one village's figures and a filer's footer, as the review, 催报 and API tests file them
VALUES = {"population": 3000, "should_enroll": 2600, "enrolled": 2000, "hardship_should": 80,
          "hardship_enrolled": 78, "students_enrolled": 400, "newborns_enrolled": 20, "college_enrolled": 0}
FILER = {"name": "黄丽华", "phone": "13802216103", "head": "张局长"}


@pytest.fixture
def xinhui_period(jiangmen, frozen_now):
    """Period 1 of two_counties_filed, on 2022年10月6日 (before its due date), with 新会区's county filer
    `xinhui`: the grid the browser journeys open."""
    campaign = two_counties_filed(jiangmen, frozen_now)
    make_user("xinhui", "county_filer", "440705")
    frozen_now(dt.datetime(2022, 10, 6, 9, 0))
    return campaign.periods[0]


def villages(code: str) -> list[str]:
    """The village codes under `code`, in code order."""
    from reporting.models import Region
    from reporting.regions.hierarchy import descendants_at
    return list(db.session.scalars(descendants_at(region_by_code(code), "village")
                                   .with_only_columns(Region.code).order_by(Region.code)))


def two_counties_filed(jiangmen, frozen_now):
    """江门市's 2023年度 campaign, 10月5日: 新会区 and 蓬江区 submitted every village of period 1, the
    other five counties nothing. Returns the campaign."""
    from reporting.campaigns.campaigns import create_campaign
    from reporting.filing.filing import import_reports
    frozen_now(dt.datetime(2022, 10, 5, 10, 0))
    campaign, _ = create_campaign(name="江门市2023年度", root=jiangmen, start=dt.date(2022, 9, 1),
                                  end=dt.date(2022, 12, 31), extend_to=dt.date(2023, 2, 28),
                                  first_due=dt.date(2022, 10, 1))
    import_reports(campaign.periods[0], [(n, c, VALUES, FILER) for n, c in
                                         enumerate(villages("440705") + villages("440703"))], submit=True)
    db.session.commit()
    return campaign


def make_user(username: str, role: str, region_code: str, password: str = "correct-horse-battery") -> User:
    user = User(username=username, role=role, region=region_by_code(region_code),
                full_name=username, phone="13800000000")
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    return user


def token_for(runner, username):
    """An API token for the user, made on the command line."""
    result = runner.invoke(args=["users", "token", username])
    assert result.exit_code == 0, result.output
    return result.stdout.strip().splitlines()[-1]


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


class AuthActions:
    def __init__(self, client):
        self._client = client

    def login(self, username: str, password: str = "correct-horse-battery"):
        return self._client.post("/login", data={"username": username, "password": password})

    def logout(self):
        return self._client.post("/logout")


@pytest.fixture
def auth(client):
    return AuthActions(client)


class InFlight:
    """Counts the requests a live server is still answering, so that it can wait for them."""

    def __init__(self, wsgi_app):
        import threading
        self.wsgi_app, self.count, self.idle = wsgi_app, 0, threading.Condition()

    def __call__(self, environ, start_response):
        with self.idle:
            self.count += 1
        try:
            return self.closing(self.wsgi_app(environ, start_response))
        finally:
            with self.idle:
                self.count -= 1
                self.idle.notify_all()

    @staticmethod
    def closing(body):
        """The answer's chunks, and its close() however the sending ends.

        Werkzeug's server skips close() when the browser has reset the connection (it reads the
        socket first), which would leave a static file open; a generator is closed when dropped.
        """
        try:
            yield from body
        finally:
            if hasattr(body, "close"):
                body.close()

    def wait(self, timeout: float = 120) -> bool:
        with self.idle:
            return self.idle.wait_for(lambda: self.count == 0, timeout)


@contextlib.contextmanager
def serve(app):
    """The app served over real HTTP on 127.0.0.1 until the block ends.

    A browser closed at a test's end may leave requests running (an htmx `load`, a preview): the
    server waits for them, so that no request thread holds a database connection past the test.
    """
    import threading

    from werkzeug.serving import make_server
    requests = InFlight(app)
    server = make_server("127.0.0.1", 0, requests, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()
        server.server_close()
        assert requests.wait(), "a request to the test server did not end"


@pytest.fixture
def live_server(app):
    """The app served over real HTTP on 127.0.0.1, for the browser tests."""
    with serve(app) as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright (playwright cannot download its own browser here)."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    chromium_path = "/usr/bin/chromium"
    if not os.path.exists(chromium_path):
        pytest.fail("浏览器测试需要 Debian 的 chromium：apt-get install -y chromium（make test 会自动安装）")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server, viewport={"width": 1366, "height": 768},
                                  locale="zh-CN")
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # a refused request is a page's business (tests assert on it); a script error never is
    page.on("console", lambda m: errors.append(m.text)
            if m.type == "error" and "Failed to load resource" not in m.text else None)
    yield page
    context.close()
    assert errors == [], f"the page reported errors: {errors}"


def browser_login(page, username: str, password: str = "correct-horse-battery"):
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/")
