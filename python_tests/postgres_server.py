"""A throwaway PostgreSQL server for tests: initdb into a temporary folder, start it on a free
loopback port (its unix socket in that folder too), create a database, stop and remove it all
at the end.

The binaries are found on PATH, else in Debian's /usr/lib/postgresql/<version>/bin (the
postgresql package does not put initdb on PATH). Missing binaries are an error, not a skip:
`.ci/run` installs them, and a destination nobody tested is worse than a red test that says
what to install. PostgreSQL refuses to run as root, so as root the server runs as the
`postgres` user (created by the Debian package) or else `nobody`, in a folder it owns.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

INSTALL_HINT = ("PostgreSQL server binaries (initdb, pg_ctl) are needed for the postgres destination's tests: "
                "apt-get install -y postgresql (Debian/Ubuntu) or brew install postgresql (macOS); "
                ".ci/run installs them")
SETTINGS = {
    # A test server: no durability, little memory, quick to start and stop.
    "fsync": "off", "synchronous_commit": "off", "full_page_writes": "off", "shared_buffers": "16MB",
    "max_connections": "20", "listen_addresses": "'127.0.0.1'", "logging_collector": "off",
}


def binaries() -> Path | None:
    """The folder holding initdb, pg_ctl and postgres, or None."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent  # resolved: pg_ctl finds postgres next to itself
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                      key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    return versions[-1].parent if versions else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PostgresServer:
    def __init__(self, database: str = "cdp_test", superuser: str = "cdp"):
        self.bin = binaries()
        if self.bin is None:
            raise RuntimeError(INSTALL_HINT)
        self.superuser, self.database = superuser, database
        self.account = None
        if os.geteuid() == 0:
            for name in ("postgres", "nobody"):
                try:
                    self.account = pwd.getpwnam(name)
                    break
                except KeyError:
                    continue
            if self.account is None:
                raise RuntimeError("running as root and there is no postgres or nobody user to run PostgreSQL as")
        # /tmp, not pytest's tmp_path: the server's user must reach the folder (pytest's is root's
        # alone), and a unix socket path must stay under about 100 bytes.
        self.root = Path(tempfile.mkdtemp(prefix="cdp-pg-", dir="/tmp" if self.account else None))
        if self.account:
            os.chown(self.root, self.account.pw_uid, self.account.pw_gid)
        self.data = self.root / "data"
        self.port = 0
        self.started = False
        try:
            self._run("initdb", "-D", str(self.data), "-U", superuser, "--auth=trust", "--encoding=UTF8",
                      "--locale=C", "--no-sync")
            self._start()
            with psycopg.connect(self.dsn("postgres"), autocommit=True) as con:
                con.execute(f'create database "{database}"')
        except BaseException:
            self.close()
            raise

    def _run(self, program: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
        if self.account:
            env.update(HOME=str(self.root), USER=self.account.pw_name, LOGNAME=self.account.pw_name)
        done = subprocess.run([str(self.bin / program), *args], cwd=self.root, env=env, capture_output=True,
                              text=True, timeout=timeout,
                              **({"user": self.account.pw_uid, "group": self.account.pw_gid, "extra_groups": []}
                                 if self.account else {}))
        if done.returncode != 0:
            raise RuntimeError(f"{program} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
        return done

    def _start(self) -> None:
        # A free port can be taken between the probe and the server's bind; try a few.
        for attempt in range(5):
            self.port = _free_port()
            lines = {**SETTINGS, "port": str(self.port), "unix_socket_directories": f"'{self.root}'"}
            with open(self.data / "postgresql.conf", "a") as conf:  # later lines win
                conf.write("".join(f"{k} = {v}\n" for k, v in lines.items()))
            try:
                self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-w", "-t", "60",
                          "start", timeout=90)
                self.started = True
                return
            except RuntimeError:
                if attempt == 4:
                    log = self.root / "server.log"
                    raise RuntimeError(f"PostgreSQL did not start: {log.read_text()[-2000:] if log.exists() else ''}")
                time.sleep(0.2)

    def dsn(self, database: str | None = None) -> str:
        return (f"host=127.0.0.1 port={self.port} user={self.superuser} dbname={database or self.database} "
                f"connect_timeout=10")

    def close(self) -> None:
        if self.started:
            try:
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", timeout=60)
            except (RuntimeError, subprocess.TimeoutExpired):
                pass
            self.started = False
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
