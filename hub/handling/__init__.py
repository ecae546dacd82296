"""What a team does to a ticket (`actions`), the survey after resolution (`survey`) and its answers (`replies`).

`actions` writes the ticket, its timeline event and the announcing outbox row in the
caller's transaction; `survey` queues the survey SMS on resolution; `replies` applies
the answers (close, or reopen to the first handler) and unsubscribes.
"""
