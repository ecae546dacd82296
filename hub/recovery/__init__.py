"""Recovery settings and helpers that every stage uses: `config/recovery.yaml`, phase deadlines.

It imports only `core`: the stages (`hub.pipeline.stranded`, `hub.outbox.priority`,
`hub.outbox.leases`) import it, never the other way round.
"""
