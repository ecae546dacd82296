"""Server-rendered web console (Jinja2, Chinese UI) for back-office teams; mounted by `hub.api.create_app`."""
