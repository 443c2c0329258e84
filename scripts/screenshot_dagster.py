"""Screenshot of the Dagster UI's global asset graph (docs/images/dagster_asset_graph.png).

Starts dagster-webserver on loopback with a throwaway instance (python_tests/dagster_webserver.py),
opens the "Global asset lineage" page (/asset-groups in Dagster 1.13) in headless Chromium
(Debian's `chromium` package), checks in the rendered DOM that the graph's groups are there
(not the loading spinner), takes the screenshot and stops the server.

    .venv/bin/python scripts/screenshot_dagster.py [--out PATH] [--warehouse PATH]

The asset graph comes from the code (orchestration.definitions), not from the warehouse: the
code location never opens the DuckDB file, so no built warehouse is needed; --warehouse only
sets CDP_DUCKDB_PATH for the server (default data/cdp.duckdb, what `make demo` leaves).
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from python_tests.dagster_webserver import DagsterWebserver

PAGE = "/asset-groups"
# Groups the page must show before the screenshot: dagster-dbt's layers and the loads.
EXPECTED_GROUPS = ("sources", "raw_shopify", "staging", "intermediate", "marts", "syncs")
WINDOW = "1600,1000"


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise SystemExit("headless Chromium is needed: apt-get install -y chromium (Debian/Ubuntu); .ci/run installs it")


def _chromium(url: str, budget_ms: int, *mode: str, profile: Path) -> subprocess.CompletedProcess:
    # --virtual-time-budget lets the React app run its timers and GraphQL requests before the
    # page is dumped or captured (virtual time waits while requests are pending).
    return subprocess.run(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--window-size={WINDOW}",
         f"--user-data-dir={profile}", f"--virtual-time-budget={budget_ms}", *mode, url],
        capture_output=True, timeout=180, check=False,
    )


def rendered(url: str, profile: Path, attempts: int = 4) -> int:
    """The smallest virtual-time budget (ms) after which the DOM shows every expected group."""
    budget = 15_000
    missing: list[str] = list(EXPECTED_GROUPS)
    for _ in range(attempts):
        dumped = _chromium(url, budget, "--dump-dom", profile=profile)
        if dumped.returncode != 0:
            raise SystemExit(f"chromium --dump-dom failed: {dumped.stderr.decode(errors='replace')[-2000:]}")
        dom = dumped.stdout.decode(errors="replace")
        missing = [g for g in EXPECTED_GROUPS if f">{g}<" not in dom]
        if not missing:
            return budget
        budget *= 2
    raise SystemExit(f"the asset graph did not render at {url} (groups missing: {', '.join(missing)})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "images" / "dagster_asset_graph.png")
    parser.add_argument("--warehouse", type=Path, default=REPO_ROOT / "data" / "cdp.duckdb",
                        help="CDP_DUCKDB_PATH for the server (not opened to draw the graph)")
    args = parser.parse_args(argv)
    chromium()  # fail before starting anything

    # A SIGTERM (a CI timeout, kill) must still stop the server's process group.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    root = Path(tempfile.mkdtemp(prefix="cdp-dagster-ui-"))
    started = time.monotonic()
    try:
        env = {"CDP_DUCKDB_PATH": str(args.warehouse.resolve())}
        with DagsterWebserver(root / "dagster_home", env=env) as server:
            # The UI greets a new instance served from localhost with a "join the community"
            # dialog over the graph; mark it seen, as clicking "Skip" would.
            server.graphql("mutation { setNuxSeen }")
            url = server.url + PAGE
            budget = rendered(url, root / "chromium")
            args.out.parent.mkdir(parents=True, exist_ok=True)
            shot = _chromium(url, budget, f"--screenshot={args.out.resolve()}", profile=root / "chromium")
            if shot.returncode != 0 or not args.out.exists():
                raise SystemExit(f"chromium failed: {shot.stderr.decode(errors='replace')[-2000:]}")
        print(f"{args.out} ({args.out.stat().st_size:,} bytes, {url}, virtual time {budget / 1000:.0f} s, "
              f"{time.monotonic() - started:.0f} s in all)")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
