"""A throwaway PostgreSQL cluster that a test creates, stops and restarts:
`initdb` and `pg_ctl` run as the `postgres` OS user, the data directory lives
in a new temporary directory, and the server listens on a free port of
127.0.0.1 with trust authentication. It never touches another cluster."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess  # nosec B404: runs the PostgreSQL binaries the test needs
import tempfile
from collections.abc import Iterator
from pathlib import Path

OS_USER = "postgres"


def postgres_bin() -> Path | None:
    """The bin directory of the newest installed PostgreSQL with initdb."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda path: int(Path(path).parent.parent.name),
    )
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class PostgresCluster:
    def __init__(self, bin_dir: Path, root: Path) -> None:
        self.bin_dir = bin_dir
        self.root = root
        self.data_dir = root / "data"
        self.port = _free_port()

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://{OS_USER}@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        command = ["runuser", "-u", OS_USER, "--", str(self.bin_dir / tool), *args]
        subprocess.run(command, check=True, capture_output=True, timeout=120)  # nosec B603

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data_dir), "-A", "trust", "-U", OS_USER, "--no-sync")

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off"
        log = str(self.root / "postgres.log")
        self._run("pg_ctl", "start", "-D", str(self.data_dir), "-o", options, "-l", log, "-w")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "stop", "-D", str(self.data_dir), "-m", mode, "-w")


@contextlib.contextmanager
def postgres_cluster(bin_dir: Path) -> Iterator[PostgresCluster]:
    """A started cluster, stopped and deleted afterwards."""
    root = Path(tempfile.mkdtemp(prefix="taskplane-pg-"))
    owner = pwd.getpwnam(OS_USER)
    os.chown(root, owner.pw_uid, owner.pw_gid)
    cluster = PostgresCluster(bin_dir, root)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            cluster.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)
