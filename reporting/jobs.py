"""Background jobs on Redis (RQ): issuing a circular renders its PDF outside the request.

Without REDIS_URL (the SQLite demo) the same work runs at once, inside the request, and so it does
while Redis is unreachable (the outage is logged once a minute). A job whose worker died (kill -9)
is failed by RQ's started-job registry once its heartbeat lapses (at most ISSUE_TIMEOUT, usually
about 90 seconds), and its page then offers 重新签发.
"""
from __future__ import annotations

from typing import Optional

from flask import Flask, current_app

from . import outages

QUEUE = "circulars"
#: 催报 deliveries to group robots
REMINDER_QUEUE = "reminders"
#: the longest a circular's typesetting may take before RQ stops it (and a dead worker's job is failed)
ISSUE_TIMEOUT = 600
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
    return Queue(name, connection=Redis.from_url(url, socket_connect_timeout=1, socket_timeout=5),
                 default_timeout=1800)


def enqueue_issue(circular_id: int, user_id: Optional[int], mode: Optional[str] = None) -> Optional[str]:
    """Queue the issue of a circular; the job id, or None when there is no queue (no REDIS_URL, or
    Redis unreachable): the caller then issues it inside the request."""
    from redis.exceptions import RedisError
    jobs = queue()
    if jobs is None:
        return None
    try:
        job = jobs.enqueue(run_issue, circular_id, user_id,
                           {"SQLALCHEMY_DATABASE_URI": current_app.config["SQLALCHEMY_DATABASE_URI"]}, mode,
                           meta={"step": "queued"}, result_ttl=3600, failure_ttl=86400, job_timeout=ISSUE_TIMEOUT)
    except RedisError as error:
        outages.report("Redis（任务队列）", error)
        return None
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
    """{step, label, finished, failed, error} of a queued job. A job left started by a worker that
    died is failed here once RQ's registry says its heartbeat lapsed; with Redis unreachable, or no
    queue at all, the job counts as failed, so that the page offers 重新签发."""
    from redis.exceptions import RedisError
    from rq.exceptions import NoSuchJobError
    from rq.job import Job
    from rq.registry import StartedJobRegistry

    def failed_with(error: str) -> dict:
        return {"step": "failed", "label": STEPS["failed"], "finished": False, "failed": True, "error": error}
    jobs = queue()
    if jobs is None:
        return failed_with("后台任务队列未配置")
    try:
        # abandoned jobs (their worker killed) move to the failed registry once their heartbeat lapses
        StartedJobRegistry(jobs.name, connection=jobs.connection).cleanup()
        job = Job.fetch(job_id, connection=jobs.connection)
    except NoSuchJobError:
        return failed_with("任务已过期或不存在")
    except RedisError as error:
        outages.report("Redis（任务队列）", error)
        return failed_with("后台任务队列暂不可用")
    failed = job.is_failed
    step = "failed" if failed else job.meta.get("step", "queued")
    return {"step": step, "label": STEPS.get(step, step), "finished": job.is_finished, "failed": failed,
            "error": _failure(job) if failed else ""}


def _failure(job) -> str:
    """Why a job failed, in Chinese: a worker that died leaves no traceback, only RQ's note."""
    result = job.latest_result()
    text = result.exc_string.strip().splitlines()[-1] if result and result.exc_string else ""
    if not text or "AbandonedJobError" in text:
        return "后台任务中断（处理进程已停止）"
    return text


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
