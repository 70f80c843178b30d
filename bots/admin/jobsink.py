"""The reply sink of platform "admin": a webhook job's answer goes to its job row and its destination.

The answer is kept on the job whatever happens to the destination, so the caller can always read it
back. A Slack or Discord destination is that platform's own sink, found in the registry with an event
for that channel, and the answer streams into it as into any chat. A callback URL gets the finished
job as a signed POST, through the delivery outbox (retried with backoff by the admin service).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bots.admin import jobstore
from bots.admin.destinations import DestinationRefused, Unverifiable, refusal_for
from db import notices
from db.admin import Delivery, Job
from db.models import utcnow
from workers.events import Event, Platform
from workers.sinks import ReplySink

if TYPE_CHECKING:
    from workers.runtime import Runtime

log = logging.getLogger(__name__)

_PLATFORMS = {"slack": Platform.SLACK, "discord": Platform.DISCORD}


def destination_event(event: Event, destination: Mapping[str, Any]) -> Event:
    """The event a Slack or Discord sink needs to post the job's answer in the destination channel."""
    thread = destination.get("thread")
    return Event(
        platform=_PLATFORMS[destination["type"]],
        tenant=event.tenant,
        channel=destination["channel"],
        thread=thread or event.thread,
        user=event.user,
        message_id=event.message_id,
        text=event.text,
        kind=event.kind,
        priority=event.priority,
        user_name=event.user_name,
        tenant_name=event.tenant_name,
        ref=_platform_ref(destination["type"], event.tenant, destination),
    )


def _platform_ref(kind: str, tenant: str, destination: Mapping[str, Any]) -> dict[str, Any]:
    """The platform ids each sink reads from `Event.ref`, for a post that answers nobody in particular."""
    channel, thread = str(destination["channel"]), destination.get("thread")
    if kind == "slack":
        from bots.slack.ref import ReplyMode, SlackRef

        mode = ReplyMode.THREAD if thread else ReplyMode.CHANNEL
        return SlackRef(mode=mode, team=tenant, channel=channel, user="", thread_ts=thread).to_dict()
    # Discord: a thread is a channel of its own; the job's answer replies to no message.
    return {"channel_id": str(thread or channel), "guild_id": tenant}


class JobSink:
    def __init__(self, *, event: Event, runtime: Runtime) -> None:
        self._event = event
        self._sessions = runtime.sessions
        self._destination: dict[str, Any] = dict(event.ref.get("destination") or {})
        self._inner: ReplySink | None = None
        self._inner_error: str | None = None
        if self._destination.get("type") in _PLATFORMS:
            try:
                inner = runtime.sinks.for_event(destination_event(event, self._destination), runtime)
                # Asked again here, where the answer is sent: the channel may have moved since intake.
                refusal = refusal_for(inner, tenant=event.tenant, destination=self._destination)
                if refusal:
                    raise DestinationRefused(refusal)
                self._inner = inner
            except Exception as exc:
                self._drop(exc)

    def _drop(self, exc: Exception) -> None:
        """The destination failed: stop using it, remember why; the answer still goes to the job."""
        kind = self._destination.get("type")
        log.warning("job %s: %s destination failed: %s", self._event.key, kind, exc)
        self._inner_error = f"{kind}: {type(exc).__name__}: {exc}"[:2000]
        self._inner = None

    def start(self, *, resume_ref: str | None) -> str:
        with self._sessions.begin() as session:
            session.execute(
                update(Job)
                .where(Job.event_key == self._event.key, Job.status != "completed")
                .values(status="running", started_at=utcnow())
            )
        if self._inner is not None:
            try:
                return self._inner.start(resume_ref=resume_ref)
            except Exception as exc:
                self._drop(exc)
        return resume_ref or f"job:{self._event.message_id}"

    def append(self, text: str) -> None:
        if self._inner is not None:
            try:
                self._inner.append(text)
            except Exception as exc:
                self._drop(exc)

    def finish(self, text: str) -> None:
        if self._inner is not None:
            try:
                self._inner.finish(text)
            except Exception as exc:
                self._drop(exc)
        self._record(status="completed", result=text, error=None)

    def fail(self, message: str) -> None:
        if self._inner is not None:
            try:
                self._inner.fail(message)
            except Exception as exc:
                self._drop(exc)
        self._record(status="failed", result=None, error=message)

    def _record(self, *, status: str, result: str | None, error: str | None) -> None:
        kind = notices.JOB_COMPLETED if status == "completed" else notices.JOB_FAILED
        with self._sessions.begin() as session:
            job = session.scalars(select(Job).where(Job.event_key == self._event.key)).first()
            if job is None:
                log.error("job for event %s is gone; its answer is only in the conversation", self._event.key)
                return
            if job.status == status == "completed":
                return  # a redelivery showing the stored answer again: the job already has it
            job.status, job.result, job.error = status, result, error
            job.delivery_error = self._inner_error
            job.finished_at = utcnow()
            session.flush()
            shown = jobstore.view(session, job)
            notices.emit(
                session,
                kind=kind,
                tenant_id=job.tenant_id,
                data={k: shown[k] for k in ("id", "hook_id", "skill", "status", "error", "delivery_error", "usage")},
            )
            if self._destination.get("type") == "callback":
                self._outbox(session, job, kind=kind, shown=shown)

    def _outbox(self, session: Session, job: Job, *, kind: str, shown: dict[str, Any]) -> None:
        shown.pop("callback", None)
        payload = {"type": kind, "job": shown}
        try:
            with session.begin_nested():
                session.add(
                    Delivery(
                        tenant_id=job.tenant_id,
                        job_id=job.id,
                        kind=kind,
                        url=str(self._destination["url"]),
                        payload=payload,
                        next_attempt_at=time.time(),
                    )
                )
        except IntegrityError:
            log.info("job %s: %s callback already queued", job.job_id, kind)


def job_sink(event: Event, runtime: Runtime) -> JobSink:
    return JobSink(event=event, runtime=runtime)


class RuntimeCheck:
    """The intake's destination check, through the same sinks the answer would be sent with."""

    def __init__(self, runtime: Callable[[], Runtime | None]) -> None:
        self._runtime = runtime

    def refusal(self, *, tenant: str, destination: Mapping[str, Any]) -> str | None:
        runtime = self._runtime()
        if runtime is None:
            raise Unverifiable("no worker runtime in this process")
        probe = Event(
            platform=Platform.ADMIN,
            tenant=tenant,
            channel=str(destination.get("channel") or "-"),
            thread="job-check",
            user="hook-check",
            message_id="check",
            text="",
        )
        sink = runtime.sinks.for_event(destination_event(probe, destination), runtime)
        return refusal_for(sink, tenant=tenant, destination=destination)
