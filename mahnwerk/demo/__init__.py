"""`mahnwerk demo`: the whole flow against the built-in sandbox shop. The one production module allowed to import
the sandbox."""
