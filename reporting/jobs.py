"""Background jobs on Redis (RQ): issuing a circular renders its PDF outside the request.

Without REDIS_URL (the SQLite demo) the same work runs at once, inside the request.
"""
from __future__ import annotations

from typing import Optional

from flask import Flask, current_app

QUEUE = "circulars"
#: 催报 deliveries to group robots
REMINDER_QUEUE = "reminders"
#: the steps a circular job reports, in order
STEPS = {"queued": "排队中", "rollup": "汇总数据", "render": "排版PDF", "done": "已完成", "failed": "失败"}


def queue(app: Optional[Flask] = None, name: str = QUEUE):
    """The job queue, or None when no Redis is configured."""
    app = app or current_app
    url = app.config.get("REDIS_URL")
    if not url:
        return None
    from redis import Redis
    from rq import Queue
    return Queue(name, connection=Redis.from_url(url), default_timeout=1800)


def enqueue_issue(circular_id: int, user_id: Optional[int], mode: Optional[str] = None) -> Optional[str]:
    """Queue the issue of a circular; the job id, or None when there is no queue."""
    jobs = queue()
    if jobs is None:
        return None
    job = jobs.enqueue(run_issue, circular_id, user_id,
                       {"SQLALCHEMY_DATABASE_URI": current_app.config["SQLALCHEMY_DATABASE_URI"]}, mode,
                       meta={"step": "queued"}, result_ttl=3600, failure_ttl=86400)
    return job.id


def run_issue(circular_id: int, user_id: Optional[int], config: dict, mode: Optional[str] = None) -> str:
    """The job: issue the circular in a fresh app, reporting each step in the job's meta."""
    from rq import get_current_job

    from app import create_app

    from .circulars import issue
    from .extensions import db
    from .models import Circular, User
    job = get_current_job()

    def step(name: str) -> None:
        if job is not None:
            job.meta["step"] = name
            job.save_meta()
    app = create_app(config)
    with app.app_context():
        try:
            circular = db.session.get(Circular, circular_id)
            user = db.session.get(User, user_id) if user_id else None
            if circular.status != "issued":
                issue(circular, user, step, mode)
                db.session.commit()
            step("done")
            return circular.doc_number
        finally:
            # the app lives for this job only: close its connections rather than leave them to the GC
            db.session.remove()
            db.engine.dispose()


def status(job_id: str) -> dict:
    """{step, label, finished, failed, error} of a queued job."""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job
    try:
        job = Job.fetch(job_id, connection=queue().connection)
    except NoSuchJobError:
        return {"step": "failed", "label": STEPS["failed"], "finished": False, "failed": True,
                "error": "任务已过期或不存在"}
    failed = job.is_failed
    step = "failed" if failed else job.meta.get("step", "queued")
    return {"step": step, "label": STEPS.get(step, step), "finished": job.is_finished, "failed": failed,
            "error": (job.latest_result().exc_string.strip().splitlines()[-1]
                      if failed and job.latest_result() else "")}


def run_delivery(delivery_id: int, config: dict) -> str:
    """The job: one try of a 催报 to a group robot; a failure raises, so that RQ retries it."""
    from rq import get_current_job

    from app import create_app

    from .extensions import db
    from .reminders import _settings, deliver_one
    job = get_current_job()
    app = create_app(config)
    with app.app_context():
        try:
            last_try = job is None or not job.retries_left
            if not deliver_one(delivery_id, last_try, _settings(app)[1]):
                raise RuntimeError(f"催报发送失败（{delivery_id}）")
            return "sent"
        finally:
            db.session.remove()
            db.engine.dispose()
