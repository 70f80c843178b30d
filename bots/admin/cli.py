"""`llmos admin`: serve the admin service, and create, list and revoke admin keys."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bots import surfaces
from bots.admin import keys
from db import directory, migrate
from db.models import Tenant
from db.session import make_engine, make_sessionmaker
from workers import plugins
from workers.settings import Settings, SettingsError
from workers.stack import Stack


def serve(settings: Settings, *, wait: Callable[[], None]) -> int:
    built = surfaces.from_environment()
    surface = surfaces.named(built, "admin")
    assert surface is not None, "the admin surface is always built"
    with Stack(settings, surfaces=built, skills=plugins.skill_book()) as stack:
        if not stack.workers_elsewhere():
            # Nobody serves the queues: answer web chat and jobs from this process, like `llmos chat`.
            stack.start_worker()
        elif settings.engine_url:
            stack.start_engine()  # only a client, for the health checks
        surfaces.serve(stack, surface, title="LLMOS admin service", wait=wait)
    return 0


@contextmanager
def _sessions(settings: Settings) -> Iterator[sessionmaker[Session]]:
    url = settings.resolved_database_url
    migrate.upgrade(url)
    engine = make_engine(url)
    try:
        yield make_sessionmaker(engine)
    finally:
        engine.dispose()


def _tenant(session: Session, args: argparse.Namespace) -> Tenant | None:
    if args.tenant_id is not None:
        found = session.get(Tenant, args.tenant_id)
        if found is None:
            raise SettingsError(f"--tenant-id: no tenant {args.tenant_id}")
        return found
    if args.tenant:
        platform, sep, external = args.tenant.partition(":")
        if not sep or not external or platform not in {"slack", "discord", "admin", "terminal", "web"}:
            raise SettingsError("--tenant: write PLATFORM:ID, e.g. slack:T0123ABCD or admin:acme")
        found = directory.tenant(session, platform=platform, external_id=external, name=args.tenant_name)
        session.flush()
        return found
    return None


def export_tenant(settings: Settings, args: argparse.Namespace) -> int:
    """`llmos export --tenant T --out DIR`: the tenant's data as JSON Lines with a manifest of sha256 sums."""
    from db import export

    with _sessions(settings) as sessions, sessions() as session:
        tenant = _existing_tenant(session, args.tenant)
        written = export.write(session, tenant=tenant, out=args.out)
    for item in written:
        state = "written" if item.changed else "unchanged"
        print(f"{args.out / item.name}: {item.records} record(s), sha256 {item.sha256[:16]}… ({state})")
    return 0


def _existing_tenant(session: Session, given: str) -> Tenant:
    """A tenant named by its id in LLMOS or as PLATFORM:ID; never created here."""
    if given.isascii() and given.isdigit():
        found = session.get(Tenant, int(given))
    else:
        platform, sep, external = given.partition(":")
        if not sep or not external:
            raise SettingsError("--tenant: write the tenant's id, or PLATFORM:ID, e.g. slack:T0123ABCD")
        found = session.scalars(
            select(Tenant).where(Tenant.platform == platform, Tenant.external_id == external)
        ).first()
    if found is None:
        raise SettingsError(f"--tenant: no tenant {given!r} (GET /api/tenants lists them)")
    return found


def create_key(settings: Settings, args: argparse.Namespace) -> int:
    with _sessions(settings) as sessions, sessions.begin() as session:
        tenant = _tenant(session, args)
        made = keys.create(session, tenant_id=tenant.id if tenant else None, name=args.name)
        scope = f"tenant {tenant.id} ({tenant.platform}:{tenant.external_id})" if tenant else "every tenant (global)"
    print(f"Admin key {made.key_id} for {scope}. It is shown only this once; store it now:")
    print(f"  {made.token}")
    return 0


def revoke_key(settings: Settings, args: argparse.Namespace) -> int:
    key_id = args.key_id.split("_")[1] if args.key_id.startswith(keys.PREFIX + "_") else args.key_id
    with _sessions(settings) as sessions, sessions.begin() as session:
        done = keys.revoke(session, key_id=key_id)
    print(f"Key {key_id} revoked." if done else f"No active key {key_id}.")
    return 0 if done else 1


def list_keys(settings: Settings, _args: argparse.Namespace) -> int:
    with _sessions(settings) as sessions, sessions() as session:
        rows = keys.listed(session)
    for row in rows:
        scope = f"tenant {row.tenant_id}" if row.tenant_id is not None else "global"
        state = "revoked" if row.revoked_at else "active"
        print(f"{row.key_id}  {scope:<12} {state:<8} {row.name}")
    if not rows:
        print("No admin keys yet: llmos admin create-key [--tenant PLATFORM:ID]")
    return 0


ACTIONS: dict[str, Callable[[Settings, argparse.Namespace], int]] = {
    "create-key": create_key,
    "revoke-key": revoke_key,
    "list-keys": list_keys,
}
