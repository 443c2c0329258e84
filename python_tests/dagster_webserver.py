"""A throwaway Dagster webserver: `dagster-webserver` on a free loopback port, serving the code
location `orchestration.definitions` with its own instance (DAGSTER_HOME) in a folder the
caller gives, stopped with its whole process group at the end.

Used by python_tests/test_dagster_webserver.py and scripts/screenshot_dagster.py.

The instance launches runs at once (DefaultRunCoordinator) with the DefaultRunLauncher, which
starts one run-worker process per run: no dagster-daemon is needed to launch a run over
GraphQL. It keeps the committed instance's limit of one warehouse-writing step at a time
(DuckDB has one writer per file).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Self

import requests

REPO_ROOT = Path(__file__).resolve().parents[1]
CODE_LOCATION = "orchestration.definitions"
INSTANCE_YAML = """\
# Written by python_tests/dagster_webserver.py: launch runs without a daemon.
run_coordinator:
  module: dagster._core.run_coordinator
  class: DefaultRunCoordinator
run_launcher:
  module: dagster._core.launcher
  class: DefaultRunLauncher
concurrency:
  pools:
    default_limit: 1
telemetry:
  enabled: false
"""

WORKSPACE_QUERY = """
query {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError {
          __typename
          ... on RepositoryLocation { name repositories { name } }
          ... on PythonError { message stack }
        }
      }
    }
    ... on PythonError { message }
  }
}
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class WebserverError(RuntimeError):
    """The webserver did not start, or its code location did not load; the message has its log."""


class DagsterWebserver:
    """``with DagsterWebserver(home, env={...}) as server:`` then ``server.graphql(query, vars)``.

    ``home`` becomes DAGSTER_HOME (a dagster.yaml is written there unless one exists); ``env``
    adds variables for the server, its code server and every run worker (the warehouse path,
    for instance). The server's output goes to ``home / "webserver.log"``.
    """

    def __init__(self, home: Path, env: dict[str, str] | None = None, start_timeout: float = 180.0):
        self.home = Path(home)
        self.env = env or {}
        self.start_timeout = start_timeout
        self.port = 0
        self.process: subprocess.Popen | None = None
        self.log_path = self.home / "webserver.log"
        self.location = CODE_LOCATION
        self.repository = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        executable = Path(sys.executable).parent / "dagster-webserver"
        if not executable.exists():
            raise WebserverError(f"{executable} is missing: install the project's requirements (make setup)")
        self.home.mkdir(parents=True, exist_ok=True)
        instance = self.home / "dagster.yaml"
        if not instance.exists():
            instance.write_text(INSTANCE_YAML)
        # The repository first on the path, so that a checkout other than the installed one
        # (a worktree, a CI clone) serves its own code.
        path = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p)
        env = {**os.environ, "DAGSTER_HOME": str(self.home), "PYTHONPATH": path, **self.env}
        self.port = free_port()
        with open(self.log_path, "wb") as log:
            # Its own process group: the webserver starts a code server and run workers, and
            # stop() must take them all down.
            self.process = subprocess.Popen(
                [str(executable), "-h", "127.0.0.1", "-p", str(self.port), "-m", CODE_LOCATION],
                cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        try:
            self._wait_until_loaded()
        except BaseException:
            self.stop()
            raise

    def _wait_until_loaded(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise WebserverError(f"dagster-webserver exited with code {self.process.returncode}:\n{self.log_tail()}")
            try:
                data = self.graphql(WORKSPACE_QUERY, timeout=10)["workspaceOrError"]
            except (requests.ConnectionError, requests.Timeout) as error:
                last = f"not answering: {error.__class__.__name__}"
                time.sleep(0.5)
                continue
            if data["__typename"] != "Workspace":
                raise WebserverError(f"workspace failed to load: {data.get('message')}\n{self.log_tail()}")
            entries = {e["name"]: e for e in data["locationEntries"]}
            entry = entries.get(CODE_LOCATION)
            if entry is None:
                raise WebserverError(f"code location {CODE_LOCATION} is not in the workspace: {sorted(entries)}")
            loaded = entry["locationOrLoadError"]
            if entry["loadStatus"] == "LOADED" and loaded is not None:
                if loaded["__typename"] == "PythonError":
                    raise WebserverError(f"code location {CODE_LOCATION} failed to load: {loaded['message']}\n"
                                         f"{''.join(loaded['stack'])}")
                self.repository = loaded["repositories"][0]["name"]
                return
            last = f"code location {entry['loadStatus']}"
            time.sleep(0.5)
        raise WebserverError(f"dagster-webserver not ready after {self.start_timeout:.0f} s ({last}):\n{self.log_tail()}")

    def graphql(self, query: str, variables: dict | None = None, timeout: float = 60) -> dict:
        """Run a GraphQL query; GraphQL-level errors raise with the query's messages."""
        response = requests.post(f"{self.url}/graphql", json={"query": query, "variables": variables or {}},
                                 timeout=timeout)
        response.raise_for_status()
        body = response.json()
        if body.get("errors"):
            raise WebserverError(f"GraphQL errors: {[e.get('message') for e in body['errors']]}")
        return body["data"]

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, grace: float = 20.0) -> None:
        if self.process is None:
            return
        group = self.process.pid  # the group's id is the leader's pid, even once the leader is gone
        if self.process.poll() is None:
            self._signal(group, signal.SIGTERM)
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                pass
        # Whatever is left of the group (a code server or run worker slow to follow the webserver).
        self._signal(group, signal.SIGKILL)
        if self.process.poll() is None:
            self.process.wait(10)

    @staticmethod
    def _signal(group: int, sig: int) -> None:
        try:
            os.killpg(group, sig)
        except ProcessLookupError:
            pass
