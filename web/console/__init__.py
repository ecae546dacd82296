"""The server-rendered web console (Jinja2, Chinese UI) for back-office teams, mounted by `web.app`."""
