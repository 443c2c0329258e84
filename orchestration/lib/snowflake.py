"""A Snowflake connection for the Python steps (predictions), with exactly the settings dbt
uses: the target's output in profiles.yml, rendered with the same ``env_var()`` calls, and
turned into connector arguments by dbt-snowflake's own credentials class. A password, a key
pair or SNOWFLAKE_HOST / SNOWFLAKE_PORT / SNOWFLAKE_PROTOCOL (an emulator) then work here
as they do for dbt, and a change to profiles.yml needs no change here."""

from __future__ import annotations

import os

import jinja2
import yaml

from orchestration import settings
from orchestration.dbt.project import DbtConfigError, check_target

_MISSING = object()


def _env_var(name: str, default=_MISSING) -> str:
    """dbt's env_var(): the variable, else the default, else an error naming it."""
    if name in os.environ:
        return os.environ[name]
    if default is _MISSING:
        raise DbtConfigError(f"profiles.yml needs environment variable {name}; see README 'Running on Snowflake'")
    return str(default)


def profile_output(target: str = "snowflake") -> dict:
    """The target's output of profiles.yml, every Jinja value rendered."""
    doc = yaml.safe_load((settings.profiles_dir() / "profiles.yml").read_text())
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined)
    rendered = {}
    for key, value in doc["cdp"]["outputs"][target].items():
        if isinstance(value, str):
            value = environment.from_string(value).render(env_var=_env_var)
        rendered[key] = value
    return rendered


def connect_args(target: str = "snowflake") -> dict:
    """Keyword arguments for ``snowflake.connector.connect``, built as dbt-snowflake builds
    them (SnowflakeConnectionManager.open): the credentials' ``auth_args()`` (password, key
    pair read from its file, host, port, protocol) plus database, schema, warehouse, role and
    the query tag. Parameters are bound with ``?`` (qmark), which DuckDB understands too."""
    from dbt.adapters.snowflake.connections import SnowflakeCredentials

    check_target(target)
    output = profile_output(target)
    if output.get("type") != "snowflake":
        raise DbtConfigError(f"dbt target '{target}' is a {output.get('type')} target, not snowflake")
    fields = {k: v for k, v in output.items() if k not in ("type", "threads")}
    for key in ("port", "proxy_port", "connect_timeout", "connect_retries"):
        if fields.get(key) not in (None, ""):
            fields[key] = int(fields[key])
    # Empty strings are how profiles.yml says "not set"; the credentials treat None so.
    fields = {k: (None if v == "" else v) for k, v in fields.items()}
    creds = SnowflakeCredentials.from_dict(fields)
    args = {
        "account": creds.account, "database": creds.database, "schema": creds.schema,
        "warehouse": creds.warehouse, "role": creds.role, "autocommit": True,
        "client_session_keep_alive": creds.client_session_keep_alive, "application": "cdp",
        "paramstyle": "qmark", **creds.auth_args(),
    }
    if creds.query_tag:
        args["session_parameters"] = {"QUERY_TAG": creds.query_tag}
    return args


def connect(target: str = "snowflake"):
    """An open connection to the target's database and schema (close it when done)."""
    import snowflake.connector

    return snowflake.connector.connect(**connect_args(target))
