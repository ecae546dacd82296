"""Effects through the outbox (DESIGN rule 3).

`announce` writes the rows that announce a handling change (in the caller's
transaction); `dispatch` renders and delivers team and operator messages;
`worker` drains the outbox: claims due rows and delivers each by kind.
The rows themselves are stored by `hub.store.outbox`.
"""
