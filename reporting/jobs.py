"""Background jobs on Redis (RQ): issuing a circular renders its PDF outside the request, and 催报
deliveries to group robots are tried again later. The features own their jobs (circulars.run_issue,
reminders.run_delivery); this module holds the queues, runs a job in an app of its own, and reads
a job's state.

Without REDIS_URL (the SQLite demo) the same work runs at once, inside the request, and so it does
while Redis is unreachable (the outage is logged once a minute). A job whose worker died (kill -9)
is failed by RQ's started-job registry once its heartbeat lapses (at most ISSUE_TIMEOUT, usually
about 90 seconds), and its page then offers 重新签发.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator, Optional

from flask import Flask, current_app

from reporting import outages
from reporting.extensions import db

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


#: what makes an app for a job (app.create_app, registered by every app it makes: the worker's own,
#: started by `flask jobs worker`, and the web's)
_factory: Optional[Callable[[dict], Flask]] = None


def use_factory(factory: Callable[[dict], Flask]) -> None:
    global _factory
    _factory = factory


@contextmanager
def job_app(config: dict) -> Iterator[Flask]:
    """A fresh app for one job, configured as the app that queued it (its database above all),
    with its context pushed; its connections are closed after the job rather than left to the GC."""
    if _factory is None:
        raise RuntimeError("后台任务进程未初始化：请用 flask --app app jobs worker 启动")
    app = _factory(config)
    with app.app_context():
        try:
            yield app
        finally:
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
