"""The composition root: create_app() wires configuration, extensions, blueprints and the CLI."""
from __future__ import annotations

import datetime as dt
import os
import secrets

from flask import Flask, jsonify, render_template, request
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from reporting import clock, filters, fonts, jobs
from reporting.extensions import csrf, db, htmx, limiter, login_manager, migrate


def database_url(url: str | None, instance_path: str) -> str:
    """The SQLAlchemy URL for DATABASE_URL, with psycopg 3 for PostgreSQL; SQLite in instance/ by default."""
    if not url:
        return "sqlite:///" + os.path.join(instance_path, "reporting.db")
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _secret_key(instance_path: str) -> str:
    """SECRET_KEY from the environment, else one generated once and kept in instance/."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = os.path.join(instance_path, "secret_key")
    if not os.path.exists(path):
        with open(path, "w") as f:
            f.write(secrets.token_hex(32))
    with open(path) as f:
        return f.read().strip()


class DatabaseId(IntegerConverter):
    """An <int:…> part of a URL is a row id: past the INTEGER columns' range it names nothing (404)
    instead of overflowing the query (SQLite's OverflowError, PostgreSQL's "integer out of range")."""

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", 2 ** 31 - 1)
        super().__init__(url_map, *args, **kwargs)


def create_app(test_config: dict | None = None) -> Flask:
    # a mistyped REPORTING_TODAY stops the start, not every request; a set one is said in the log
    stopped_at = clock.setting()
    app = Flask(__name__, instance_relative_config=True)
    if stopped_at is not None:
        app.logger.warning("时钟固定于 %s（%s），仅供测试与演示", stopped_at, clock.SETTING)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.from_mapping(
        SQLALCHEMY_DATABASE_URI=database_url(os.environ.get("DATABASE_URL"), app.instance_path),
        SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True},
        # the planner's cost of a random page read on PostgreSQL (see below); its default is 4
        PG_RANDOM_PAGE_COST=float(os.environ.get("PG_RANDOM_PAGE_COST", "1.1")),
        MAX_CONTENT_LENGTH=20 * 1024 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # Secure unless told otherwise: the demo on http://127.0.0.1 sets COOKIE_SECURE=0.
        SESSION_COOKIE_SECURE=os.environ.get("COOKIE_SECURE", "1") != "0",
        REMEMBER_COOKIE_HTTPONLY=True,
        # the idle timeout: a session unused this long is over; the server notes its use at most once
        # a minute (session["seen"]), and only then signs and sends the cookie again
        PERMANENT_SESSION_LIFETIME=dt.timedelta(minutes=int(os.environ.get("IDLE_MINUTES", "30"))),
        SESSION_REFRESH_EACH_REQUEST=False,
        # memory:// for one process (the demo); redis://127.0.0.1:6379 when several share the limits
        RATELIMIT_STORAGE_URI=os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
        RATELIMIT_HEADERS_ENABLED=True,
        # Redis down: count the limits inside the process until it answers again, never a 500
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
        # set per app: the limiter object would otherwise carry one app's choice to the next
        RATELIMIT_ENABLED=True,
        # 催报 robots beyond 企业微信 and 钉钉: "host", "host:port" (https) or "http://host:port", comma-separated
        WEBHOOK_HOSTS=os.environ.get("WEBHOOK_HOSTS", ""),
        # a listed intranet robot host may resolve to a private address (never link-local or multicast)
        WEBHOOK_ALLOW_PRIVATE=os.environ.get("WEBHOOK_ALLOW_PRIVATE", "0") == "1",
        # Redis for background jobs (circular rendering); without it jobs run inside the request
        REDIS_URL=os.environ.get("REDIS_URL"),
        # a folder of the bureau's licensed fonts (方正小标宋简体, 仿宋_GB2312…) for the 通报 PDF
        FONTS_DIR=os.environ.get("FONTS_DIR"),
        # how many reverse proxies (nginx) stand in front and set X-Forwarded-For/-Proto; 0: none
        TRUSTED_PROXIES=int(os.environ.get("TRUSTED_PROXIES", "0")),
        # the 整改报告's attachments: on disk, outside the web root (instance/supervision by default)
        SUPERVISION_FILES=os.environ.get("SUPERVISION_FILES") or os.path.join(app.instance_path, "supervision"),
        WTF_CSRF_TIME_LIMIT=None,
        # 三员分立 (等保2.0 三级): accounts to a security admin, the audit log to an audit admin
        SEPARATION_OF_DUTIES=os.environ.get("SEPARATION_OF_DUTIES", "0") == "1",
        # a password older than this many days must be changed at the next page; 0: never
        PASSWORD_MAX_AGE_DAYS=int(os.environ.get("PASSWORD_MAX_AGE_DAYS", "0") or 0),
        JSON_AS_ASCII=False,
    )
    if test_config:
        app.config.update(test_config)
    if "SECRET_KEY" not in (test_config or {}):
        app.config["SECRET_KEY"] = _secret_key(app.instance_path)
    if "DATABASE_URL" in (test_config or {}):
        app.config["SQLALCHEMY_DATABASE_URI"] = database_url(test_config["DATABASE_URL"], app.instance_path)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        # The reporting database lives in memory (a province's five periods are a few hundred MB), so
        # reading a row by index costs about what reading it in sequence does. At PostgreSQL's
        # default of 4, for disks, the planner read a whole period's reports to find one city's
        # (review counts 18 ms, a county's carried values 48 ms of three processes; at 1.1: 5 and 6 ms).
        options = app.config["SQLALCHEMY_ENGINE_OPTIONS"] = dict(app.config["SQLALCHEMY_ENGINE_OPTIONS"])
        options["connect_args"] = {"options": f"-c random_page_cost={app.config['PG_RANDOM_PAGE_COST']}",
                                   **options.get("connect_args", {})}
    app.json.ensure_ascii = False
    fonts.use_fonts_dir(app.config["FONTS_DIR"])
    if app.config["TRUSTED_PROXIES"]:
        # Behind nginx every request comes from the proxy's address: take the client's from the
        # header the trusted proxies set, or the per-address login limit would count the whole site.
        proxies = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)

    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(app.root_path, "migrations"),
                     render_as_batch=True)
    csrf.init_app(app)
    htmx.init_app(app)
    login_manager.init_app(app)
    limiter.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "请先登录"

    filters.init_app(app)
    jobs.use_factory(create_app)  # a background job makes its own app with it
    app.url_map.converters["int"] = DatabaseId  # before the blueprints add their rules

    from reporting import cli
    from reporting.accounts import admin, auth
    from reporting.api import views as api
    from reporting.basis import views as system_figures
    from reporting.circulars import views as circulars
    from reporting.dashboard import views as dashboard
    from reporting.departments import views as departments
    from reporting.filing import views as filing
    from reporting.home import search_views as search
    from reporting.home import views as home
    from reporting.regions import views as regions
    from reporting.review import views as review
    from reporting.supervision import views as supervision
    for blueprint in (auth.bp, home.bp, regions.bp, filing.bp, dashboard.bp, circulars.bp, admin.bp, api.bp,
                      review.bp, departments.bp, search.bp, supervision.bp, system_figures.bp):
        app.register_blueprint(blueprint)
    # each feature's commands join the groups of reporting/cli.py when its cli module is imported
    from reporting.accounts import cli as _accounts  # noqa: F401
    from reporting.basis import cli as _basis  # noqa: F401
    from reporting.calendar import cli as _calendar  # noqa: F401
    from reporting.campaigns import cli as _campaigns  # noqa: F401
    from reporting.circulars import cli as _circulars  # noqa: F401
    from reporting.demo.cli import demo_command
    from reporting.departments import cli as _departments  # noqa: F401
    from reporting.filing import cli as _filing  # noqa: F401
    from reporting.regions import cli as _regions  # noqa: F401
    from reporting.reminders import cli as _reminders  # noqa: F401
    from reporting.supervision import cli as _supervision  # noqa: F401
    csrf.exempt(api.bp)  # the API authenticates with bearer tokens, not cookies
    cli.init_app(app)
    app.cli.add_command(demo_command)
    _register_error_handlers(app)
    app.after_request(_security_headers)
    return app


def warm_up(app: Flask) -> None:
    """Do before the first request what a worker would otherwise do during its first ones: compile
    every template and configure the ORM's mappers (gunicorn.conf.py, before it freezes them)."""
    from sqlalchemy.orm import configure_mappers

    from reporting.circulars.document import TEMPLATE as CIRCULAR  # rendered by an environment of its own

    configure_mappers()
    for name in app.jinja_env.list_templates(filter_func=lambda name: name.endswith(".html") and name != CIRCULAR):
        app.jinja_env.get_template(name)


#: no inline scripts or styles anywhere, so that injected markup can run nothing
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:",
    "font-src 'self'", "connect-src 'self'", "frame-src 'self'", "frame-ancestors 'self'",
    "form-action 'self'", "base-uri 'none'", "object-src 'none'",
])


def _security_headers(response):
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if response.mimetype == "text/html" or request.path.startswith("/api/"):
        headers.setdefault("Cache-Control", "no-store")  # numbers and names stay off shared caches
    return response


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record):
    # Foreign keys are off by default in SQLite; WAL lets the dashboard read while a county writes.
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()


def _register_error_handlers(app: Flask) -> None:
    messages = {400: "请求有误", 401: "请先登录", 403: "无权访问", 404: "找不到该页面或数据",
                405: "不支持该操作", 409: "数据已被他人修改", 413: "上传的文件过大（上限{limit}MB）",
                422: "数据有误", 429: "请求过于频繁，请稍后再试", 500: "服务器内部错误"}

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        message = error.description if error.description and not error.description.isascii() \
            else messages.get(error.code, error.name)
        if error.code == 413 and message == messages[413]:  # the limit in force, not the default one
            message = message.format(limit=(app.config["MAX_CONTENT_LENGTH"] or 0) // 1024 // 1024)
        if request.path.startswith("/api/"):
            return jsonify(errors=[{"field": None, "message": message}]), error.code
        return render_template("error.html", code=error.code, message=message), error.code
