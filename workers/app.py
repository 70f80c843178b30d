"""The Celery application. Configured by the entry point (`configure`), never from import side effects."""

from __future__ import annotations

import warnings
from typing import Any

from celery import Celery
from celery.exceptions import CPendingDeprecationWarning
from kombu.entity import Queue as KombuQueue

from workers.queues import DEFAULT_PRIORITY, QUEUE_ORDER, Queue
from workers.settings import Settings


def celery_config(settings: Settings, *, broker_url: str) -> dict[str, Any]:
    visibility = settings.broker_visibility_timeout
    return {
        "broker_url": broker_url,
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": {
            "priority_steps": list(range(10)),
            "sep": ":",
            "queue_order_strategy": "priority",
            # A message a dead worker held comes back after `visibility_timeout`: sweep for such
            # messages a few times per timeout (kombu's default sweep is every ~100 s), and let the
            # sweep lock lapse soon if the worker holding it was killed.
            "visibility_timeout": visibility,
            "unacked_restore_interval": max(1, min(60, visibility // 4)),
            "unacked_restore_throttle": 1,
            "unacked_mutex_expire": max(5, min(300, visibility)),
            **({"global_keyprefix": settings.redis_key_prefix} if settings.redis_key_prefix else {}),
            # The in-process broker polls its queues; kombu's default second between polls would be
            # most of an answer's latency.
            **({"polling_interval": 0.02} if broker_url.startswith("memory") else {}),
        },
        "task_queues": [KombuQueue(str(q), routing_key=str(q)) for q in QUEUE_ORDER],
        "task_default_queue": str(Queue.DEFAULT),
        "task_default_priority": DEFAULT_PRIORITY,
        "task_serializer": "json",
        "accept_content": ["json"],
        "task_ignore_result": True,
        # Acknowledge after the answer is stored, put the task back if the worker dies, and take one
        # message at a time so a late high-priority message is not stuck behind prefetched ones.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        # A broker that restarts must not cancel answers in flight: the ledger's lease and fence already
        # make a redelivered message harmless, and a cancelled thread would leave its answer half-shown.
        "worker_cancel_long_running_tasks_on_connection_loss": False,
        "worker_hijack_root_logger": False,
        "worker_send_task_events": settings.celery_task_events,
        "task_send_sent_event": settings.celery_task_events,
    }


# Celery warns at every reconnection that cancelling will become its default; LLMOS chose not to cancel.
warnings.filterwarnings(
    "ignore", message="(?s).*cancels all currently executed tasks", category=CPendingDeprecationWarning
)


def create_app(settings: Settings, *, broker_url: str) -> Celery:
    """One Celery app per process (per stack in tests); the task is a shared task bound to it."""
    app = Celery("llmos", set_as_current=True, include=["workers.tasks", "workers.scheduler.notify"])
    app.conf.update(celery_config(settings, broker_url=broker_url))
    app.set_default()
    import workers.scheduler.notify
    import workers.tasks  # noqa: F401 - registers the shared tasks on this app

    return app
