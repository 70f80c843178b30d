"""The `llmos` command: `run` starts everything on one machine; the others start one part each."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence

from workers.settings import Settings, SettingsError, load_settings

log = logging.getLogger("llmos")


def _logging(settings: Settings, *, quiet: bool = False) -> None:
    level = logging.WARNING if quiet else getattr(logging, settings.log_level.upper(), logging.INFO)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "httpx2", "celery", "kombu"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def _wait_for_signal() -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()


def cmd_run(settings: Settings, _args: argparse.Namespace) -> int:
    from bots import surfaces
    from workers.stack import Stack

    with Stack(settings) as stack:
        stack.start_worker()
        started = surfaces.configured(stack)
        for surface in started:
            surface.start()
            stack.on_close(surface.stop)
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
    from workers.queues import QUEUE_ORDER
    from workers.stack import Stack

    with Stack(settings) as stack:
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
    from bots.terminal import TerminalChat
    from workers.stack import Stack

    with Stack(settings) as stack:
        if not stack.workers_elsewhere():
            # Nobody is serving the queues: answer from this process, through the same queue.
            stack.start_worker()
        chat = TerminalChat(sessions=stack.sessions, bus=stack.bus, enqueue=stack.enqueue, thread=args.thread)
        if args.question:
            return chat.ask(" ".join(args.question))
        return chat.repl()


def cmd_db(settings: Settings, args: argparse.Namespace) -> int:
    from db import migrate

    url = settings.resolved_database_url
    migrate.upgrade(url, args.revision)
    print(f"database at {url.split('@')[-1]} is at revision {args.revision}")
    return 0


def cmd_engine(settings: Settings, args: argparse.Namespace) -> int:
    from engine.embedded import EmbeddedEngine

    port = args.port or settings.embedded_engine_port or 8001
    with EmbeddedEngine(host=args.host, port=port, context_window=settings.embedded_context_window):
        print(f"embedded engine serving at http://{args.host}:{port}/v1 (Ctrl-C stops)")
        sys.stdout.flush()
        _wait_for_signal()
    return 0


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
    chat.set_defaults(func=cmd_chat, quiet=True)
    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    upgrade = db_sub.add_parser("upgrade", help="apply the schema migrations")
    upgrade.add_argument("revision", nargs="?", default="head")
    upgrade.set_defaults(func=cmd_db)
    engine = sub.add_parser("engine", help="serve the embedded CPU model alone")
    engine.add_argument("--host", default="127.0.0.1")
    engine.add_argument("--port", type=int, default=0)
    engine.set_defaults(func=cmd_engine)
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
