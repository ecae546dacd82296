"""Connectors to the source systems: they know their system, not the hub (no Prefect, no store).

`base` (the contract and what a connector declares), `config` (config/sources.yaml),
`retry` (the one rule table and retry policy), `http` + `auth` + `redact` (the HTTP
layer), `api` (HttpConnector), `portal/` (the Playwright layer), `registry` (sources
by key), and one module per source system.
"""
