"""The embedded engine's own process: llama.cpp's server from the prebuilt `xllamacpp` wheel.

`python -m engine.embedded_server --model … --port …` serves the GGUF OpenAI-compatibly (with
`/tokenize`, `/props` and `/metrics`) on `--parallel` slots that decode together. Started by
`EmbeddedEngine` with `--parent`, it exits as soon as that process is gone, even after a `kill -9`,
so no engine is left behind holding the port and the memory.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from types import FrameType

log = logging.getLogger(__name__)

_PARENT_CHECK_SECONDS = 0.5


def serve(args: argparse.Namespace) -> None:
    """Start llama.cpp's server in this process (it answers on its own threads) and return."""
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = args.model
    params.model_alias = {args.alias}
    params.port = args.port
    params.hostnames = [args.host]
    params.n_parallel = args.parallel
    # llama.cpp splits one context over the slots: each slot gets the window a request may use.
    params.n_ctx = args.window * args.parallel
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.endpoint_metrics = True
    params.endpoint_props = True
    server = xllamacpp.Server(params)
    # Kept reachable for the life of the process: dropping it would stop the server.
    globals()["_server"] = server
    print(f"embedded engine listening at {server.listening_address}", flush=True)


def watch_parent(parent: int) -> None:
    """Exit when `parent` is no longer our parent process (it died, however it died)."""
    while os.getppid() == parent:
        threading.Event().wait(_PARENT_CHECK_SECONDS)
    print(f"embedded engine: parent process {parent} is gone; stopping", flush=True)
    os._exit(0)


def default_threads() -> int:
    """Half the cores: llama.cpp's threads wait for each other at every step, and on a machine whose
    cores are shared (workers, the web process, other services) a thread per core stalls every batch."""
    return max(1, (os.cpu_count() or 2) // 2)


def _stop(signum: int, frame: FrameType | None) -> None:
    # llama.cpp's threads hold no state worth saving; leave without running its destructors.
    os._exit(0)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m engine.embedded_server")
    parser.add_argument("--model", required=True)
    parser.add_argument("--alias", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--window", type=int, required=True, help="context tokens per request (per slot)")
    parser.add_argument("--parallel", type=int, default=4, help="requests decoded together")
    parser.add_argument("--threads", type=int, default=default_threads())
    parser.add_argument("--parent", type=int, default=0, help="exit when this process dies")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    serve(args)
    if args.parent:
        watch_parent(args.parent)
    signal.pause()


if __name__ == "__main__":
    main()
