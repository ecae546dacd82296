"""The data flow of DESIGN.md, stage by stage: pull → ingest (land + normalise) → enrich (dedupe, incidents, judge, route).

`pull` walks a connector page by page; `ingest` lands and normalises each page with its
cursor in one transaction; `normalise` maps what an earlier run left landed and replays
quarantine; `enrich` links cases (`dedupe`), groups mass faults (`incidents`), judges,
routes and starts the clocks.
"""
