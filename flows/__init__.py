"""Prefect flows: thin compositions of hub/ and connectors/ logic.

| flow              | module          | what it does                                        |
|-------------------|-----------------|-----------------------------------------------------|
| sync_source       | flows.sync      | pull one source, land, normalise, enrich + route    |
| sync_all          | flows.sync      | every source in parallel; failures reported, isolated |
| backfill          | flows.sync      | re-pull a time window without moving the cursor     |
| push_updates      | flows.ops       | drain the outbox (push-backs, dispatch, SMS)        |
| chase_overdue     | flows.ops       | warnings, breaches, escalations (催办) + surveys     |
| replay_quarantine | flows.ops       | re-map quarantined records after a mapping fix      |
| daily_report      | flows.ops       | counts, timeliness, overdue list, charts            |
| hub_cycle         | flows.cycle     | sync all → route → push → chase (the demo)          |
"""
