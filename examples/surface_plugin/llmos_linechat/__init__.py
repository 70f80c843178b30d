"""An LLMOS surface plugin: chat over a line-based TCP connection.

Each line a client sends is one message; the answer comes back as one line (its line breaks become
spaces). Every connection is one conversation. The answer reaches the connection through the reply
bus, so it works whether this process or a worker elsewhere produces it.
"""

from __future__ import annotations

import logging
import os
import socketserver
import threading
import uuid
from collections.abc import Sequence
from io import BufferedIOBase
from typing import TYPE_CHECKING

from workers.events import Event, Platform
from workers.intake import hand_over
from workers.replybus import BusSink, follow
from workers.requests import parse
from workers.sinks import Outlet, SinkContext

if TYPE_CHECKING:
    from workers.stack import Stack

log = logging.getLogger(__name__)

NAME = "linechat"
MAX_LINE = 20_000
REPLY_TIMEOUT = 300.0


class LineChat:
    name = NAME
    listens = True

    def __init__(self, *, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._server: socketserver.ThreadingTCPServer | None = None
        self._thread: threading.Thread | None = None

    def outlets(self, context: SinkContext) -> Sequence[Outlet]:
        """Answers go on the reply bus, where the connection that asked is waiting for them."""
        return [Outlet(Platform.PLUGIN, lambda event: BusSink(context.bus, event.key), surface=NAME)]

    def start(self, stack: Stack) -> None:
        surface = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                surface.serve(stack, self.rfile, self.wfile, peer=f"{self.client_address[0]}:{self.client_address[1]}")

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        server = socketserver.ThreadingTCPServer((self.host, self.port), Handler)
        server.daemon_threads = True
        self.port = int(server.server_address[1])
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="linechat", daemon=True)
        self._thread.start()
        log.info("linechat listening on %s:%d", self.host, self.port)

    def serve(self, stack: Stack, rfile: BufferedIOBase, wfile: BufferedIOBase, *, peer: str) -> None:
        thread = f"conn-{uuid.uuid4().hex[:12]}"
        for raw in iter(lambda: rfile.readline(MAX_LINE), b""):
            line = raw.decode("utf-8", "replace").strip()
            if line:
                answer = self.answer(stack, line, user=peer, thread=thread)
                wfile.write(" ".join(answer.split()).encode() + b"\n")

    def answer(self, stack: Stack, line: str, *, user: str, thread: str) -> str:
        request = parse(line, skills=stack.skills.names)
        event = Event(
            platform=Platform.PLUGIN,
            tenant=NAME,
            channel="tcp",
            thread=thread,
            user=user,
            message_id=uuid.uuid4().hex,
            text=request.text,
            kind=request.kind,
            priority=request.priority,
            args=request.args,
            ref={"surface": NAME},
        )
        handed = hand_over(event, sessions=stack.sessions, enqueue=stack.enqueue)
        if handed.turned is not None:
            return handed.message
        try:
            for item in follow(stack.bus, event.key, idle_timeout=REPLY_TIMEOUT):
                if item.get("type") in {"done", "error"}:
                    return str(item.get("text") or "")
        except TimeoutError:
            return "No answer came in time."
        return ""

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def describe(self) -> str:
        return f"linechat (line-based TCP) on {self.host}:{self.port}"


def surface() -> LineChat | None:
    """The factory LLMOS calls at start-up: a surface when LINECHAT_PORT is set, else None."""
    port = os.environ.get("LINECHAT_PORT")
    if port is None:
        return None
    if not port.isdigit() or int(port) > 65535:
        raise ValueError("LINECHAT_PORT: must be a port number (0 picks a free one)")
    return LineChat(host=os.environ.get("LINECHAT_HOST", "127.0.0.1"), port=int(port))
