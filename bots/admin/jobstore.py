"""Hooks and jobs in the database: register a hook, take a job in once, read it back."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bots.admin.jobs import JobRequest, event_for
from bots.admin.sealing import SecretBox
from db import events
from db.admin import Delivery, InboundHook, Job
from db.models import Tenant, Usage, utcnow
from workers.events import Attachment, Event
from workers.intake import HTTP_STATUS, Enqueue, Turned, hand_over

log = logging.getLogger(__name__)


def create_hook(session: Session, *, tenant_id: int, name: str, box: SecretBox) -> tuple[InboundHook, str]:
    """A new hook; its secret is returned once and stored sealed."""
    secret = secrets.token_urlsafe(32)
    hook = InboundHook(tenant_id=tenant_id, name=name, secret=box.seal(secret))
    session.add(hook)
    session.flush()
    return hook, secret


def hooks_of(session: Session, *, tenant_id: int) -> list[InboundHook]:
    return list(session.scalars(select(InboundHook).where(InboundHook.tenant_id == tenant_id).order_by(InboundHook.id)))


def active_hook(session: Session, *, hook_id: int) -> InboundHook | None:
    hook = session.get(InboundHook, hook_id)
    return hook if hook is not None and hook.disabled_at is None else None


def hook_view(hook: InboundHook) -> dict[str, Any]:
    return {
        "id": hook.id,
        "tenant_id": hook.tenant_id,
        "name": hook.name,
        "url": f"/hooks/{hook.id}/jobs",
        "created_at": hook.created_at.isoformat(),
        "disabled": hook.disabled_at is not None,
    }


@dataclass(frozen=True, slots=True)
class Taken:
    """What the hook answers: HTTP status and the job (or the reason it was not taken)."""

    status: int
    body: dict[str, Any]


def _find(session: Session, *, tenant_id: int, job_id: str) -> Job | None:
    return session.scalars(select(Job).where(Job.tenant_id == tenant_id, Job.job_id == job_id)).first()


def take(
    request: JobRequest,
    *,
    job_id: str,
    hook: InboundHook,
    sessions: sessionmaker[Session],
    enqueue: Enqueue,
    attachments: tuple[Attachment, ...] = (),
) -> Taken:
    """Store the job once and queue its event; the same job id again answers with the job as it is."""
    with sessions.begin() as session:
        tenant = session.get(Tenant, hook.tenant_id)
        assert tenant is not None  # the hook row cascades with its tenant
        event = event_for(
            request,
            job_id=job_id,
            tenant_platform=tenant.platform,
            tenant_external=tenant.external_id,
            tenant_name=tenant.name,
            hook_name=hook.name,
            attachments=attachments,
        )
        created = (
            _find(session, tenant_id=hook.tenant_id, job_id=job_id) is None
            and _insert(session, request, event=event, job_id=job_id, hook=hook) is not None
        )
    if not created:
        return _repeat(request, job_id=job_id, hook=hook, event=event, sessions=sessions, enqueue=enqueue)
    return _submit(event, job_id=job_id, tenant_id=hook.tenant_id, sessions=sessions, enqueue=enqueue)


def _insert(session: Session, request: JobRequest, *, event: Event, job_id: str, hook: InboundHook) -> Job | None:
    row = Job(
        tenant_id=hook.tenant_id,
        hook_id=hook.id,
        job_id=job_id,
        event_key=event.key,
        skill=request.skill,
        input=request.input,
        args={**request.args(), **({"instructions": request.instructions} if request.instructions else {})},
        destination=request.destination.model_dump(exclude_none=True),
        priority=str(request.priority),
        status="queued",
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return None  # the same job id arrived at the same moment from another request
    return row


def _repeat(
    request: JobRequest,
    *,
    job_id: str,
    hook: InboundHook,
    event: Event,
    sessions: sessionmaker[Session],
    enqueue: Enqueue,
) -> Taken:
    with sessions.begin() as session:
        job = _find(session, tenant_id=hook.tenant_id, job_id=job_id)
        if job is None:
            # The event key (platform "admin", tenant id, job id) is taken by a tenant of another
            # platform with the same external id: a clash the caller avoids with another job id.
            return Taken(409, {"detail": f"job id {job_id!r} clashes with an existing job; choose another id"})
        if not request.same_job(skill=job.skill, input_text=job.input, destination=job.destination):
            return Taken(409, {"detail": f"job id {job_id!r} was already used for a different job"})
        # Stored but never queued (the process stopped in between), or turned away by access rules
        # that may have changed since: nothing of it reached the task path, so send it now.
        again = job.status in {"queued", "refused"} and events.status_of(session, key=job.event_key) is None
        if again:
            job.status, job.error, job.finished_at = "queued", None, None
        body = {**view(session, job), "duplicate": True}
    if again:
        log.info("job %s had not reached the queue; sending it now", job_id)
        return _submit(event, job_id=job_id, tenant_id=hook.tenant_id, sessions=sessions, enqueue=enqueue)
    return Taken(202, body)


def _submit(event: Event, *, job_id: str, tenant_id: int, sessions: sessionmaker[Session], enqueue: Enqueue) -> Taken:
    handed = hand_over(event, sessions=sessions, enqueue=enqueue)
    if handed.turned is not None:
        status = "refused" if handed.turned is Turned.REFUSED else "failed"
        _settle(sessions, tenant_id=tenant_id, job_id=job_id, status=status, error=handed.message)
        return Taken(HTTP_STATUS[handed.turned], {"detail": handed.message, "id": job_id})
    with sessions() as session:
        job = _find(session, tenant_id=tenant_id, job_id=job_id)
        assert job is not None
        return Taken(202, view(session, job))


def _settle(sessions: sessionmaker[Session], *, tenant_id: int, job_id: str, status: str, error: str) -> None:
    with sessions.begin() as session:
        session.execute(
            update(Job)
            .where(Job.tenant_id == tenant_id, Job.job_id == job_id)
            .values(status=status, error=error, finished_at=utcnow())
        )


def find(session: Session, *, tenant_id: int, job_id: str) -> Job | None:
    return _find(session, tenant_id=tenant_id, job_id=job_id)


def jobs_of(session: Session, *, tenant_id: int, limit: int = 100, status: str | None = None) -> list[Job]:
    query = select(Job).where(Job.tenant_id == tenant_id)
    if status:
        query = query.where(Job.status == status)
    return list(session.scalars(query.order_by(Job.id.desc()).limit(limit)))


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def view(session: Session, job: Job) -> dict[str, Any]:
    """A job as the API shows it: status, result, usage and how its callback delivery went."""
    used = session.scalars(select(Usage).where(Usage.event_key == job.event_key)).first()
    callback = session.scalars(select(Delivery).where(Delivery.job_id == job.id).order_by(Delivery.id.desc())).first()
    return {
        "id": job.job_id,
        "tenant_id": job.tenant_id,
        "hook_id": job.hook_id,
        "skill": job.skill,
        "priority": job.priority,
        "destination": job.destination,
        "status": job.status,
        "result": job.result,
        "error": job.error,
        "delivery_error": job.delivery_error,
        "usage": None
        if used is None
        else {"prompt_tokens": used.prompt_tokens, "completion_tokens": used.completion_tokens, "model": used.model},
        "callback": None
        if callback is None
        else {"status": callback.status, "attempts": callback.attempts, "last_status": callback.last_status},
        "created_at": _iso(job.created_at),
        "started_at": _iso(job.started_at),
        "finished_at": _iso(job.finished_at),
    }
