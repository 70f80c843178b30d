"""Jobs as an admin sees them: a tenant's jobs and one job's status, result, usage and callback."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status

from bots.admin import jobstore
from bots.admin.deps import Caller, Svc, tenant_row

router = APIRouter(tags=["hooks and jobs"])


@router.get("/api/tenants/{tenant_id}/jobs", summary="A tenant's jobs, newest first")
def list_jobs(
    tenant_id: int,
    svc: Svc,
    caller: Caller,
    job_status: Annotated[str | None, Query(alias="status")] = None,
    limit: int = Query(100, ge=1, le=1000),
) -> list[dict[str, Any]]:
    with svc.sessions() as session:
        tenant_row(session, caller, tenant_id)
        rows = jobstore.jobs_of(session, tenant_id=tenant_id, limit=limit, status=job_status)
        return [jobstore.view(session, job) for job in rows]


@router.get("/api/tenants/{tenant_id}/jobs/{job_id}", summary="One job: status, result, usage, callback delivery")
def get_job(tenant_id: int, job_id: str, svc: Svc, caller: Caller) -> dict[str, Any]:
    with svc.sessions() as session:
        tenant_row(session, caller, tenant_id)
        job = jobstore.find(session, tenant_id=tenant_id, job_id=job_id)
        if job is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no job {job_id!r}")
        return jobstore.view(session, job)
