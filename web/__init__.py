"""The back office on the web: the API (`api`), the console (`console`) and team callbacks, in one app (`app`).

Both front ends work over `hub.backoffice` (principals, queries, actions); neither
imports the other.
"""
