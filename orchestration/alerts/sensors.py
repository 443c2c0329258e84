"""The run-failure sensor: every failed run of this code location goes to the alert hook.

(No `from __future__ import annotations`: Dagster reads the context annotation at definition.)"""

import dagster as dg

from .hook import RunFailureAlert, run_url, send, short


def root_message(error) -> str | None:
    """The message of the exception that started it all: Dagster wraps a step's own error
    ("Error occurred while executing op ...") around the one the code raised."""
    while error is not None and error.cause is not None:
        error = error.cause
    return error.message.strip() if error is not None and error.message else None


def alert_for(context: dg.RunFailureSensorContext) -> RunFailureAlert:
    """What to say about a failed run: its first failed step and that step's error, else the
    run's own failure (a run can fail before any step starts, e.g. a resource that breaks)."""
    run = context.dagster_run
    step, error = None, None
    for event in context.get_step_failure_events():
        step = event.step_key
        data = event.step_failure_data
        error = root_message(data.error) if data else None
        if error:
            break
    if not error:
        failure = context.failure_event.job_failure_data if context.failure_event else None
        error = (root_message(failure.error) if failure and failure.error else None) \
            or (context.failure_event.message if context.failure_event else None) or "run failed"
    return RunFailureAlert(job=run.job_name, run_id=run.run_id, step=step, error=short(error), url=run_url(run.run_id),
                           location=run.remote_job_origin.location_name if run.remote_job_origin else None)


@dg.run_failure_sensor(
    name="alert_on_run_failure",
    # On by default: it changes no data, and without a webhook it only logs.
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="POSTs each failed run (job, run id, failed step, error, link) to CDP_ALERT_WEBHOOK_URL; "
                "without it, logs the alert.",
)
def alert_on_run_failure(context: dg.RunFailureSensorContext):
    send(alert_for(context), context.log)


alert_sensors = [alert_on_run_failure]
