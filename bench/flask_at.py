"""`flask` with the server clock set to BENCH_NOW (ISO date-time), for the benchmark only.

The benchmark's campaign lies in 2022/23, which the server treats as closed today, so
`flask reports import` would refuse it. This runs the very same entry point as the `flask`
script (flask.cli.main) with `reporting.clock.now` fixed to a moment inside the period, the
way the tests freeze the clock. Without BENCH_NOW it is exactly `flask`.
"""
import datetime as dt
import os
import sys

if __name__ == "__main__":
    sys.path.insert(0, os.getcwd())  # the project root, as `flask --app app` would find it
    moment = os.environ.get("BENCH_NOW")
    if moment:
        from reporting import clock
        frozen = dt.datetime.fromisoformat(moment)
        clock.now = lambda: frozen
    sys.argv[0] = "flask"
    from flask.cli import main
    sys.exit(main())
