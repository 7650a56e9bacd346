"""A fresh app for the in-process benchmarks (grid.py, keystroke.py, review.py): the project on a
database URL, its schema dropped and made anew, the server clock fixed. Imports the project, so
unlike common.py it is not for run.py."""
from __future__ import annotations

import datetime as dt
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from sqlalchemy import text  # noqa: E402

from app import create_app  # noqa: E402
from reporting import clock  # noqa: E402
from reporting.extensions import db  # noqa: E402

#: the national division codes, beside the project (or BENCH_DIVISIONS)
DIVISIONS = os.environ.get("BENCH_DIVISIONS") or next(
    (p for p in (os.path.join(ROOT, "..", "shared", "data", "divisions"), "/work/shared/data/divisions")
     if os.path.isdir(p)), "../shared/data/divisions")
#: 江门市, shipped with the project
JIANGMEN = os.path.join(ROOT, "reporting", "demo", "data", "jiangmen")


def fresh_app(url: str, now: dt.datetime):
    """The app on `url` (SQLite or PostgreSQL) with an empty schema, signing in by form (no CSRF, no
    rate limit), and the server clock fixed at `now`."""
    clock.now = lambda: now
    config = {"SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False, "SESSION_COOKIE_SECURE": False,
              "RATELIMIT_ENABLED": False}
    config["DATABASE_URL" if url.startswith("postgres") else "SQLALCHEMY_DATABASE_URI"] = url
    app = create_app(config)
    with app.app_context():
        db.drop_all()
        db.session.execute(text("DROP TABLE IF EXISTS alembic_version"))
        db.session.commit()
        db.create_all()
    return app
