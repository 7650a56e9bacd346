"""催报: the drafted texts, the record, the group robots (a local endpoint), retries, and the automatic
催报 before a deadline sent once per unit even with two workers."""
import base64
import datetime as dt
import hashlib
import hmac
import json
import math
import os
import subprocess
import sys
import urllib.parse

import pytest
from sqlalchemy import func, select

from reporting import clock
from reporting.campaigns.campaigns import create_campaign
from reporting.extensions import db
from reporting.filing.filing import import_reports
from reporting.models import AuditEntry, Delivery, Region, Reminder, ReminderMessage, User, Webhook
from reporting.regions.hierarchy import descendants_at, region_by_code

from .conftest import PG_URL, make_user
from .fixtures.jobs import REDIS, redis_up
from .fixtures.robots import Robot
from .moments import MOMENTS

VALUES = {"population": 3000, "should_enroll": 2600, "enrolled": 2000, "hardship_should": 80,
          "hardship_enrolled": 78, "students_enrolled": 400, "newborns_enrolled": 20, "college_enrolled": 0}
FILER = {"name": "黄丽华", "phone": "13802216103", "head": "张局长"}
ROOT = os.path.join(os.path.dirname(__file__), "..")


def villages(code):
    return list(db.session.scalars(descendants_at(region_by_code(code), "village")
                                   .with_only_columns(Region.code).order_by(Region.code)))


@pytest.fixture
def chase(app, client, runner, jiangmen, frozen_now):
    """江门市 on 2022年10月7日, a day before period 1's due date (10月8日): 新会区 has filed all but 23
    villages (two of those as drafts), 蓬江区 everything, the other counties nothing."""
    frozen_now(dt.datetime(2022, 10, 7, 9, 0))
    app.config.update(WEBHOOK_ATTEMPTS=3, WEBHOOK_TIMEOUT=0.5, WEBHOOK_RETRY_SECONDS=(0,))
    campaign, _ = create_campaign(name="江门市2023年度", root=jiangmen, start=dt.date(2022, 9, 1),
                                  end=dt.date(2022, 12, 31), first_due=dt.date(2022, 10, 1))
    period = campaign.periods[0]
    xinhui = villages("440705")
    import_reports(period, [(n, c, VALUES, FILER) for n, c in enumerate(xinhui[:-23] + villages("440703"))],
                   submit=True)
    import_reports(period, [(n, c, {"enrolled": 10}, {}) for n, c in enumerate(xinhui[-2:])], submit=False)
    db.session.commit()
    make_user("admin", "city_admin", "4407")
    make_user("xinhui", "county_filer", "440705")
    make_user("taishan", "county_filer", "440781")
    token = runner.invoke(args=["users", "token", "admin"]).stdout.strip().splitlines()[-1]

    def send(body=None, token=token):
        return client.post("/api/v1/reminders", json=body or {"region_code": "4407", "period_id": period.id},
                           headers={"Authorization": f"Bearer {token}"})
    return campaign, period, send


def test_one_message_per_unit_with_something_outstanding(chase, client, runner):
    campaign, period, send = chase
    answer = send()
    body = answer.get_json()
    assert answer.status_code == 201, body
    units = {u["code"]: u for u in body["units"]}
    assert "440703" not in units  # 蓬江区 has filed everything
    assert len(units) == 6
    xinhui = units["440705"]
    assert xinhui["outstanding"] == 23
    assert xinhui["text"] == ("【催报】新会区医疗保障局：第1期参保进度表报送截止10月8日（还有1天），尚有23个村（社区）未报送"
                              "（其中草稿未提交2个），请于截止前报送。江门市医疗保障局")
    assert xinhui["contact"] == {"name": "xinhui", "phone": "13800000000"}
    assert xinhui["channels"] == []  # no robot configured: the text is there to copy
    taishan = units["440781"]
    assert taishan["outstanding"] == region_by_code("440781").villages
    assert f"尚有{taishan['outstanding']}个村（社区）未报送" in taishan["text"]

    # recorded, and listed for the city and for the county it was sent to (only its own message)
    city = client.get(f"/api/v1/reminders?region_code=4407&period_id={period.id}",
                      headers={"Authorization": f"Bearer {_token(runner, 'admin')}"}).get_json()
    assert len(city) == 1 and city[0]["by"] == "admin" and len(city[0]["units"]) == 6
    county = client.get(f"/api/v1/reminders?region_code=440705&period_id={period.id}",
                        headers={"Authorization": f"Bearer {_token(runner, 'xinhui')}"}).get_json()
    assert [u["code"] for u in county[0]["units"]] == ["440705"]
    assert client.get(f"/api/v1/reminders?region_code=4407&period_id={period.id}",
                      headers={"Authorization": f"Bearer {_token(runner, 'xinhui')}"}).status_code == 403

    # the city chasing one county's townships signs as the city; the county chasing them, as the county
    townships = send({"region_code": "440705", "period_id": period.id}).get_json()["units"]
    assert sum(u["outstanding"] for u in townships) == 23
    assert all(u["text"].endswith("个村（社区）未报送，请于截止前报送。江门市医疗保障局") or "草稿" in u["text"]
               for u in townships)
    # (a county chases only when its townships file: it then reviews them)
    make_user("shadui", "township_filer", "440705106")
    own = send({"region_code": "440705", "period_id": period.id}, token=_token(runner, "xinhui")).get_json()
    assert own["units"][0]["text"].endswith("新会区医疗保障局")


def _token(runner, username):
    return runner.invoke(args=["users", "token", username]).stdout.strip().splitlines()[-1]


def test_only_reviewers_chase_and_nothing_outstanding_is_a_409(chase, runner, frozen_now):
    campaign, period, send = chase
    assert send(token=_token(runner, "xinhui"), body={"region_code": "4407", "period_id": period.id}).status_code == 403
    make_user("viewer", "viewer", "4407")
    assert send(token=_token(runner, "viewer")).status_code == 403
    assert send(body={"region_code": "440703", "period_id": period.id}).status_code == 409
    assert send(body={"region_code": "4407"}).status_code == 422
    assert send(body={"region_code": "4407", "period_id": 10 ** 20}).status_code == 404
    assert send(body=["4407"]).status_code == 400
    assert db.session.scalar(select(func.count(ReminderMessage.id))) == 0


def test_wecom_robot_gets_the_text_and_is_retried_on_errcode(chase, robot, runner):
    campaign, period, send = chase
    result = runner.invoke(args=["users", "webhook", "xinhui", "--kind", "wecom",
                                 "--url", f"{robot.url}/cgi-bin/webhook/send?key=abc"])
    assert result.exit_code == 0, result.output
    robot.script = [("errcode", 45009)]  # 接口调用超过限制: tried again
    body = send().get_json()
    xinhui = next(u for u in body["units"] if u["code"] == "440705")
    assert xinhui["channels"] == [{"kind": "wecom", "outcome": "sent", "attempts": 2, "error": ""}]
    assert len(robot.calls) == 2
    path, payload = robot.calls[-1]
    assert path == "/cgi-bin/webhook/send?key=abc"
    assert payload == {"msgtype": "text", "text": {"content": xinhui["text"],
                                                   "mentioned_mobile_list": ["13800000000"]}}


def test_dingtalk_robot_is_signed_and_failures_are_recorded(chase, robot, runner):
    campaign, period, send = chase
    secret = "SEC0123456789abcdef"
    runner.invoke(args=["users", "webhook", "taishan", "--kind", "dingtalk", "--url",
                        f"{robot.url}/robot/send?access_token=t", "--secret", secret, "--mobiles", "13900000001"])
    runner.invoke(args=["users", "webhook", "xinhui", "--kind", "dingtalk", "--url", f"{robot.url}/robot/send?access_token=x"])
    # taishan: a server error, then no answer in time, then errcode: three tries, failed
    robot.scripts["access_token=t"] = [("status", 500), ("sleep", 1.5), ("errcode", 310000)]
    body = send().get_json()
    taishan = next(u for u in body["units"] if u["code"] == "440781")
    channel = taishan["channels"][0]
    assert channel["kind"] == "dingtalk" and channel["outcome"] == "failed" and channel["attempts"] == 3
    assert channel["error"] == "对方拒绝（errcode 310000）"
    stored = db.session.scalar(select(Delivery).where(Delivery.outcome == "failed"))
    assert stored.attempts == 3
    path, payload = next(call for call in robot.calls if "access_token=t" in call[0])
    assert payload == {"msgtype": "text", "text": {"content": taishan["text"]},
                       "at": {"atMobiles": ["13900000001"], "isAtAll": False}}
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
    timestamp, sign = query["timestamp"][0], query["sign"][0]
    expected = base64.b64encode(hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(),
                                         hashlib.sha256).digest()).decode()
    assert sign == expected and abs(int(timestamp) - clock.wall_ms()) < 60_000
    xinhui = next(u for u in body["units"] if u["code"] == "440705")
    assert xinhui["channels"][0]["outcome"] == "sent"  # an unsigned robot needs no timestamp
    assert not any("sign=" in p for p, _ in robot.calls if "access_token=x" in p)


def test_timeouts_are_named(chase, robot, runner, app):
    campaign, period, send = chase
    app.config.update(WEBHOOK_ATTEMPTS=1)
    runner.invoke(args=["users", "webhook", "xinhui", "--kind", "wecom", "--url", f"{robot.url}/send?key=k"])
    robot.script = [("sleep", 1.5)]
    channel = next(u for u in send().get_json()["units"] if u["code"] == "440705")["channels"][0]
    assert channel["outcome"] == "failed" and channel["error"] == "超时"


def test_with_redis_the_queue_sends_and_retries(chase, robot, runner, app):
    if not redis_up():
        pytest.fail("Redis 未运行：redis-server --daemonize yes --port 6379（make test 会启动它）")
    from redis import Redis
    from rq import SimpleWorker

    from reporting.jobs import REMINDER_QUEUE, queue
    connection = Redis.from_url(REDIS)
    connection.flushdb()
    app.config["REDIS_URL"] = REDIS
    try:
        campaign, period, send = chase
        runner.invoke(args=["users", "webhook", "xinhui", "--kind", "wecom", "--url", f"{robot.url}/send?key=k"])
        robot.script = [("status", 502)]
        body = send().get_json()
        xinhui = next(u for u in body["units"] if u["code"] == "440705")
        assert xinhui["channels"][0]["outcome"] == "queued" and robot.calls == []  # not sent in the request
        jobs = queue(app, REMINDER_QUEUE)
        SimpleWorker([jobs], connection=connection).work(burst=True)
        db.session.expire_all()
        delivery = db.session.scalar(select(Delivery))
        assert (delivery.outcome, delivery.attempts) == ("sent", 2) and len(robot.calls) == 2
    finally:
        connection.flushdb()
        connection.close()


@pytest.mark.parametrize("moment", [m for m in MOMENTS if m.id in ("1st", "31-dec", "due-day-23h59",
                                                                    "spring-festival")])
def test_automatic_reminders_go_once_per_unit_even_with_two_workers(app, jiangmen, frozen_now, moment):
    """Two `flask reminders auto` processes at once, on the test database: one message per unit. The
    processes run on the test's clock (REPORTING_TODAY reaches them through the environment)."""
    now = frozen_now(moment)
    campaign, _ = create_campaign(name="江门市自动催报", root=jiangmen, start=now.date() - dt.timedelta(days=20),
                                  end=now.date() + dt.timedelta(days=90))
    period = next(p for p in campaign.periods if p.deadline > now)
    # chase from now on: the next deadline is within reach, the one after it is not
    campaign.auto_remind_hours = math.ceil((period.deadline - now).total_seconds() / 3600)
    db.session.commit()
    env = {**os.environ, "DATABASE_URL": PG_URL or app.config["SQLALCHEMY_DATABASE_URI"],
           "SECRET_KEY": "test", "PYTHONPATH": ROOT}
    env.pop("REDIS_URL", None)
    command = [sys.executable, "-m", "flask", "--app", "app", "reminders", "auto"]
    workers = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True) for _ in range(2)]
    outputs = [w.communicate(timeout=120) for w in workers]
    for worker, (out, err) in zip(workers, outputs):
        assert worker.returncode == 0, err
    sent = [int(out.strip().splitlines()[-1].split("：")[1].rstrip("条")) for out, _ in outputs]
    db.session.expire_all()
    rows = db.session.execute(select(ReminderMessage.region_id, func.count()).where(
        ReminderMessage.auto_period_id == period.id).group_by(ReminderMessage.region_id)).all()
    assert len(rows) == 7 and all(n == 1 for _, n in rows)  # every county chased once
    assert sorted(sent) == [0, 7]
    # and a third run later sends nothing more for this deadline
    again = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and again.stdout.strip().endswith("自动催报：0条")
    assert db.session.scalar(select(func.count(ReminderMessage.id))) == 7
    assert db.session.scalar(select(func.count(User.id))) == 0 and db.session.scalar(
        select(func.count(Webhook.id))) == 0


def test_a_dry_run_answers_the_same_texts_and_records_and_sends_nothing(chase, robot, runner):
    campaign, period, send = chase
    runner.invoke(args=["users", "webhook", "xinhui", "--kind", "wecom", "--url", f"{robot.url}/send?key=abc"])
    dry = send({"region_code": "4407", "period_id": period.id, "dry_run": True})
    body = dry.get_json()
    assert dry.status_code == 200 and body["dry_run"] is True
    xinhui = next(u for u in body["units"] if u["code"] == "440705")
    assert xinhui["outstanding"] == 23 and xinhui["contact"] == {"name": "xinhui", "phone": "13800000000"}
    assert [c["kind"] for c in xinhui["channels"]] == ["wecom"]  # the robot it would go to
    assert xinhui["channels"][0]["outcome"] == "not_sent"
    # nothing recorded, nothing queued, no robot called, nothing in the audit log
    assert db.session.scalar(select(func.count(Reminder.id))) == 0
    assert db.session.scalar(select(func.count(ReminderMessage.id))) == 0
    assert db.session.scalar(select(func.count(Delivery.id))) == 0
    assert robot.calls == []
    assert db.session.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.kind == "reminder.send")) == 0

    real = send().get_json()
    assert [(u["code"], u["name"], u["outstanding"], u["text"], u["contact"]) for u in real["units"]] == \
        [(u["code"], u["name"], u["outstanding"], u["text"], u["contact"]) for u in body["units"]]
    assert len(robot.calls) == 1
    assert send({"region_code": "4407", "period_id": period.id, "dry_run": "yes"}).status_code == 422
    assert send({"region_code": "440703", "period_id": period.id, "dry_run": True}).status_code == 409


def test_townships_are_addressed_as_their_government(chase, client, auth):
    campaign, period, send = chase
    towns = {u["code"]: u["text"] for u in send({"region_code": "440705", "period_id": period.id,
                                                 "dry_run": True}).get_json()["units"]}
    names = {code: region_by_code(code).name for code in towns}
    for code, text in towns.items():
        name = names[code]
        if name.endswith("镇"):
            assert text.startswith(f"【催报】{name}人民政府：第1期参保进度表"), text
        elif name.endswith("街道"):
            assert text.startswith(f"【催报】{name}办事处：第1期参保进度表"), text
        else:  # 圭峰区, 银湖湾, 工业园区…: no government of that kind, the unit's own name
            assert text.startswith(f"【催报】{name}：第1期参保进度表"), text
    assert any(name.endswith("镇") for name in names.values())


def test_a_town_that_files_for_itself_is_chased_as_itself(app, client, auth, runner, jiangmen, frozen_now):
    """Towns filing their own form (report level township, as in 宁河区): 大泽镇人民政府 尚未报送."""
    frozen_now(dt.datetime(2022, 10, 7, 9, 0))
    campaign, _ = create_campaign(name="新会区2023年度", root=region_by_code("440705"), start=dt.date(2022, 9, 1),
                                  end=dt.date(2022, 12, 31), first_due=dt.date(2022, 10, 1), report_level="township")
    period = campaign.periods[0]
    db.session.commit()
    make_user("jm_admin", "city_admin", "4407")  # its reviewer: the county files every town itself
    token = _token(runner, "jm_admin")
    units = client.post("/api/v1/reminders", json={"region_code": "440705", "period_id": period.id, "dry_run": True},
                        headers={"Authorization": f"Bearer {token}"}).get_json()["units"]
    dazhe = next(u for u in units if u["code"] == "440705101")
    assert dazhe["outstanding"] == 1
    assert dazhe["text"] == ("【催报】大泽镇人民政府：第1期参保进度表报送截止10月8日（还有1天），尚未报送，"
                             "请于截止前报送。江门市医疗保障局")
    auth.login("jm_admin")
    page = client.get(f"/reminders/440705?period={period.id}").get_data(as_text=True)
    assert "<li>大泽镇：未报送</li>" in page and "大泽镇：1个未报送" not in page


# --- robots only (SSRF) ------------------------------------------------------------------------------

PROBES = ["http://127.0.0.1:5399/hook", "http://127.0.0.1:6391/", "http://127.0.0.1:5432/", "http://169.254.169.254/latest",
          "http://[::1]:8080/", "https://169.254.169.254/", "https://10.0.0.8/send", "https://evil.example/send",
          "https://user:pw@qyapi.weixin.qq.com/cgi-bin/webhook/send", "http://qyapi.weixin.qq.com/cgi-bin/webhook/send",
          "https://qyapi.weixin.qq.com:8443/cgi-bin/webhook/send", "file:///etc/passwd", "gopher://127.0.0.1:6379/_"]


def test_a_robot_url_outside_the_rules_is_refused_at_entry(chase, client, runner, app):
    """The CLI exits non-zero in Chinese and the user page shows the form's error; nothing is stored."""
    admin = db.session.scalar(select(User).where(User.username == "admin"))
    xinhui = db.session.scalar(select(User).where(User.username == "xinhui"))
    client.post("/login", data={"username": "admin", "password": "correct-horse-battery"})
    for url in PROBES:
        result = runner.invoke(args=["users", "webhook", "xinhui", "--kind", "wecom", "--url", url])
        assert result.exit_code != 0 and "机器人地址" in result.output, (url, result.output)
        page = client.post(f"/admin/users/{xinhui.id}/webhooks", data={"kind": "wecom", "url": url},
                           follow_redirects=True)
        assert page.status_code == 200 and "机器人地址" in page.get_data(as_text=True), url
    assert db.session.scalar(select(func.count(Webhook.id))) == 0
    # the robots' own hosts go in, on either path
    ok = runner.invoke(args=["users", "webhook", "xinhui", "--kind", "wecom",
                             "--url", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc"])
    assert ok.exit_code == 0, ok.output
    page = client.post(f"/admin/users/{xinhui.id}/webhooks", follow_redirects=True,
                       data={"kind": "dingtalk", "url": "https://oapi.dingtalk.com/robot/send?access_token=t"})
    assert "已设置" in page.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Webhook.id))) == 2 and admin is not None


def test_the_local_robot_needs_both_the_listing_and_the_private_opt_in(chase, runner, app):
    """127.0.0.1 is refused at entry unless WEBHOOK_HOSTS lists it, and even listed it is refused
    without WEBHOOK_ALLOW_PRIVATE: at entry (an address written as such) and at send time."""
    robot = Robot()
    try:
        url = f"{robot.url}/send?key=k"
        refused = runner.invoke(args=["users", "webhook", "xinhui", "--kind", "wecom", "--url", url])
        assert refused.exit_code != 0 and "机器人地址" in refused.output
        app.config.update(WEBHOOK_HOSTS=f"http://127.0.0.1:{robot.server.server_port}", WEBHOOK_ALLOW_PRIVATE=False)
        refused = runner.invoke(args=["users", "webhook", "xinhui", "--kind", "wecom", "--url", url])
        assert refused.exit_code != 0 and "内部网络" in refused.output
        # a hook stored before these rules (or a host that now resolves inside): refused at send time
        db.session.add(Webhook(user=db.session.scalar(select(User).where(User.username == "xinhui")),
                               kind="wecom", url=url))
        db.session.commit()
        campaign, period, send = chase
        channel = next(u for u in send().get_json()["units"] if u["code"] == "440705")["channels"][0]
        assert channel["outcome"] == "failed" and channel["error"] == "地址不允许"
        assert robot.calls == []
    finally:
        robot.close()


def test_a_name_is_resolved_once_checked_and_connected_to_as_checked(chase, robot, runner, app, monkeypatch):
    """DNS rebinding: a listed name that resolves to a link-local or (without the opt-in) a private
    address is refused; one that passes is connected to at the address checked, with its name kept."""
    import socket
    port = robot.server.server_port
    answers = {"robot.bureau.test": "127.0.0.1", "meta.bureau.test": "169.254.169.254"}
    real = socket.getaddrinfo

    def fake(host, *args, **kwargs):
        if host in answers:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], port))]
        return real(host, *args, **kwargs)
    monkeypatch.setattr(socket, "getaddrinfo", fake)
    app.config.update(WEBHOOK_HOSTS=f"http://robot.bureau.test:{port}, http://meta.bureau.test:{port}")
    for name in ("robot", "meta"):
        assert runner.invoke(args=["users", "webhook", "xinhui" if name == "robot" else "taishan", "--kind", "wecom",
                                   "--url", f"http://{name}.bureau.test:{port}/send?key={name}"]).exit_code == 0
    campaign, period, send = chase
    units = {u["code"]: u for u in send().get_json()["units"]}
    assert units["440705"]["channels"][0]["outcome"] == "sent"
    assert units["440781"]["channels"][0]["error"] == "地址不允许"  # link-local, opt-in or not
    assert robot.hosts == [f"robot.bureau.test:{port}"] and len(robot.calls) == 1
    app.config.update(WEBHOOK_ALLOW_PRIVATE=False)
    units = {u["code"]: u for u in send().get_json()["units"]}
    assert units["440705"]["channels"][0]["error"] == "地址不允许" and len(robot.calls) == 1


def test_no_redirect_is_followed_and_no_remote_text_is_kept_or_shown(chase, robot, runner, client, app):
    """The robot's answers (a 302, an errmsg, a body that is not JSON, a closed connection) are stored and
    shown as a category only: what the other end said never reaches the delivery, the API or the page."""
    app.config.update(WEBHOOK_ATTEMPTS=1)
    secret = "INTERNAL-SECRET-DATA"
    runner.invoke(args=["users", "webhook", "xinhui", "--kind", "wecom", "--url", f"{robot.url}/a?key=1"])
    runner.invoke(args=["users", "webhook", "taishan", "--kind", "wecom", "--url", f"{robot.url}/b?key=2"])
    runner.invoke(args=["users", "webhook", "xinhui", "--kind", "dingtalk", "--url", f"{robot.url}/c?access_token=3"])
    robot.scripts = {"/a": [("redirect", f"{robot.url}/followed?{secret}")],
                     "/b": [("raw", json.dumps({"errcode": 93000, "errmsg": secret}).encode())],
                     "/c": [("raw", secret.encode() * 2000)]}
    campaign, period, send = chase
    units = {u["code"]: u for u in send().get_json()["units"]}
    errors = {c["kind"]: c["error"] for c in units["440705"]["channels"]}
    assert errors == {"wecom": "对方拒绝（HTTP 302）", "dingtalk": "对方拒绝（应答无法识别）"}
    assert units["440781"]["channels"][0]["error"] == "对方拒绝（errcode 93000）"
    assert not any("followed" in path for path, _ in robot.calls)  # the redirect was not followed
    assert all(secret not in d.error for d in db.session.scalars(select(Delivery)))
    listed = client.get(f"/api/v1/reminders?region_code=4407&period_id={period.id}",
                        headers={"Authorization": f"Bearer {_token(runner, 'admin')}"})
    assert listed.status_code == 200 and secret not in listed.get_data(as_text=True)
    client.post("/login", data={"username": "admin", "password": "correct-horse-battery"})
    page = client.get(f"/reminders/4407?period={period.id}").get_data(as_text=True)
    assert "对方拒绝（errcode 93000）" in page and secret not in page


def test_a_dropped_connection_is_a_failed_delivery_not_a_stuck_one(chase, robot, runner, app):
    """http.client.RemoteDisconnected and its kin are recorded as 发送失败（连接失败） after the tries."""
    runner.invoke(args=["users", "webhook", "xinhui", "--kind", "wecom", "--url", f"{robot.url}/send?key=k"])
    robot.script = [("drop",), ("drop",), ("drop",)]
    campaign, period, send = chase
    channel = next(u for u in send().get_json()["units"] if u["code"] == "440705")["channels"][0]
    assert channel == {"kind": "wecom", "outcome": "failed", "attempts": 3, "error": "连接失败"}
