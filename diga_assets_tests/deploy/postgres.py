"""A throwaway PostgreSQL 15 on 127.0.0.1 for the deployment tests, from Debian's binaries.

PostgreSQL refuses to run as root, so as root initdb and pg_ctl run as the ``postgres`` user
(through runuser), in a directory under /tmp that user can enter; as anyone else they run as the
current user.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from diga_assets_tests.webserver import free_loopback_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")
START_TIMEOUT_S = 60
SUPERUSER = "postgres"


@dataclass(frozen=True)
class Postgres:
    """A running server and the superuser's password, to create databases and roles with."""

    host: str
    port: int
    superuser_password: str

    def psql(self, sql: str, *, database: str = "postgres") -> str:
        """Run one statement as the superuser; its output (unaligned, no headers)."""
        connection = ("-h", self.host, "-p", str(self.port), "-U", SUPERUSER, "-d", database)
        result = subprocess.run(
            [str(PG_BIN / "psql"), *connection, "-v", "ON_ERROR_STOP=1", "-qAtc", sql],
            env={**os.environ, "PGPASSWORD": self.superuser_password},
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"psql failed on {sql!r}: {result.stderr.strip()}")
        return result.stdout

    def new_database(self, name: str) -> Database:
        """A fresh database owned by a fresh role of the same name, as Dagster would be given."""
        password = secrets.token_hex(16)
        self.psql(f"CREATE ROLE {name} LOGIN PASSWORD '{password}'")
        self.psql(f"CREATE DATABASE {name} OWNER {name}")
        return Database(host=self.host, port=self.port, user=name, password=password, name=name)


@dataclass(frozen=True)
class Database:
    """One database and the role that owns it: what the DAGSTER_POSTGRES_* variables name."""

    host: str
    port: int
    user: str
    password: str
    name: str

    def env(self) -> dict[str, str]:
        """The variables deploy/dagster.yaml is configured by."""
        return {
            "DAGSTER_POSTGRES_HOSTNAME": self.host,
            "DAGSTER_POSTGRES_PORT": str(self.port),
            "DAGSTER_POSTGRES_USER": self.user,
            "DAGSTER_POSTGRES_PASSWORD": self.password,
            "DAGSTER_POSTGRES_DB": self.name,
        }


def postgres_available() -> bool:
    """Whether Debian's PostgreSQL 15 is installed (``.ci/run`` installs it)."""
    return (PG_BIN / "initdb").is_file()


@contextmanager
def postgres_server() -> Iterator[Postgres]:
    """Start a server on a free loopback port; stop it and delete its files on exit."""
    as_root = os.geteuid() == 0
    # Not pytest's tmp_path: as root it lives under a 0700 directory the postgres user cannot
    # traverse. A directory directly under /tmp (sticky, world-enterable) can be handed over.
    base = Path(tempfile.mkdtemp(prefix="diga-pg-", dir="/tmp"))
    runner: list[str] = []
    owner = None
    if as_root:
        owner = pwd.getpwnam(SUPERUSER)
        os.chown(base, owner.pw_uid, owner.pw_gid)
        runner = ["runuser", "-u", SUPERUSER, "--"]
    data = base / "data"
    password = secrets.token_hex(16)
    password_file = base / "superuser-password"
    password_file.write_text(password + "\n")
    password_file.chmod(0o600)
    if owner is not None:
        os.chown(password_file, owner.pw_uid, owner.pw_gid)
    port = free_loopback_port()

    def pg_ctl(*args: str, check: bool = True) -> None:
        # -w: return once the server accepts connections (or has stopped), within the timeout.
        run(str(PG_BIN / "pg_ctl"), "-D", str(data), "-w", "-t", str(START_TIMEOUT_S), *args, check=check)

    def run(*args: str, check: bool = True) -> None:
        # cwd=base: the postgres user may not be allowed into the caller's working directory.
        result = subprocess.run([*runner, *args], cwd=base, capture_output=True, text=True)
        if check and result.returncode != 0:
            log = base / "server.log"
            server_log = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(
                f"{Path(args[0]).name} exited with {result.returncode}\n{result.stdout}{result.stderr}{server_log}"
            )

    started = False
    try:
        run(
            str(PG_BIN / "initdb"),
            *("-D", str(data), "-U", SUPERUSER, f"--pwfile={password_file}", "-E", "UTF8"),
            # Password over TCP, as a deployment's Dagster connects; --no-sync: a test database
            # need not survive a power cut.
            *("--auth-host=scram-sha-256", "--auth-local=trust", "--no-sync"),
        )
        options = " ".join(
            [
                f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={data}",
                # Durability is not what these tests are about; speed is.
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off",
                # Every Dagster process and run worker holds a small pool of connections.
                "-c max_connections=200",
            ]
        )
        started = True  # from here on, stop whatever did start, even if waiting for it failed
        pg_ctl("-l", str(base / "server.log"), "-o", options, "start")
        yield Postgres(host="127.0.0.1", port=port, superuser_password=password)
    finally:
        if started:
            pg_ctl("-m", "fast", "stop", check=False)
        shutil.rmtree(base, ignore_errors=True)
