"""gunicorn's settings for the site, read from the project directory: `gunicorn 'app:create_app()'`.

Only what the site needs of every deployment is set here; workers, binding and timeouts stay on the
command line (docs/deployment.md)."""
import gc


def post_worker_init(worker):
    """Warm the worker, then freeze what it holds for good.

    A worker's long-lived objects (modules, the app, its compiled templates, the mappers) are made
    once and live as long as the worker. Python's collector still walks every one of them on each
    full collection: about 180,000 objects, a quarter of a filing grid page's CPU in-process
    (bench/LOAD.md, sixth round).
    Compiled and frozen before the first request, they are left out of collections from then on."""
    from app import warm_up

    warm_up(worker.wsgi)
    gc.collect()
    gc.freeze()
