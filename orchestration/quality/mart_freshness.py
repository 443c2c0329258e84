"""Freshness of the marts: has each published mart been rebuilt recently enough?

The source freshness checks (checks.py) ask whether the *data* is recent (the newest
``_fivetran_synced`` against the clock). These ask whether the *pipeline* kept up: each
mart's last materialization, in wall-clock time, is at most ``CDP_MART_FRESHNESS_HOURS``
(default 3: the marts rebuild every hour, so two missed hours in a row) old. A failed load,
a stopped schedule or a stuck queue all show up here, whatever the cause.

They run in the daily quality job and, with ``mart_freshness_sensor`` on, as soon as a
mart passes its deadline."""

from __future__ import annotations

import datetime as dt
import os
import warnings

import dagster as dg

from orchestration.dbt.assets import cdp_dbt_assets
from orchestration.predictions.assets import profile_predictions

HOURS_ENV = "CDP_MART_FRESHNESS_HOURS"
DEFAULT_HOURS = 3.0


def freshness_hours() -> float:
    raw = os.environ.get(HOURS_ENV, "").strip()
    if not raw:
        return DEFAULT_HOURS
    try:
        hours = float(raw)
    except ValueError:
        hours = -1.0
    if hours <= 0:
        raise ValueError(f"{HOURS_ENV} must be a positive number of hours, got {raw!r}; "
                         f"unset it for the default of {DEFAULT_HOURS:g}")
    return hours


def mart_keys() -> list[dg.AssetKey]:
    """The dbt models of the marts layer, and the scores the Python asset publishes."""
    groups = cdp_dbt_assets.group_names_by_key
    return sorted((k for k in cdp_dbt_assets.keys if groups.get(k) == "marts"), key=lambda k: k.to_user_string()) \
        + list(profile_predictions.keys)


# Dagster 1.13 calls these builders superseded by FreshnessPolicy, which is still in preview
# (a flag in dagster.yaml, evaluated by a daemon, no check result to run or test): the
# checks stay until policies leave preview (docs/decisions.md). The warning is known.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", category=dg.SupersessionWarning)
    mart_freshness_checks = dg.build_last_update_freshness_checks(
        assets=mart_keys(),
        lower_bound_delta=dt.timedelta(hours=freshness_hours()),
        severity=dg.AssetCheckSeverity.ERROR,
    )
    # Evaluates each check when it could have changed (a mart passing its deadline) and
    # launches a run of the checks due; off until switched on, like the schedules.
    mart_freshness_sensor = dg.build_sensor_for_freshness_checks(
        freshness_checks=mart_freshness_checks,
        name="mart_freshness_sensor",
        default_status=dg.DefaultSensorStatus.STOPPED,
    )
