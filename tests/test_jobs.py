"""Issuing a circular through the job queue on Redis, with its progress shown, and without Redis."""

from sqlalchemy import select

from reporting.extensions import db
from reporting.models import Circular

from .conftest import make_user


def test_issue_runs_in_a_worker_and_shows_its_steps(jobs_app, client, auth, suzhou):
    campaign, city = suzhou
    make_user("admin", "city_admin", "3413")
    auth.login("admin")
    client.post("/circulars/", data={"region": "3413", "period": campaign.periods[1].id})
    circular = db.session.scalar(select(Circular))
    answer = client.post(f"/circulars/{circular.id}/issue", headers={"HX-Request": "true"})
    html = answer.get_data(as_text=True)
    assert "正在印发" in html and "排队中" in html and 'hx-trigger="every 1s"' in html
    db.session.expire_all()
    assert db.session.get(Circular, circular.id).status == "draft"  # nothing rendered in the request
    page = client.get(f"/circulars/{circular.id}/job").get_data(as_text=True)
    assert "<html" in page and "正在印发" in page

    from rq import SimpleWorker

    from reporting.jobs import queue
    jobs = queue(jobs_app)
    SimpleWorker([jobs], connection=jobs.connection).work(burst=True)

    done = client.get(f"/circulars/{circular.id}/job", headers={"HX-Request": "true"})
    assert done.status_code == 204 and done.headers["HX-Redirect"] == f"/circulars/{circular.id}"
    db.session.expire_all()
    issued = db.session.get(Circular, circular.id)
    assert issued.status == "issued" and issued.doc_number == "宿医保〔2022〕1号"
    assert issued.pdf.startswith(b"%PDF")


def test_without_redis_the_issue_happens_in_the_request(app, client, auth, suzhou):
    campaign, city = suzhou
    assert not app.config.get("REDIS_URL")
    make_user("admin", "city_admin", "3413")
    auth.login("admin")
    client.post("/circulars/", data={"region": "3413", "period": campaign.periods[1].id})
    circular = db.session.scalar(select(Circular))
    answer = client.post(f"/circulars/{circular.id}/issue")
    assert answer.status_code == 303 and answer.headers["Location"] == f"/circulars/{circular.id}"
    db.session.expire_all()
    assert db.session.get(Circular, circular.id).status == "issued"


def test_worker_command_needs_redis(runner, app):
    result = runner.invoke(args=["jobs", "worker", "--burst"])
    assert result.exit_code != 0 and "REDIS_URL" in result.output


def test_an_issue_whose_worker_died_shows_failed_with_reissue(jobs_app, client, auth, suzhou):
    """The worker killed (kill -9) during a 签发: simulated by leaving its job STARTED in RQ's started-job
    registry with a heartbeat that lapsed, as a dead worker leaves it (a real kill needs the ~90 s of
    heartbeat to lapse). The page says 失败 and offers 重新签发, which queues the issue again."""
    campaign, city = suzhou
    make_user("admin", "city_admin", "3413")
    auth.login("admin")
    client.post("/circulars/", data={"region": "3413", "period": campaign.periods[1].id})
    circular = db.session.scalar(select(Circular))
    client.post(f"/circulars/{circular.id}/issue", headers={"HX-Request": "true"})
    db.session.expire_all()
    job_id = db.session.get(Circular, circular.id).job_id

    from rq.job import Job, JobStatus
    from rq.registry import StartedJobRegistry

    from reporting.jobs import ISSUE_TIMEOUT, queue
    jobs = queue(jobs_app)
    job = Job.fetch(job_id, connection=jobs.connection)
    assert job.timeout == ISSUE_TIMEOUT  # bounded: RQ stops a hung typesetting too
    jobs.remove(job)  # a worker took it ...
    job.set_status(JobStatus.STARTED)
    job.meta["step"] = "render"
    job.save_meta()
    registry = StartedJobRegistry(jobs.name, connection=jobs.connection)
    jobs.connection.zadd(registry.key, {f"{job.id}:dead-execution": 1})  # ... and its heartbeat lapsed long ago
    waiting = client.get(f"/circulars/{circular.id}/job", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "印发失败" in waiting and "中断" in waiting and "重新签发" in waiting
    assert 'hx-trigger="every 1s"' not in waiting  # no more polling of a dead job

    again = client.post(f"/circulars/{circular.id}/issue", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "排队中" in again
    db.session.expire_all()
    assert db.session.get(Circular, circular.id).job_id not in (None, job_id)
