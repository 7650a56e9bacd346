"""Moves the clock of every Python process that starts with this folder on PYTHONPATH: pytest and each
process it spawns start at TRAVEL_TO (ISO date or time) and tick from there. `make test-travel
TRAVEL_TO=2027-03-15` runs the suite so, to show that nothing reads the machine's date past
reporting/clock.py."""
import os

if os.environ.get("TRAVEL_TO"):
    import time_machine

    _travel = time_machine.travel(os.environ["TRAVEL_TO"], tick=True)
    _travel.start()
