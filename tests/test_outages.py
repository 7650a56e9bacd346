"""No dependency takes the site down: Redis stopped in the middle of a test (a server of the test's own,
never the shared one), and the dashboards, the progress API, the login, a 催报 and a 签发 go on."""
from __future__ import annotations

import datetime as dt
import logging
import shutil
import socket
import subprocess
import time

import pytest
from sqlalchemy import func, select

from app import create_app
from reporting.extensions import db
from reporting.models import Circular, Delivery, Reminder, User, Webhook

from .conftest import make_user, two_counties_filed
from .fixtures.robots import Robot

PASSWORD = "correct-horse-battery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def own_redis(tmp_path):
    """A redis-server of this test's own on a free port, saving nothing; stop() kills it mid-test."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.fail("redis-server 未安装")
    port = free_port()
    process = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                "--dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    from redis import Redis
    client = Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except Exception:  # noqa: BLE001 - not listening yet
            time.sleep(0.05)

    class Server:
        url = f"redis://127.0.0.1:{port}/0"

        @staticmethod
        def stop():
            process.kill()
            process.wait()
    yield Server
    client.close()
    if process.poll() is None:
        process.kill()
        process.wait()


@pytest.fixture
def redis_app(app, own_redis):
    """A second app on the test's database whose cache, queue and login limits are in that Redis."""
    config = {"TESTING": True, "SECRET_KEY": "test", "WTF_CSRF_ENABLED": False, "SESSION_COOKIE_SECURE": False,
              "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"], "REDIS_URL": own_redis.url,
              "RATELIMIT_STORAGE_URI": own_redis.url, "RATELIMIT_ENABLED": True,
              "WEBHOOK_ATTEMPTS": 1, "WEBHOOK_TIMEOUT": 0.5, "WEBHOOK_RETRY_SECONDS": (0,)}
    other = create_app(config)
    yield other
    with other.app_context():
        db.session.remove()
        db.engine.dispose()
    # the limiter is one object for every app of the process: the next test's starts with a live storage
    from reporting.extensions import limiter
    limiter._storage_dead = False


def test_with_redis_killed_the_site_reads_through_and_sends_inside_the_request(
        app, redis_app, own_redis, jiangmen, frozen_now, caplog):
    runner = redis_app.test_cli_runner()
    campaign = two_counties_filed(jiangmen, frozen_now)
    # read while the test's own app is current: inside the second app's context an expired attribute
    # would load through that app's engine and hold one of its connections past its dispose
    period_id = campaign.periods[0].id
    make_user("admin", "city_admin", "4407")
    make_user("taishan", "county_filer", "440781")
    robot = Robot()
    redis_app.config.update(WEBHOOK_HOSTS=f"http://127.0.0.1:{robot.server.server_port}", WEBHOOK_ALLOW_PRIVATE=True)
    db.session.add(Webhook(user=db.session.scalar(select(User).where(User.username == "taishan")), kind="wecom",
                           url=f"{robot.url}/send?key=k"))
    db.session.commit()
    client = redis_app.test_client()
    try:
        with redis_app.app_context():
            assert client.post("/login", data={"username": "admin", "password": PASSWORD}).status_code == 303
            before = client.get(f"/dashboard/4407?period={period_id}").get_data(as_text=True)
            assert "新会区" in before

            own_redis.stop()
            caplog.set_level(logging.WARNING, logger="reporting.outages")
            for _ in range(3):
                page = client.get(f"/dashboard/4407?period={period_id}")
                assert page.status_code == 200 and "新会区" in page.get_data(as_text=True)
            token = runner.invoke(args=["users", "token", "admin"]).stdout.strip().splitlines()[-1]
            api = client.get(f"/api/v1/progress/4407?period={period_id}", headers={"Authorization": f"Bearer {token}"})
            assert api.status_code == 200 and len(api.get_json()["children"]) == 7
            charts = client.get(f"/dashboard/4407/charts?period={period_id}", headers={"HX-Request": "true"})
            assert charts.status_code == 200 and "<svg" in charts.get_data(as_text=True)
            # the outage is logged once, not per request
            assert len([r for r in caplog.records if "Redis（缓存）" in r.getMessage()]) == 1

            # the login's limit is counted inside the process
            other = redis_app.test_client()
            assert other.post("/login", data={"username": "admin", "password": "wrong"}).status_code < 500
            assert other.post("/login", data={"username": "admin", "password": PASSWORD}).status_code == 303

            # a 催报: recorded and sent now, not left queued for a worker that will never get it
            sent = client.post(f"/reminders/4407/{period_id}")
            assert sent.status_code == 303
            db.session.expire_all()
            assert db.session.scalar(select(func.count(Reminder.id))) == 1
            outcomes = db.session.scalars(select(Delivery.outcome)).all()
            assert outcomes == ["sent"] and len(robot.calls) == 1

            # a 签发: done inside the request
            client.post("/circulars/", data={"region": "4407", "period": period_id})
            circular = db.session.scalar(select(Circular))
            issued = client.post(f"/circulars/{circular.id}/issue")
            assert issued.status_code == 303
            db.session.expire_all()
            assert db.session.get(Circular, circular.id).status == "issued"
    finally:
        robot.close()


def test_a_delivery_left_queued_becomes_failed_after_its_tries(app, redis_app, own_redis, jiangmen, frozen_now):
    """Queued in Redis, then Redis lost with its queue (no worker ever ran it): once every try would
    have run, the delivery reads 发送失败（超时）, never 待发送 forever."""
    campaign = two_counties_filed(jiangmen, frozen_now)
    period_id = campaign.periods[0].id  # read under the test's own app (see above)
    make_user("admin", "city_admin", "4407")
    make_user("taishan", "county_filer", "440781")
    db.session.add(Webhook(user=db.session.scalar(select(User).where(User.username == "taishan")), kind="wecom",
                           url="https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k"))
    db.session.commit()
    client = redis_app.test_client()
    with redis_app.app_context():
        client.post("/login", data={"username": "admin", "password": PASSWORD})
        assert client.post(f"/reminders/4407/{period_id}").status_code == 303
        db.session.expire_all()
        assert db.session.scalars(select(Delivery.outcome)).all() == ["queued"]
        own_redis.stop()
        page = client.get(f"/reminders/4407?period={period_id}").get_data(as_text=True)
        assert "待发送" in page  # its tries may still be running
        frozen_now(dt.datetime(2022, 10, 5, 10, 20))  # past its tries (6 minutes), inside the login's idle time
        page = client.get(f"/reminders/4407?period={period_id}").get_data(as_text=True)
        assert "待发送" not in page and "发送失败（超时）" in page
        db.session.expire_all()
        assert db.session.scalars(select(Delivery.outcome)).all() == ["failed"]
