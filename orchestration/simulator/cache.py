"""The simulated people's worlds, kept on disk between syncs.

A sync walks every chunk of people and builds each chunk's whole history (its people,
orders, sessions, events, emails, tickets, invoices, and how each person typed their
details) before it can tell what happened in its window: about 1 s a chunk, 50 chunks at
1,000,000 people, whether the window is two years or one hour. A real source system keeps
its records; this cache lets the simulated ones do the same. Each chunk's world is built
to ``LOOKAHEAD`` past the window it was first needed for and pickled; later windows that
end before that horizon load it (about 0.05 s) instead of building it again.

A world built further ahead delivers the same rows for a window (python_tests/
test_simulator.py checks it), so the cache changes the speed of a sync, never its rows
(python_tests/test_loads.py compares syncs with and without it). Entries are keyed by the
simulation (seed, people, as-of day) and by a hash of the simulator's code and data and of
numpy's version, so a code change or another simulation never reads a stale world; the
worlds of other keys are deleted when a sync first keeps one of its own, so a folder holds
one simulation's worlds.

Where: ``<warehouse file>.simcache/`` beside the DuckDB file the loads write, or the folder
named by CDP_SIMULATOR_CACHE; CDP_SIMULATOR_CACHE=off turns it off. About 55 MB a chunk
(2.6 GB at 1,000,000 people). It holds pickles: keep it where only you can write.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .activity import ChunkWorld
from .calendar import DAY
from .config import SimulationConfig
from .population import ChunkSpec

CACHE_ENV = "CDP_SIMULATOR_CACHE"
# How far past the window a world is built when it is cached: a week of hourly syncs.
LOOKAHEAD = 7 * DAY
# What connectors read of a world, computed before it is pickled so a loaded world computes nothing.
WORLD_PARTS = ("orders_and_lines", "sessions", "events", "tickets", "email_events", "invoices", "anonymous_ids",
               "anon_source_row")


@dataclass
class ChunkState:
    """One chunk's world, and the details its people typed into Shopify accounts and
    newsletter forms (None when no connector that reads them is syncing)."""

    world: ChunkWorld
    details: object | None
    form_email: np.ndarray | None


def build_chunk(cfg: SimulationConfig, spec: ChunkSpec, until: int, details: bool, form_email: bool) -> ChunkState:
    from .connectors.klaviyo import newsletter_email
    from .connectors.shopify import AccountDetails

    world = ChunkWorld.build(cfg, spec, until)
    return ChunkState(world, AccountDetails(cfg, world) if details else None,
                      newsletter_email(cfg, world.people) if form_email else None)


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """A hash of the simulator's code and reference data, and of numpy's version: what the
    worlds are a function of, besides the simulation's own settings."""
    digest = hashlib.sha256(np.__version__.encode())
    folder = Path(__file__).parent
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


class WorldCache:
    """Chunk worlds of one simulation, on disk under ``root``."""

    def __init__(self, root: Path, cfg: SimulationConfig):
        self.root = root
        self.cfg = cfg
        self.folder = root / f"seed{cfg.seed}-people{cfg.profiles}-asof{cfg.as_of}-{code_version()}"
        self.hits = 0
        self.builds = 0
        self.swept = False

    @classmethod
    def beside(cls, warehouse: Path, cfg: SimulationConfig) -> "WorldCache | None":
        """The cache of the simulation in the DuckDB file ``warehouse`` (None when turned off,
        or for a warehouse that is not a file)."""
        setting = os.environ.get(CACHE_ENV, "").strip()
        if setting.lower() in ("off", "0", "false", "no"):
            return None
        if setting:
            return cls(Path(setting), cfg)
        if str(warehouse) == ":memory:":
            return None
        return cls(warehouse.with_name(warehouse.name + ".simcache"), cfg)

    def _path(self, spec: ChunkSpec, horizon: int) -> Path:
        return self.folder / f"chunk-{spec.kind}-{spec.index}-until-{horizon}.pkl"

    def _cached(self, spec: ChunkSpec, until: int) -> list[tuple[int, Path]]:
        if not self.folder.is_dir():
            return []
        prefix = f"chunk-{spec.kind}-{spec.index}-until-"
        found = []
        for path in self.folder.glob(prefix + "*.pkl"):
            horizon = path.stem[len(prefix):]
            if horizon.lstrip("-").isdigit():
                found.append((int(horizon), path))
        return sorted(found)

    def chunk(self, spec: ChunkSpec, until: int) -> ChunkState:
        """The chunk's world reaching at least ``until``: from disk when a cached one reaches
        that far, else built to ``until + LOOKAHEAD`` and kept."""
        entries = self._cached(spec, until)
        for horizon, path in entries:
            if horizon >= until:
                try:
                    with open(path, "rb") as f:
                        state = pickle.load(f)
                except Exception:  # a damaged or unreadable entry is built again below
                    path.unlink(missing_ok=True)
                    continue
                self.hits += 1
                return state
        horizon = until + LOOKAHEAD
        state = build_chunk(self.cfg, spec, horizon, details=True, form_email=True)
        for part in WORLD_PARTS:
            getattr(state.world, part)
        self._store(spec, horizon, state, [p for _, p in entries])
        self.builds += 1
        return state

    def _store(self, spec: ChunkSpec, horizon: int, state: ChunkState, superseded: list[Path]) -> None:
        path = self._path(spec, horizon)
        scratch = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            if not self.swept:
                # Worlds of another simulation, or of other code, are stale: removed before the
                # first world this cache keeps.
                if self.root.is_dir():
                    for other in self.root.iterdir():
                        if other.is_dir() and other != self.folder:
                            shutil.rmtree(other, ignore_errors=True)
                self.folder.mkdir(parents=True, exist_ok=True)
                self.swept = True
            with open(scratch, "wb") as f:
                pickle.dump(state, f, protocol=5)
            os.replace(scratch, path)
        except OSError:  # a full disk or a read-only folder costs later syncs their speed, not this one its rows
            scratch.unlink(missing_ok=True)
            return
        for old in superseded:
            if old != path:
                old.unlink(missing_ok=True)
