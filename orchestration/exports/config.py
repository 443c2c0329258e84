"""Sync declarations: syncs/*.yml, each holding a list under `syncs:`.

    syncs:
      - name: vip_winback_webhook          # snake_case, unique
        source: {audience: email_vip_winback}   # or {model: profiles}
        purpose: email                     # email | sms | ads | analytics (the consent a row needs)
        destination: {type: webhook, url: "${CDP_WEBHOOK_URL}", secret: "${CDP_WEBHOOK_SECRET}"}
        mode: upsert                       # upsert | insert | update | mirror
        primary_key: profile_id
        fields: {email: email, first_name: first_name}   # destination field: source column
        schedule: "0 * * * *"              # cron, for Dagster
        mirror: {max_remove_share: 0.2}    # mirror only: refuse to remove more than this share
        gate: {max_size_change_share: 0.5} # refuse to apply when the source moved more than this

`${NAME}` in a destination setting is read from the environment when the sync runs, so
secrets never live in the file. Every mistake is a SyncConfigError naming the file, the
sync and the fix.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from orchestration import settings

MODES = ("upsert", "insert", "update", "mirror")
PURPOSES = ("email", "sms", "ads", "analytics")
NAME = re.compile(r"^[a-z][a-z0-9_]*$")
COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
ENV_REFERENCE = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)\}")


class SyncConfigError(ValueError):
    """A sync declaration that cannot work; the message names the file, the sync and the fix."""


@dataclass(frozen=True)
class SyncSpec:
    name: str
    file: str
    source_model: str
    audience: str | None
    purpose: str
    destination: dict[str, Any]
    mode: str
    primary_key: str
    fields: dict[str, str]
    schedule: str | None = None
    max_remove_share: float = 0.2
    max_size_change_share: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def destination_type(self) -> str:
        return self.destination["type"]

    @property
    def replaces_audience(self) -> bool:
        """The destination swaps its whole audience for each run's rows (Meta's replace session,
        Google's removeAll job): the engine then sends every current row when anything changed."""
        return self.destination.get("mode") == "replace"

    def resolved_destination(self) -> dict[str, Any]:
        """The destination settings with ${ENV} references read from the environment."""
        def resolve(value):
            if isinstance(value, str):
                def lookup(match):
                    name = match.group(1)
                    if name not in os.environ:
                        raise SyncConfigError(f"{self.file}: sync '{self.name}': environment variable {name} is not "
                                              f"set (the destination reads it); export it or change the setting")
                    return os.environ[name]
                return ENV_REFERENCE.sub(lookup, value)
            if isinstance(value, dict):
                return {k: resolve(v) for k, v in value.items()}
            if isinstance(value, list):
                return [resolve(v) for v in value]
            return value
        return resolve(dict(self.destination))


def syncs_dir() -> Path:
    """syncs/ in the project, or CDP_SYNCS_DIR (tests and separate deployments point it elsewhere)."""
    return Path(os.environ.get("CDP_SYNCS_DIR", settings.PROJECT_DIR / "syncs"))


def _error(file: str, name: str | None, message: str) -> SyncConfigError:
    where = f"{file}: sync '{name}'" if name else file
    return SyncConfigError(f"{where}: {message}")


def _share(file, name, value, key) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise _error(file, name, f"{key} is a share from 0 to 1 (e.g. 0.2), got {value!r}")
    return float(value)


def parse_sync(entry: Any, file: str) -> SyncSpec:
    if not isinstance(entry, dict):
        raise _error(file, None, f"each entry under syncs: is a mapping, got {entry!r}")
    name = entry.get("name")
    if not isinstance(name, str) or not NAME.match(name):
        raise _error(file, None, f"every sync needs a snake_case name (got {name!r})")
    known = {"name", "source", "purpose", "destination", "mode", "primary_key", "fields", "schedule", "mirror", "gate",
             "description"}
    for key in entry:
        if key not in known:
            raise _error(file, name, f"unknown key '{key}'; a sync has {', '.join(sorted(known))}")
    source = entry.get("source")
    if not isinstance(source, dict) or len([k for k in ("audience", "model") if k in source]) != 1:
        raise _error(file, name, "source is {audience: <audience name>} or {model: <mart name>}")
    audience = source.get("audience")
    model = "audience_members" if audience else source.get("model")
    for value in (audience, model):
        if value is not None and (not isinstance(value, str) or not COLUMN.match(value)):
            raise _error(file, name, f"source names a model or audience by its plain name, got {value!r}")
    purpose = entry.get("purpose")
    if purpose not in PURPOSES:
        raise _error(file, name, f"purpose is one of {', '.join(PURPOSES)} (the consent each row needs; analytics "
                                 f"sends to internal systems only), got {purpose!r}")
    mode = entry.get("mode", "upsert")
    if mode not in MODES:
        raise _error(file, name, f"mode is one of {', '.join(MODES)}, got {mode!r}")
    destination = entry.get("destination")
    if not isinstance(destination, dict) or not isinstance(destination.get("type"), str):
        raise _error(file, name, "destination needs a type (file, webhook, postgres, klaviyo, klaviyo_list, "
                                 "meta_custom_audience, google_ads_customer_match, hubspot, salesforce) and its "
                                 "settings (docs/destinations.md)")
    if destination.get("mode") == "replace" and mode != "mirror":
        raise _error(file, name, f"destination mode replace swaps the destination's whole audience for this run's "
                                 f"rows, which is what the sync's mode: mirror means; set mode: mirror (got {mode})")
    primary_key = entry.get("primary_key", "profile_id")
    if not isinstance(primary_key, str) or not COLUMN.match(primary_key):
        raise _error(file, name, f"primary_key is one column name, got {primary_key!r}")
    fields = entry.get("fields")
    if not isinstance(fields, dict) or not fields:
        raise _error(file, name, "fields maps destination fields to source columns, e.g. {email: email}")
    for target, column in fields.items():
        if not isinstance(target, str) or not COLUMN.match(target) or not isinstance(column, str) \
                or not COLUMN.match(column):
            raise _error(file, name, f"fields: '{target}: {column}' must map a plain field name to a plain column name")
    mirror = entry.get("mirror") or {}
    gate = entry.get("gate") or {}
    if not isinstance(mirror, dict) or not isinstance(gate, dict):
        raise _error(file, name, "mirror and gate are mappings, e.g. mirror: {max_remove_share: 0.2}")
    max_remove = _share(file, name, mirror.get("max_remove_share", 0.2), "mirror.max_remove_share")
    max_change = gate.get("max_size_change_share")
    if max_change is not None:
        max_change = _share(file, name, max_change, "gate.max_size_change_share") if max_change <= 1 else \
            float(max_change)
    schedule = entry.get("schedule")
    if schedule is not None and (not isinstance(schedule, str) or len(schedule.split()) != 5):
        raise _error(file, name, f"schedule is a cron expression of five fields, e.g. '0 * * * *', got {schedule!r}")
    return SyncSpec(name=name, file=file, source_model=model, audience=audience, purpose=purpose,
                    destination=dict(destination), mode=mode, primary_key=primary_key, fields=dict(fields),
                    schedule=schedule, max_remove_share=max_remove, max_size_change_share=max_change)


def load_syncs(folder: Path | None = None) -> dict[str, SyncSpec]:
    """Every sync declared in syncs/*.yml, by name."""
    folder = folder or syncs_dir()
    found: dict[str, SyncSpec] = {}
    for path in sorted(folder.glob("*.yml")) if folder.is_dir() else []:
        relative = str(path.relative_to(settings.PROJECT_DIR)) if path.is_relative_to(settings.PROJECT_DIR) else str(path)
        try:
            document = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise SyncConfigError(f"{relative}: not valid YAML ({exc})") from exc
        entries = document.get("syncs") if isinstance(document, dict) else None
        if not isinstance(entries, list):
            raise SyncConfigError(f"{relative}: a sync file holds a list under 'syncs:'")
        for entry in entries:
            spec = parse_sync(entry, relative)
            if spec.name in found:
                raise _error(relative, spec.name, f"the name is also used in {found[spec.name].file}; names are unique")
            found[spec.name] = spec
    return found
