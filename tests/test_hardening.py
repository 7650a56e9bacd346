"""Hardening: the defects a hostile probe found, each pinned by a test that failed before its fix."""
from __future__ import annotations

import threading
import time
import urllib.request

from sqlalchemy import text

from reporting.extensions import db

from .conftest import serve


def test_the_test_server_waits_for_requests_in_flight(app):
    """A browser closed at a test's end can leave a request running; the server must not stop
    under it, or its database connection outlives the engine and the garbage collector closes it
    during some later test (a ResourceWarning, an error under filterwarnings = error)."""
    started, answers = threading.Event(), []

    def slow():
        db.session.execute(text("SELECT 1"))  # holds a connection, as every page does
        started.set()
        time.sleep(1)
        return "完成"
    app.add_url_rule("/slow-for-test", view_func=slow)

    def call(url: str) -> None:
        try:
            with urllib.request.urlopen(url + "/slow-for-test", timeout=30) as response:
                answers.append(response.read().decode())
        except OSError as error:
            answers.append(repr(error))

    with serve(app) as url:
        caller = threading.Thread(target=call, args=(url,))
        caller.start()
        assert started.wait(30)
    assert db.engine.pool.checkedout() == 0  # the request ended, and gave its connection back
    caller.join(30)
    assert answers == ["完成"]
