"""Private Redis and PostgreSQL servers and process groups for the fault matrix.

The faults stop, restart and kill these, so they must be the benchmark's own: a redis-server and a
throwaway PostgreSQL cluster on free loopback ports, never the shared ones other work depends on.
LLMOS processes run in process groups of their own, so `kill -9` takes a process and every child.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from glob import glob
from pathlib import Path

import psycopg
import redis

PG_USER = "postgres"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], bool], *, timeout: float, what: str, every: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(every)
    raise TimeoutError(f"{what} not ready within {timeout:.0f}s")


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class PrivateRedis:
    """A redis-server with no persistence: stopping and starting it again is Redis restarted empty."""

    def __init__(self, log_dir: Path, *, port: int | None = None) -> None:
        self.port = port or free_port()
        self.log = log_dir / f"redis-{self.port}.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=2)

    def _answers(self) -> bool:
        try:
            client = self.client()
            try:
                return bool(client.ping())
            finally:
                client.close()
        except redis.RedisError:
            return False

    def start(self) -> PrivateRedis:
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        with self.log.open("ab") as out:
            self._proc = subprocess.Popen(args, stdout=out, stderr=out, stdin=subprocess.DEVNULL)
        wait_until(self._answers, timeout=15, what=f"redis-server on {self.port}")
        return self

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()  # SIGKILL: nothing is saved, as after a crash
            self._proc.wait(timeout=10)
        self._proc = None

    def restart_empty(self) -> None:
        self.stop()
        self.start()

    def keys(self) -> int:
        client = self.client()
        try:
            return int(client.dbsize())
        finally:
            client.close()

    def flush(self) -> None:
        client = self.client()
        try:
            client.flushall()
        finally:
            client.close()


def _pg_bin(name: str) -> str:
    found = sorted(glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if found:
        return found[-1]
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} not found (install PostgreSQL's server binaries)")
    return path


class PrivatePostgres:
    """A throwaway PostgreSQL cluster on a free port, trust auth, in a temporary directory of its own
    (which the postgres user can reach: initdb refuses root, so as root the cluster runs as postgres)."""

    def __init__(self, *, port: int | None = None) -> None:
        self.port = port or free_port()
        self.root = Path(tempfile.mkdtemp(prefix="llmos-faults-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"

    def _as_owner(self, args: list[str]) -> list[str]:
        if os.geteuid() == 0:
            return ["runuser", "-u", PG_USER, "--", *args]
        return args

    def _run(self, args: list[str], *, timeout: float = 120) -> None:
        done = subprocess.run(self._as_owner(args), capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed ({done.returncode}): {done.stderr.strip()[-500:]}")

    def init(self) -> PrivatePostgres:
        if os.geteuid() == 0:
            owner = pwd.getpwnam(PG_USER)
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
        initdb = [_pg_bin("initdb"), "-D", str(self.data), "-U", PG_USER, "--auth=trust", "--no-sync"]
        self._run([*initdb, "--encoding=UTF8", "--locale=C"])
        return self

    def _ctl(self, action: str, *extra: str) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root} -c fsync=off"
        self._run([_pg_bin("pg_ctl"), action, "-D", str(self.data), "-l", str(self.log), "-w", "-o", options, *extra])

    def start(self) -> PrivatePostgres:
        self._ctl("start")
        return self

    def restart(self) -> None:
        """`pg_ctl restart -m fast`: every connection is cut, as in a failover or an upgrade."""
        self._ctl("restart", "-m", "fast")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._ctl("stop", "-m", "immediate")

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    @property
    def admin_url(self) -> str:
        return f"postgresql://{PG_USER}@127.0.0.1:{self.port}/postgres"

    def fresh_database(self, prefix: str = "faults") -> str:
        """A new empty database; its SQLAlchemy URL."""
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://{PG_USER}@127.0.0.1:{self.port}/{name}"


class Group:
    """An LLMOS command in a process group of its own, its output in a log file."""

    def __init__(self, args: list[str], *, env: dict[str, str], log: Path, cwd: Path) -> None:
        self.log = log
        self.args = args
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-u", *args],
                env=env,
                cwd=cwd,
                stdout=out,
                stderr=out,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        """`kill -9` of the whole group: the process and anything it started."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.alive():
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
            except ProcessLookupError:
                pass
        else:
            self.kill()  # reap what may be left of its group
