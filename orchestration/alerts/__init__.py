"""Alerting: what the operators hear about when a run fails."""
