"""A sixth source declared entirely in the test tree: what README "Adding a source" promises, proven.

`connector.py` (the declaration), `server.py` (the tiny system it talks to),
`sources.yaml` (its config section) and `mapping.yaml` (its mapping); the test
copies config/ and mappings/, adds these two files, and runs the contract suite
and a full sync over the new source with no edit anywhere else in the project.
"""
