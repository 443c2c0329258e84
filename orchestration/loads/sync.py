"""Connector syncs against the simulated sources: start a simulation, advance its clock,
sync connectors up to the clock, replay a past sync.

Each connector keeps its own position (the end of its last sync window), as Fivetran
connectors do; a sync covers ``(last end, clock]``. The first sync of a connector is
its historical sync: everything up to the clock.
"""

from __future__ import annotations

import datetime as dt
import math
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from orchestration.simulator.cache import WorldCache
from orchestration.simulator.config import SimulationConfig
from orchestration.simulator.connectors.base import Window
from orchestration.simulator.generate import CONNECTORS, Progress, generate_window

from .warehouse import Warehouse, WarehouseError, open_warehouse

INITIAL_LO = -1  # window start of a historical sync: everything before the clock
EPOCH = dt.datetime(1970, 1, 1)

Reporter = Callable[[str], None]


def _ts(seconds: int) -> dt.datetime:
    return EPOCH + dt.timedelta(seconds=int(seconds))


def _secs(value: dt.datetime) -> int:
    return int((value - EPOCH).total_seconds())


@dataclass
class SyncResult:
    rows: dict = field(default_factory=dict)          # (source, table) -> rows inserted or replaced
    windows: dict = field(default_factory=dict)       # connector -> (sync_no, lo, hi)
    seconds: float = 0.0

    def per_source(self, include_internal: bool = False) -> dict[str, tuple[int, int]]:
        """source -> (tables, rows); internal schemas (``_truth``) only if asked."""
        out: dict[str, tuple[int, int]] = {}
        for (source, _table), n in self.rows.items():
            if include_internal or not source.startswith("_"):
                tables, rows = out.get(source, (0, 0))
                out[source] = (tables + 1, rows + n)
        return out

    @property
    def total(self) -> int:
        return sum(n for _, n in self.per_source().values())


def _config(wh: Warehouse) -> SimulationConfig:
    sim = wh.simulation()
    if sim is None:
        raise WarehouseError("this warehouse holds no simulation yet; run `cdp generate` first")
    return SimulationConfig(seed=sim.seed, profiles=sim.profiles, as_of=_secs(sim.as_of))


def start_simulation(path: Path, seed: int, profiles: int, as_of: str | dt.date | None,
                     reset: bool = False, report: Reporter = print, created_by: str = "generate",
                     run_syncs: bool = True) -> SyncResult:
    """Create the simulation and (unless ``run_syncs`` is false) run every connector's
    historical sync. A warehouse that already holds data is only replaced with ``reset``,
    except that a simulation the demo created may be replaced by the demo."""
    cfg = SimulationConfig.create(seed, profiles, as_of)  # validates before touching the warehouse
    cfg.calendar()  # and the calendar it needs
    with open_warehouse(path) as wh:
        existing = wh.simulation()
        if existing is not None and not reset and not (created_by == "demo" and existing.created_by == "demo"):
            same = (existing.seed, existing.profiles, _secs(existing.as_of)) == (cfg.seed, cfg.profiles, cfg.as_of)
            detail = (f"seed {existing.seed}, {existing.profiles:,} profiles, as of {existing.as_of:%Y-%m-%d}, "
                      f"clock at {existing.clock:%Y-%m-%d %H:%M}")
            if same and any(wh.last_sync(c)[1] is None for c in CONNECTORS):
                report(f"resuming the interrupted historical sync in {path}")
                return _sync(wh, cfg, CONNECTORS, report, worlds=WorldCache.beside(path, cfg)) if run_syncs \
                    else SyncResult()
            if same:
                raise WarehouseError(f"{path} already holds this simulation ({detail}); use `cdp generate --increment` "
                                     f"to land new data or add --reset to start again")
            raise WarehouseError(f"{path} already holds a different simulation ({detail}); add --reset to replace "
                                 f"it or set CDP_DUCKDB_PATH to another file")
        if existing is None:
            foreign = wh.raw_schemas_present()
            if foreign:
                raise WarehouseError(f"{path} already has raw schemas {', '.join(foreign)} that the simulator did not "
                                     f"write; refusing to touch them: set CDP_DUCKDB_PATH to another file")
        else:
            derived = wh.drop_simulated()
            report(f"replaced the previous simulation in {path}"
                   + (f", and dropped what was built from it (schemas {', '.join(derived)}): the next "
                      f"`dbt build` builds them afresh" if derived else ""))
        wh.ensure_meta()
        wh.set_simulation(cfg.seed, cfg.profiles, _ts(cfg.as_of), _ts(cfg.as_of), created_by)
        if not run_syncs:
            return SyncResult()
        return _sync(wh, cfg, CONNECTORS, report, worlds=WorldCache.beside(path, cfg))


def _check_hours(hours: float) -> None:
    if isinstance(hours, bool) or not (isinstance(hours, (int, float)) and math.isfinite(hours) and hours > 0):
        raise ValueError(f"--hours must be a positive number of hours, got {hours!r}")


def _new_clock(wh: Warehouse, cfg: SimulationConfig, hours: float) -> dt.datetime:
    """The clock ``hours`` later, refusing what the simulated calendar cannot hold (callers
    have checked ``hours`` before opening the warehouse)."""
    clock = wh.simulation().clock
    end = _ts(cfg.calendar().end)
    if hours > (end - clock).total_seconds() / 3600:
        raise ValueError(f"--hours {hours:g} would move the clock past the end of the simulated calendar "
                         f"({end:%Y-%m-%d}); start a newer simulation with --reset --as-of")
    return clock + dt.timedelta(hours=hours)


def advance(path: Path, hours: float, report: Reporter = print) -> SyncResult:
    """Move the simulation clock forward and sync every connector up to it. The clock moves
    in the same transaction as the data: a failed increment leaves both as they were."""
    _check_hours(hours)
    with open_warehouse(path, must_exist=True) as wh:
        cfg = _config(wh)
        clock = _new_clock(wh, cfg, hours)
        report(f"clock advancing to {clock:%Y-%m-%d %H:%M} UTC")
        return _sync(wh, cfg, CONNECTORS, report, clock=clock, worlds=WorldCache.beside(path, cfg))


def advance_clock(path: Path, hours: float) -> dt.datetime:
    """Move the clock only (Dagster's simulation asset); connectors sync separately."""
    _check_hours(hours)
    with open_warehouse(path, must_exist=True) as wh:
        cfg = _config(wh)
        clock = _new_clock(wh, cfg, hours)
        wh.advance_clock(clock)
        return clock


def sync(path: Path, connectors: Iterable[str] = CONNECTORS, report: Reporter = print) -> SyncResult:
    """Sync the given connectors up to the current clock."""
    connectors = tuple(connectors)
    unknown = sorted(set(connectors) - set(CONNECTORS))
    if unknown:
        raise ValueError(f"unknown connector(s) {', '.join(unknown)}; choose from {', '.join(CONNECTORS)}")
    with open_warehouse(path, must_exist=True) as wh:
        cfg = _config(wh)
        return _sync(wh, cfg, connectors, report, worlds=WorldCache.beside(path, cfg))


def replay(path: Path, connector: str, sync_no: int, report: Reporter = print) -> SyncResult:
    """Land a past sync window of one connector again (it must change nothing)."""
    with open_warehouse(path, must_exist=True) as wh:
        cfg = _config(wh)
        lo, hi = wh.sync_window(connector, sync_no)
        window = Window(INITIAL_LO if lo is None else _secs(lo), _secs(hi), cfg.seed)
        return _land(wh, cfg, [connector], window, {}, None, report, WorldCache.beside(path, cfg))


def _sync(wh: Warehouse, cfg: SimulationConfig, connectors, report: Reporter,
          clock: dt.datetime | None = None, worlds: WorldCache | None = None) -> SyncResult:
    """Sync ``connectors`` up to ``clock`` (default: the stored clock; a new clock is stored
    with the last group's data), with the chunk worlds of ``worlds`` when given."""
    new_clock = clock
    until = _secs(clock or wh.simulation().clock)
    groups: dict[int, list[str]] = {}
    syncs = {}
    for c in connectors:
        last_no, last_end = wh.last_sync(c)
        lo = INITIAL_LO if last_end is None else _secs(last_end)
        if lo >= until:
            continue
        groups.setdefault(lo, []).append(c)
        syncs[c] = (last_no + 1, last_end, _ts(until))
    result = SyncResult()
    if not groups:
        if new_clock is not None:
            wh.advance_clock(new_clock)
        report("every connector is up to date with the clock")
        return result
    ordered = sorted(groups.items())
    for i, (lo, group) in enumerate(ordered):
        window = Window(lo, until, cfg.seed)
        last = i == len(ordered) - 1
        part = _land(wh, cfg, group, window, {c: syncs[c] for c in group}, new_clock if last else None, report,
                     worlds)
        result.rows.update(part.rows)
        result.windows.update(part.windows)
        result.seconds += part.seconds
    return result


class _BackgroundWriter:
    """Writes each chunk's rows to the staging tables on a second thread while the next
    chunk is generated (DuckDB releases the GIL): generation and compression overlap on
    two cores. At most four chunks are in memory: two queued, one being written, one being
    generated."""

    def __init__(self, wh: Warehouse):
        self.wh = wh
        self.queue: queue.Queue = queue.Queue(maxsize=2)
        self.error: BaseException | None = None
        self.stopping = False
        self.thread = threading.Thread(target=self._run, name="cdp-stage-writer", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            batch = self.queue.get()
            if batch is None:
                return
            if self.error is None and not self.stopping:
                try:
                    self.wh.flush_stage(batch)
                except BaseException as exc:  # reported to the generating thread
                    self.error = exc

    def put(self, batch) -> None:
        if self.error is not None:
            raise self.error
        if batch:
            self.queue.put(batch)

    def close(self, abandon: bool = False) -> None:
        """Wait for the writer to finish (dropping queued work if ``abandon``). Only after
        this returns may another thread use the connection again."""
        self.stopping = self.stopping or abandon
        if abandon:
            while True:
                try:
                    self.queue.get_nowait()
                except queue.Empty:
                    break
        self.queue.put(None)
        while self.thread.is_alive():
            try:
                self.thread.join()
            except KeyboardInterrupt:  # a second Ctrl-C must not leave the writer running
                self.stopping = True
        if self.error is not None and not abandon:
            raise self.error


def _land(wh: Warehouse, cfg: SimulationConfig, connectors: list[str], window: Window, syncs: dict,
          clock: dt.datetime | None, report: Reporter, worlds: WorldCache | None = None) -> SyncResult:
    started = time.monotonic()
    started_at = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    label = "historical sync" if window.lo == INITIAL_LO else \
        f"sync of ({_ts(window.lo):%Y-%m-%d %H:%M}, {_ts(window.hi):%Y-%m-%d %H:%M}]"
    report(f"{', '.join(connectors)}: {label} for {cfg.profiles:,} people (seed {cfg.seed})")
    wh.ensure_meta()
    wh.ensure_raw_tables(connectors)
    wh.drop_stage()  # leftovers of a run that was killed
    last_report = [0.0]
    hits, builds = (worlds.hits, worlds.builds) if worlds else (0, 0)
    writer = _BackgroundWriter(wh)

    def on_chunk(done: int, total: int, progress: Progress) -> None:
        writer.put(wh.take_pending())
        now = time.monotonic()
        if done == total or now - last_report[0] > 5:
            last_report[0] = now
            report(f"  generated {done}/{total} chunks, {progress.total:,} rows, {now - started:.0f} s")

    try:
        try:
            generate_window(cfg, window, wh.stage, connectors, on_chunk=on_chunk, worlds=worlds)
        except BaseException:
            writer.close(abandon=True)
            raise
        writer.close()
        merged = wh.merge_staged(syncs, started_at, clock=clock)
    except BaseException:
        wh.drop_stage()
        raise
    result = SyncResult(rows=merged, windows=syncs, seconds=time.monotonic() - started)
    cached = (f"; chunk worlds: {worlds.hits - hits} from the cache, {worlds.builds - builds} built"
              if worlds else "")
    report(f"  landed {result.total:,} rows in {result.seconds:.1f} s{cached}")
    return result
