"""CHASE (催办): `reminders` warns, reminds and escalates on clocks near or past due; `config` is chase.yaml.

`config/chase.yaml` also holds the outbox's retry bounds, the push-back rules and
the survey settings, which the outbox worker, announce and handling read.
"""
