"""The merchant's web console: server-rendered pages over the same casework and report code as the command line.

    app.py      create_app(config, store): the Flask application; pages/*.py with a Blueprint `bp` register themselves
    context.py  store(), config(), now(), user() for the request being served
    access.py   login on every page, clerk_required for actions, the CSRF token of every form, security headers
    users.py    the console's users (argon2 hashes) and the key that signs session cookies, in the store
    texts.py    page texts in German and English, `_()`, and the money, date and datetime filters
    nav.py      the navigation: (endpoint, text key), shown when the endpoint exists
    panels.py   CLAIM_PANELS: what the claim page shows, one function per panel
    serve.py    serving with waitress, on its own (`mahnwerk web`) or in a thread of the daemon
"""
