"""The `llmos` command: `run` starts everything on one machine; the others start one part each."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from workers.settings import Settings, SettingsError, load_settings

log = logging.getLogger("llmos")


def _logging(settings: Settings, *, quiet: bool = False) -> None:
    level = logging.WARNING if quiet else getattr(logging, settings.log_level.upper(), logging.INFO)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "httpx2", "celery", "kombu", "alembic"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def _wait_for_signal() -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()


def cmd_run(settings: Settings, _args: argparse.Namespace) -> int:
    from bots import surfaces
    from workers import plugins
    from workers.stack import Stack

    built = surfaces.from_environment()
    with Stack(settings, surfaces=built, skills=plugins.skill_book()) as stack:
        stack.start_worker()
        started = surfaces.start_all(stack, built)
        print("LLMOS is running.")
        for line in stack.describe():
            print(f"  {line}")
        print("  surface:  terminal (`llmos chat`)")
        for surface in started:
            print(f"  surface:  {surface.describe()}")
        print('Talk to it from another terminal: llmos chat "What is the capital of France?"  (Ctrl-C stops)')
        sys.stdout.flush()
        _wait_for_signal()
        print("LLMOS is stopping.")
    return 0


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    from bots import surfaces
    from workers import plugins
    from workers.queues import QUEUE_ORDER
    from workers.stack import Stack

    # Nothing is started for them here: they give this worker their reply sinks.
    with Stack(settings, surfaces=surfaces.from_environment(), skills=plugins.skill_book()) as stack:
        if stack.broker.in_process:
            raise SettingsError("REDIS_URL: `llmos worker` needs a shared broker; `llmos run` works without one")
        concurrency = args.concurrency or settings.worker_concurrency
        stack.start_runtime()
        # Threads beside the Celery worker below that serve only the interactive queue.
        stack.start_interactive_worker()
        stack.serving(general=concurrency)
        for line in stack.describe():
            log.info(line)
        argv = [
            "worker",
            "--pool",
            "threads",
            "--concurrency",
            str(concurrency),
            "--queues",
            ",".join(str(q) for q in QUEUE_ORDER),
            "--loglevel",
            settings.log_level.upper(),
            "--without-gossip",
            "--without-mingle",
        ]
        if args.hostname:
            argv += ["--hostname", args.hostname]
        stack.app.worker_main(argv)
    return 0


def cmd_chat(settings: Settings, args: argparse.Namespace) -> int:
    from bots.terminal import TerminalChat, read_files
    from workers import plugins
    from workers.stack import Stack

    attachments, notes = read_files(args.attach, limits=settings.document_limits)
    for note in notes:
        print(f"llmos: {note}", file=sys.stderr)
    with Stack(settings, skills=plugins.skill_book()) as stack:
        if not stack.workers_elsewhere():
            # Nobody is serving the queues: answer from this process, through the same queue.
            stack.start_worker()
        chat = TerminalChat(
            sessions=stack.sessions,
            bus=stack.bus,
            enqueue=stack.enqueue,
            thread=args.thread,
            skills=stack.skills.names,
            attachments=attachments,
            leases=stack.leases,
        )
        if args.question:
            return chat.ask(" ".join(args.question))
        return chat.repl()


def cmd_admin(settings: Settings, args: argparse.Namespace) -> int:
    from bots.admin import cli as admin_cli

    if args.admin_command is None:
        return admin_cli.serve(settings, wait=_wait_for_signal)
    return admin_cli.ACTIONS[args.admin_command](settings, args)


def cmd_slack(settings: Settings, _args: argparse.Namespace) -> int:
    from bots import surfaces
    from workers import plugins
    from workers.stack import Stack

    built = surfaces.from_environment()
    surface = surfaces.named(built, "slack")
    if surface is None or not surface.listens:
        raise SettingsError("SLACK_SIGNING_SECRET or SLACK_APP_TOKEN: set one to serve Slack (HTTP or Socket Mode)")
    with Stack(settings, surfaces=built, skills=plugins.skill_book()) as stack:
        if not stack.workers_elsewhere():
            # Nobody is serving the queues: answer from this process, through the same queue.
            stack.start_worker()
        surfaces.serve(stack, surface, title="LLMOS Slack app", wait=_wait_for_signal)
    return 0


def cmd_discord(settings: Settings, args: argparse.Namespace) -> int:
    from bots import surfaces
    from workers import plugins
    from workers.stack import Stack

    built = surfaces.from_environment()
    bot = surfaces.named(built, "discord")
    if bot is None:
        raise SettingsError("DISCORD_TOKEN: not set; the Discord bot needs its token")
    with Stack(settings, surfaces=built, skills=plugins.skill_book()) as stack:
        if not args.no_worker and not stack.workers_elsewhere():
            # Nobody serves the queues (or the broker is in-process): answer from this process.
            stack.start_worker()
        surfaces.serve(stack, bot, title="LLMOS Discord bot", wait=_wait_for_signal)
    return 0


def cmd_export(settings: Settings, args: argparse.Namespace) -> int:
    from bots.admin import cli as admin_cli

    return admin_cli.export_tenant(settings, args)


def cmd_plugins(_settings: Settings, _args: argparse.Namespace) -> int:
    from bots import surfaces

    for line in surfaces.report():
        print(line)
    return 0


def cmd_db(settings: Settings, args: argparse.Namespace) -> int:
    from db import migrate

    url = settings.resolved_database_url
    migrate.upgrade(url, args.revision)
    print(f"database at {url.split('@')[-1]} is at revision {args.revision}")
    return 0


def cmd_engine(settings: Settings, args: argparse.Namespace) -> int:
    from engine.embedded import EmbeddedEngine

    port = args.port or settings.embedded_engine_port or 8001
    with EmbeddedEngine(
        host=args.host,
        port=port,
        context_window=settings.embedded_context_window,
        parallel=settings.embedded_parallel,
        model_cache=settings.embedded_model_cache,
    ):
        slots = settings.embedded_parallel
        print(f"embedded engine serving at http://{args.host}:{port}/v1, {slots} slots (Ctrl-C stops)")
        sys.stdout.flush()
        _wait_for_signal()
    return 0


def cmd_doctor(settings: Settings, _args: argparse.Namespace) -> int:
    from bots.doctor.command import main as doctor

    return doctor(settings)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="llmos", description="LLMOS, a self-hosted LLM assistant.")
    sub = top.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="start everything configured on this machine").set_defaults(func=cmd_run)
    worker = sub.add_parser("worker", help="start a Celery worker (needs REDIS_URL)")
    worker.add_argument("--concurrency", type=int, default=0)
    worker.add_argument("--hostname", default="")
    worker.set_defaults(func=cmd_worker)
    chat = sub.add_parser("chat", help="chat in the terminal; with a question, answer it and exit")
    chat.add_argument("question", nargs="*")
    chat.add_argument("--thread", default=None, help="continue the conversation with this name")
    chat.add_argument(
        "--attach",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="a PDF, Word, PowerPoint, Excel, CSV, HTML or text file sent with the first question (repeatable)",
    )
    chat.set_defaults(func=cmd_chat, quiet=True)
    admin = sub.add_parser("admin", help="serve the admin HTTP service (ADMIN_PORT); manage admin keys")
    admin.set_defaults(func=cmd_admin)
    admin_sub = admin.add_subparsers(dest="admin_command")
    create_key = admin_sub.add_parser("create-key", help="create an admin key, global or for one tenant")
    scope = create_key.add_mutually_exclusive_group()
    scope.add_argument("--tenant", help="PLATFORM:ID, e.g. slack:T0123ABCD (created if not seen yet)")
    scope.add_argument("--tenant-id", type=int, help="the tenant's id in LLMOS")
    create_key.add_argument("--tenant-name", default="", help="display name when --tenant creates the tenant")
    create_key.add_argument("--name", default="", help="what the key is for, shown in lists")
    admin_sub.add_parser("revoke-key", help="revoke a key by its id").add_argument("key_id")
    admin_sub.add_parser("list-keys", help="list admin keys (never their secrets)")
    sub.add_parser("slack", help="serve Slack (Events API over HTTP and/or Socket Mode)").set_defaults(func=cmd_slack)
    bot = sub.add_parser("discord", help="start the Discord bot (needs DISCORD_TOKEN)")
    bot.add_argument("--no-worker", action="store_true", help="never answer from this process; workers elsewhere do")
    bot.set_defaults(func=cmd_discord)
    sub.add_parser("plugins", help="list installed skill and surface plugins").set_defaults(func=cmd_plugins)
    export = sub.add_parser(
        "export", help="write a tenant's conversations, knowledge, usage and memories as JSON Lines with a manifest"
    )
    export.add_argument("--tenant", required=True, help="the tenant's id, or PLATFORM:ID, e.g. slack:T0123ABCD")
    export.add_argument("--out", required=True, type=Path, help="the folder to write into (created if missing)")
    export.set_defaults(func=cmd_export)
    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    upgrade = db_sub.add_parser("upgrade", help="apply the schema migrations")
    upgrade.add_argument("revision", nargs="?", default="head")
    upgrade.set_defaults(func=cmd_db)
    engine = sub.add_parser("engine", help="serve the embedded CPU model alone")
    engine.add_argument("--host", default="127.0.0.1")
    engine.add_argument("--port", type=int, default=0)
    engine.set_defaults(func=cmd_engine)
    sub.add_parser(
        "doctor", help="check the configuration and every service, and say how to fix problems"
    ).set_defaults(func=cmd_doctor)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = load_settings()
        _logging(settings, quiet=getattr(args, "quiet", False))
        code: int = args.func(settings, args)
        return code
    except SettingsError as exc:
        print(f"llmos: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
