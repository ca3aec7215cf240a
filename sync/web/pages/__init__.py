"""The console's pages: every module here with a `flask.Blueprint` named `bp` is registered by app.py."""
