"""The bottom floor of the hub: schema, errors, personal data, logs, settings, secrets, config files.

Imports nothing of the project; every other package may import it.
"""
