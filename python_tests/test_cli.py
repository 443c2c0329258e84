"""The `cdp` command: what a user types, and the one-line errors they get for bad input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

CDP = [str(Path(sys.executable).parent / "cdp")]


def run(args, env_extra=None, timeout=600):
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run(CDP + args, capture_output=True, text=True, env=env, timeout=timeout)


def _one_line_error(proc, *fragments):
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error:")
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert "Traceback" not in proc.stderr


def test_help_lists_the_commands():
    out = run(["--help"])
    assert out.returncode == 0
    for command in ("generate", "build", "demo"):
        assert command in out.stdout


def test_negative_scale_is_refused(tmp_path):
    proc = run(["generate", "--profiles", "-5"], {"CDP_DUCKDB_PATH": str(tmp_path / "w.duckdb")})
    _one_line_error(proc, "--profiles", "positive")
    assert not (tmp_path / "w.duckdb").exists()


def test_bad_date_and_hours_are_refused(tmp_path):
    _one_line_error(run(["generate", "--as-of", "last tuesday"], {"CDP_DUCKDB_PATH": str(tmp_path / "w.duckdb")}),
                    "--as-of")
    _one_line_error(run(["generate", "--increment", "--hours", "0"], {"CDP_DUCKDB_PATH": str(tmp_path / "w.duckdb")}),
                    "--hours")


def test_unreadable_warehouse_path(tmp_path):
    _one_line_error(run(["generate"], {"CDP_DUCKDB_PATH": str(tmp_path)}), "directory", "CDP_DUCKDB_PATH")
    # A folder that cannot exist because a file is in the way (this holds even for root).
    blocker = tmp_path / "plain-file"
    blocker.write_text("x")
    _one_line_error(run(["generate"], {"CDP_DUCKDB_PATH": str(blocker / "w.duckdb")}), "cannot create the folder",
                    "CDP_DUCKDB_PATH")
    # A file that is not a DuckDB database is reported, and left as it was.
    junk = tmp_path / "notes.duckdb"
    junk.write_text("not a database")
    _one_line_error(run(["generate"], {"CDP_DUCKDB_PATH": str(junk)}), "cannot open warehouse", "CDP_DUCKDB_PATH")
    assert junk.read_text() == "not a database"


def test_missing_dbt_target_and_missing_warehouse(tmp_path):
    _one_line_error(run(["build", "--target", "nope"], {"CDP_DUCKDB_PATH": str(tmp_path / "w.duckdb")}),
                    "nope", "profiles.yml")
    _one_line_error(run(["build"], {"CDP_DUCKDB_PATH": str(tmp_path / "w.duckdb")}), "does not exist", "cdp generate")
    env = {k: "" for k in ("SNOWFLAKE_ACCOUNT", "SNOWFLAKE_USER", "SNOWFLAKE_PASSWORD", "SNOWFLAKE_PRIVATE_KEY_PATH")}
    _one_line_error(run(["build", "--target", "snowflake"], env), "SNOWFLAKE_ACCOUNT")


def test_generate_increment_and_refusal_to_overwrite(tmp_path):
    env = {"CDP_DUCKDB_PATH": str(tmp_path / "w.duckdb")}
    first = run(["generate", "--profiles", "300", "--seed", "5", "--as-of", "2026-02-01"], env)
    assert first.returncode == 0, first.stderr
    assert "historical sync for 300 people" in first.stdout and "generated 1/1 chunks" in first.stdout
    assert "Rows landed per source" in first.stdout
    con = duckdb.connect(env["CDP_DUCKDB_PATH"], read_only=True)
    before = con.execute("select count(*) from shopify.customer").fetchone()[0]
    con.close()
    again = run(["generate", "--profiles", "900", "--seed", "5"], env)
    _one_line_error(again, "already holds a different simulation", "--reset")
    con = duckdb.connect(env["CDP_DUCKDB_PATH"], read_only=True)
    assert con.execute("select count(*) from shopify.customer").fetchone()[0] == before
    con.close()
    inc = run(["generate", "--increment", "--hours", "48"], env)
    assert inc.returncode == 0, inc.stderr
    assert "clock advancing to 2026-02-03 00:00 UTC" in inc.stdout


@pytest.mark.slow
def test_demo_generates_builds_and_summarises(tmp_path):
    env = {"CDP_DUCKDB_PATH": str(tmp_path / "demo.duckdb")}
    proc = run(["demo", "--profiles", "800", "--as-of", "2026-04-01"], env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert "Rows landed per source" in out
    for source in ("shopify", "klaviyo", "stripe", "zendesk", "salesforce", "segment"):
        assert f"  {source}" in out
    assert "dbt build:" in out and "0 failed" in out
    assert "Identity:" in out and "Golden records:" in out and "RFM:" in out
    assert "Segments: 6 defined" in out and "Audiences after consent" in out
    assert "Syncs (cdp sync; files under exports/): vip_winback_to_parquet " in out  # succeeded, or nothing_to_do
    assert "failed" not in out.split("Syncs (cdp sync", 1)[1].splitlines()[0]
    # (A second demo replacing the first: test_loads.py::test_a_demo_replaces_only_a_previous_demo.)


def test_increment_without_a_warehouse_creates_nothing(tmp_path):
    path = tmp_path / "w.duckdb"
    _one_line_error(run(["generate", "--increment"], {"CDP_DUCKDB_PATH": str(path)}), "does not exist", "cdp generate")
    _one_line_error(run(["generate", "--increment", "--hours", "inf"], {"CDP_DUCKDB_PATH": str(path)}), "--hours")
    _one_line_error(run(["generate", "--seed", str(2 ** 64)], {"CDP_DUCKDB_PATH": str(path)}), "--seed")
    assert not path.exists()
