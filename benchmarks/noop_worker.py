"""The raw Celery baseline: LLMOS's broker settings, threads pool, and a task that does nothing but reply.

python -m benchmarks.noop_worker HOSTNAME      (REDIS_URL, WORKER_CONCURRENCY from the environment)
"""

from __future__ import annotations

import sys

import redis
from celery import shared_task

from workers.app import create_app
from workers.queues import QUEUE_ORDER
from workers.replybus import RedisReplyBus
from workers.settings import load_settings

NOOP = "bench.noop"
_bus: RedisReplyBus | None = None


@shared_task(name=NOOP, acks_late=True, ignore_result=True)  # type: ignore[untyped-decorator]
def noop(stream: str) -> None:
    assert _bus is not None
    _bus.publish(stream, {"type": "done", "text": ""})


def main(hostname: str) -> None:
    global _bus  # noqa: PLW0603 - one bus per worker process
    settings = load_settings()
    assert settings.redis_url, "REDIS_URL must be set"
    _bus = RedisReplyBus(redis.Redis.from_url(settings.redis_url))
    app = create_app(settings, broker_url=settings.redis_url)
    app.worker_main(
        [
            "worker",
            "--pool",
            "threads",
            "--concurrency",
            str(settings.worker_concurrency),
            "--queues",
            ",".join(str(q) for q in QUEUE_ORDER),
            "--loglevel",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
            "--hostname",
            hostname,
        ]
    )


if __name__ == "__main__":
    main(sys.argv[1])
