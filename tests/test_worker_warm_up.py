"""A gunicorn worker compiles what its first requests would (gunicorn.conf.py), then freezes it."""
import gc
import runpy
from pathlib import Path

from app import warm_up
from reporting.circulars.document import TEMPLATE as CIRCULAR

ROOT = Path(__file__).resolve().parent.parent


def test_warm_up_compiles_every_page_template(app):
    pages = {name for name in app.jinja_env.list_templates() if name.endswith(".html")} - {CIRCULAR}
    assert len(pages) > 50
    warm_up(app)
    compiled = {key[1] for key in app.jinja_env.cache.keys()}
    assert pages <= compiled


def test_the_gunicorn_settings_warm_and_freeze_a_worker(app, monkeypatch):
    frozen = []
    monkeypatch.setattr(gc, "freeze", lambda: frozen.append(len(app.jinja_env.cache)))
    settings = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    settings["post_worker_init"](type("Worker", (), {"wsgi": app})())
    assert frozen and frozen[0] > 50, "the templates are compiled before the objects are frozen"
