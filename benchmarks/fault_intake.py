"""An intake process that dies between its SQL commit and the enqueue, with the real intake code.

    python -m benchmarks.fault_intake DATABASE_URL < events.jsonl

Each line is an event (`Event.to_dict()`). For each one a forked child calls `workers.intake.submit`
with an enqueue that exits the process at once (`os._exit(137)`, what SIGKILL leaves): the message
and its key are committed, nothing is queued. One line per event goes to stdout: its key and how the
child ended.
"""

from __future__ import annotations

import json
import os
import sys
import traceback

from db.session import make_engine, make_sessionmaker
from workers.events import Event
from workers.intake import submit

KILLED = 137


def die(_event: Event) -> None:
    os._exit(KILLED)


def submit_and_die(database_url: str, event: Event) -> int:
    """Run one submission in a child process; its exit code (137 when it died at the enqueue)."""
    pid = os.fork()
    if pid == 0:
        try:
            submit(event, sessions=make_sessionmaker(make_engine(database_url)), enqueue=die)
        except Exception:
            traceback.print_exc()
        os._exit(1)  # reached only when submit returned or raised before the enqueue
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def main(database_url: str) -> None:
    for line in sys.stdin:
        if line.strip():
            event = Event.from_dict(json.loads(line))
            code = submit_and_die(database_url, event)
            print(json.dumps({"key": event.key, "exit": code}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
