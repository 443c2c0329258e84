"""``cdp``: generate and load the simulated sources, build the dbt project, run the demo."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from orchestration import settings


class CdpError(click.ClickException):
    """One line on stderr, exit status 2: what is wrong and how to fix it."""

    exit_code = 2

    def show(self, file=None) -> None:
        click.echo(f"error: {self.message}", err=True)


def _fail_cleanly(fn):
    """Turn the errors a user can fix into one line instead of a traceback."""
    import functools

    from orchestration.dbt.project import DbtConfigError
    from orchestration.lib.warehouse import WarehouseError as StagingError
    from orchestration.loads.warehouse import WarehouseError

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (WarehouseError, StagingError, DbtConfigError, ValueError, OverflowError) as exc:  # config and privacy errors too
            raise CdpError(str(exc)) from exc

    return wrapper


def _report(message: str) -> None:
    click.echo(message)


class _OneLineErrors(click.Group):
    """Usage mistakes (a missing value, a word where a number goes) get one line too."""

    def main(self, *args, **kwargs):
        kwargs["standalone_mode"] = False
        try:
            super().main(*args, **kwargs)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("error: aborted", err=True)
            sys.exit(1)
        except click.UsageError as exc:
            command = exc.ctx.command_path if exc.ctx else "cdp"
            click.echo(f"error: {exc.format_message()} (see `{command} --help`)", err=True)
            sys.exit(2)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        sys.exit(0)


@click.group(cls=_OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Warehouse-native CDP. The warehouse is the dbt target's (CDP_TARGET, default dev: the
    DuckDB file in CDP_DUCKDB_PATH, default data/cdp.duckdb under the project)."""


def _positive_int(name):
    def check(ctx, param, value):
        if value is not None and value < 1:
            raise CdpError(f"{name} must be a positive whole number, got {value}")
        return value
    return check


@main.command()
@click.option("--profiles", type=int, default=10_000, show_default=True, callback=_positive_int("--profiles"),
              help="Number of people in the simulated world.")
@click.option("--seed", type=int, default=42, show_default=True, help="Random seed; same seed, same data.")
@click.option("--as-of", "as_of", default=None, help="Last day of history (YYYY-MM-DD). Default: today (UTC).")
@click.option("--reset", is_flag=True, help="Replace a simulation the warehouse already holds.")
@click.option("--increment", is_flag=True, help="Advance the simulation clock and land what happened meanwhile.")
@click.option("--hours", type=float, default=24.0, show_default=True, help="With --increment: how far to advance.")
@_fail_cleanly
def generate(profiles, seed, as_of, reset, increment, hours):
    """Simulate the sources and land them the way Fivetran and Segment would."""
    from orchestration.loads.sync import advance, start_simulation

    path = settings.duckdb_path()
    if increment:
        result = advance(path, hours, report=_report)
    else:
        result = start_simulation(path, seed, profiles, as_of, reset=reset, report=_report)
    _print_rows(result)


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.option("--target", default=None, help="dbt target from profiles.yml (default: CDP_TARGET or dev).")
@click.argument("dbt_args", nargs=-1, type=click.UNPROCESSED)
@_fail_cleanly
def build(target, dbt_args):
    """Run `dbt build` (extra arguments go to dbt, e.g. `cdp build --select staging`)."""
    from orchestration.dbt.runner import run_dbt

    _require_warehouse(target)
    outcome = run_dbt(["build", *dbt_args], target=target)
    _print_dbt(outcome)
    if not outcome.success:
        sys.exit(1)


@main.command()
@click.option("--profiles", type=int, default=10_000, show_default=True, callback=_positive_int("--profiles"))
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--as-of", "as_of", default=None, help="Last day of history (YYYY-MM-DD). Default: today (UTC).")
@_fail_cleanly
def demo(profiles, seed, as_of):
    """Generate and load the sources, build the dbt project, and summarise what was built."""
    from orchestration.dbt.runner import run_dbt
    from orchestration.loads.sync import start_simulation

    started = time.monotonic()
    path = settings.duckdb_path()
    click.echo(f"== 1/2 Generating and loading {profiles:,} people into {path}")
    result = start_simulation(path, seed, profiles, as_of, report=_report, created_by="demo")
    click.echo("== 2/2 Building the dbt project (dbt build)")
    outcome = run_dbt(["build"], target="dev")
    click.echo("")
    click.echo(f"Demo finished in {time.monotonic() - started:.0f} s. Warehouse: {path} "
               f"({path.stat().st_size / 1e6:,.0f} MB)")
    _print_rows(result)
    _print_dbt(outcome)
    if outcome.success:
        _print_identity(path)
        _print_profiles(path)
        _print_segments(path)
        _score_predictions(path)
        _run_syncs(path)
    click.echo("Next: `cdp build` after editing models, `cdp generate --increment` to land a new day, "
               "`make dagster` for the asset graph.")
    if not outcome.success:
        sys.exit(1)


@main.group()
def segment() -> None:
    """Work with segment definitions (segments/*.yml)."""


@segment.command("size")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--sample", type=int, default=5, show_default=True, callback=_positive_int("--sample"),
              help="How many member profile ids to show.")
@click.option("--sql", "show_sql", is_flag=True, help="Print the compiled SQL as well.")
@_fail_cleanly
def segment_size(file, sample, show_sql):
    """Count a draft segment's members now, without a dbt build (the warehouse must be built)."""
    from orchestration.segments.compiler import size_definitions

    started = time.monotonic()
    if settings.dbt_target() != "dev":
        raise CdpError(f"`cdp segment size` sizes drafts on the DuckDB warehouse (target dev), and CDP_TARGET is "
                       f"'{settings.dbt_target()}'; on Snowflake, add the file to segments/ and run "
                       f"`dbt build -s int_segment_memberships_evaluated`")
    _require_warehouse("dev")
    sizes = size_definitions(file, settings.duckdb_path(), sample)
    elapsed = time.monotonic() - started
    for size in sizes:
        share = size.members / size.profiles if size.profiles else 0.0
        click.echo(f"{size.name} ({size.file}): {size.members:,} of {size.profiles:,} profiles ({share:.2%}) "
                   f"as of {size.as_of}")
        click.echo(f"  sample: {', '.join(size.sample) if size.sample else '(no members)'}")
    click.echo(f"Compiled and counted in {elapsed:.2f} s.")
    if show_sql and sizes:
        click.echo(sizes[0].sql)


@main.command()
@click.argument("name", required=False)
@click.option("--dry-run", is_flag=True, help="Plan and print counts and a sample; send nothing.")
@click.option("--allow-large-removal", is_flag=True, help="Let a mirror sync remove more than its max_remove_share.")
@click.option("--allow-size-change", is_flag=True, help="Apply although the source moved more than the sync's gate.")
@_fail_cleanly
def sync(name, dry_run, allow_large_removal, allow_size_change):
    """Run the syncs in syncs/*.yml (or the one named): diff against what was delivered, then send."""
    import json

    from orchestration.dbt.project import ensure_manifest
    from orchestration.exports.config import load_syncs
    from orchestration.exports.engine import describe, run_sync, sample_lines

    _require_warehouse(None)
    syncs = load_syncs()
    if name is not None and name not in syncs:
        raise CdpError(f"no sync named '{name}'; syncs: {', '.join(sorted(syncs)) or 'none (add one in syncs/)'}")
    chosen = [syncs[name]] if name else list(syncs.values())
    manifest = json.loads(ensure_manifest().read_text())
    bad = 0
    from orchestration.exports.gates import upstream_test_failures

    for spec in chosen:
        result = run_sync(spec, None, manifest, dry_run=dry_run,
                          allow_large_removal=allow_large_removal, allow_size_change=allow_size_change,
                          failed_upstream_tests=upstream_test_failures(manifest, spec.source_model),
                          log=lambda message, s=spec.name: click.echo(f"  {s}: {message}"))
        click.echo(describe(result))
        if dry_run:
            for line in sample_lines(result):
                click.echo(line)
        bad += result.status in ("failed", "partial", "refused")
    if bad:
        sys.exit(1)


@main.group()
def privacy() -> None:
    """GDPR/CCPA requests: forget a person, export what is held on them (README, "Privacy")."""


_TYPE_HELP = "What the identifier is (default: guessed: email, phone or profile_id)."


@privacy.command("forget")
@click.argument("identifier")
@click.option("--type", "identifier_type", default=None, help=_TYPE_HELP)
@click.option("--reason", default=None, help="Why (kept with the request).")
@_fail_cleanly
def privacy_forget(identifier, identifier_type, reason):
    """Record a deletion request: the next build removes the person everywhere."""
    from orchestration.privacy.requests import forget

    _require_warehouse(None)
    result = forget(None, identifier, identifier_type, reason)
    click.echo(f"forget request {result.request_id}: {result.profiles} profile(s) found, {result.suppressed} "
               f"identifier hashes suppressed, {result.raw_rows_purged:,} raw rows purged (seeds/privacy/"
               f"raw_purge_policy.csv). Next: `cdp build`, `cdp sync`, then `cdp privacy complete`.")


@privacy.command("export")
@click.argument("identifier")
@click.option("--type", "identifier_type", default=None, help=_TYPE_HELP)
@click.option("--output", type=click.Path(path_type=Path), required=True, help="Where to write the JSON document.")
@_fail_cleanly
def privacy_export(identifier, identifier_type, output):
    """Write everything held on a person as one JSON document."""
    from orchestration.privacy.requests import export

    _require_warehouse(None)
    request_id, rows = export(None, identifier, identifier_type, output)
    click.echo(f"export request {request_id}: {rows:,} rows written to {output}")


@privacy.command("complete")
@_fail_cleanly
def privacy_complete():
    """After a build and the syncs: scrub sync files and state, then close forget requests with no trace left."""
    from orchestration.privacy.requests import complete

    _require_warehouse(None)
    done = complete(None)
    click.echo(f"{done['completed']} forget request(s) completed, {done['open']} open; {done['files_rewritten']} sync "
               f"file(s) rewritten, {done['sync_state_rows_scrubbed']} sync state row(s) scrubbed")
    if done["traces"]:
        click.echo(f"still found in: {', '.join(done['traces'])} (run `cdp build` and `cdp sync` first)")
        sys.exit(1)


@main.command()
@click.option("--output", type=click.Path(path_type=Path), default=Path("report.html"), show_default=True,
              help="Where to write the HTML file.")
@click.option("--target", default=None, help="dbt target whose warehouse to read (default: CDP_TARGET or dev).")
@_fail_cleanly
def report(output, target):
    """Write one self-contained HTML report of the marts: health, segments, RFM, identity, quality, funnel,
    cohorts, attribution (docs/report.md)."""
    from orchestration.dbt.project import check_target
    from orchestration.report.build import write_report

    target = target or settings.dbt_target()
    check_target(target)
    _require_warehouse(target)
    result = write_report(output, target)
    click.echo(f"wrote {result.path} ({result.charts} charts, {result.path.stat().st_size / 1e3:,.0f} kB)")
    for section in result.sections:
        if not section.built:
            click.echo(f"  {section.title}: mart {', '.join(section.missing)} not built")
        elif section.error:
            click.echo(f"  {section.title}: could not read it ({section.error})")


def _require_warehouse(target) -> None:
    target = target or settings.dbt_target()
    if target == "dev" and not settings.duckdb_path().exists():
        raise CdpError(f"warehouse {settings.duckdb_path()} does not exist; run `cdp generate` (or `cdp demo`) first, "
                       f"or set CDP_DUCKDB_PATH")


def _print_identity(path) -> None:
    """Identity resolution in a few lines, scored against the simulator's truth."""
    import duckdb

    from orchestration.identity.evaluation import pairwise_scores

    con = duckdb.connect(str(path))  # read-write like dbt's own connection in this process
    try:
        records, profiles = con.execute(
            "select count(*), count(distinct profile_id) from intermediate.int_identity_record_profiles").fetchone()
        events, attributed = con.execute("select count(*), count(profile_id) from marts.profile_events").fetchone()
        quarantined = con.execute("select count(*) from marts.identity_quarantine").fetchone()[0]
        conflicts = con.execute("select count(*) from marts.identity_conflicts").fetchone()[0]
        scores = pairwise_scores(con)
    finally:
        con.close()
    click.echo(f"Identity: {records:,} person records -> {profiles:,} profiles "
               f"({records - profiles:,} merged into another record's profile); precision {scores.precision:.4f}, "
               f"recall {scores.recall:.4f} against the simulator's truth")
    click.echo(f"  {attributed:,} of {events:,} events attributed to a profile (the rest: devices nobody logged "
               f"in on); {quarantined} identifier values quarantined or blocked, {conflicts:,} links refused")


def _print_profiles(path) -> None:
    """Golden records and RFM in two lines, the golden record scored against the truth."""
    import duckdb

    from orchestration.profiles.evaluation import golden_record_accuracy

    con = duckdb.connect(str(path))
    try:
        profiles, emailable = con.execute("select count(*), count(*) filter (where can_email) from marts.profiles"
                                          ).fetchone()
        segments = con.execute("select rfm_segment, count(*) from marts.profile_rfm group by 1 order by 2 desc, 1"
                               ).fetchall()
        accuracy = golden_record_accuracy(con)
    finally:
        con.close()
    agree = ", ".join(f"{field.replace('_', ' ')} {accuracy[field]['accuracy']:.1%}"
                      for field in ("first_name", "last_name", "email", "city"))
    click.echo(f"Golden records: {profiles:,} profiles, {emailable:,} with email consent; agree with the truth: {agree}")
    if segments:
        top = ", ".join(f"{name} {n:,}" for name, n in segments[:4])
        click.echo(f"  RFM: {sum(n for _, n in segments):,} customers in {len(segments)} segments ({top}, ...)")


def _print_segments(path) -> None:
    """Segment sizes and audience sizes (with their holdouts) in two lines."""
    import duckdb

    con = duckdb.connect(str(path))
    try:
        sizes = con.execute("select segment_name, count(*) from marts.segment_memberships group by 1 order by 2 desc, 1"
                            ).fetchall()
        defined = con.execute("select count(distinct segment_name) from marts.segment_sizes").fetchone()[0]
        audiences = con.execute("""
            select audience_name, sum(case when not is_holdout then 1 else 0 end), sum(case when is_holdout then 1 else 0 end)
            from intermediate.int_audience_assignments group by 1 order by 1""").fetchall()
    finally:
        con.close()
    listed = ", ".join(f"{name} {n:,}" for name, n in sizes)
    click.echo(f"Segments: {defined} defined in segments/ ({listed or 'no members'})")
    if audiences:
        listed = ", ".join(f"{name} {sent:,}" + (f" (+{held:,} held out)" if held else "") for name, sent, held in audiences)
        click.echo(f"  Audiences after consent, suppression and priority: {listed}")


def _run_syncs(path) -> None:
    """The syncs of syncs/*.yml, one line for all (they write files under exports/)."""
    import json

    from orchestration.dbt.project import ensure_manifest
    from orchestration.exports.config import load_syncs
    from orchestration.exports.engine import run_sync

    manifest = json.loads(ensure_manifest().read_text())
    done = []
    for spec in load_syncs().values():
        result = run_sync(spec, path, manifest)
        done.append(f"{spec.name} {result.status}, {result.sent:,} sent")
    if done:
        click.echo(f"Syncs (cdp sync; files under exports/): {'; '.join(done)}")


def _score_predictions(path) -> None:
    """What the Dagster asset profile_predictions does after the build, summarised."""
    from orchestration.predictions.clv import score_warehouse

    figures = score_warehouse(path)
    if "unscored" in figures:
        click.echo(f"Predictions: not scored ({figures['unscored']})")
        return
    e = figures.get("evaluation", {})
    line = f"Predictions: churn risk and 12-month value for {figures['customers']:,} customers"
    if "churn_auc" in e:
        line += (f"; on a time split churn AUC {e['churn_auc']:.3f} (days-since-last-order baseline "
                 f"{e['churn_auc_baseline_recency']:.3f})")
    click.echo(line)


def _print_rows(result) -> None:
    per_source = result.per_source()
    if not per_source:
        return
    click.echo("Rows landed per source:")
    for source, (tables, n) in sorted(per_source.items()):
        click.echo(f"  {source:<11} {tables:>2} tables {n:>12,} rows")
    click.echo(f"  {'total':<11} {sum(t for t, _ in per_source.values()):>2} tables "
               f"{sum(n for _, n in per_source.values()):>12,} rows")


def _print_dbt(outcome) -> None:
    built = outcome.count("model", "success")
    passed = outcome.count("test", "pass")
    warned = outcome.count("test", "warn")
    failed = outcome.count("test", "fail", "error") + outcome.count("model", "error")
    click.echo(f"dbt build: {built} models built, {passed} tests passed, {warned} warned, {failed} failed")
    for line in outcome.failures[:10]:
        click.echo(f"  failed: {line}")


if __name__ == "__main__":
    main()
