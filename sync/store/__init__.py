"""The local store: tables (models.py), column types that keep money exact and times aware (coltypes.py), the engine
with migrations on start (engine.py), bulk inserts (bulk.py) and the one-writer-per-shop lock (locks.py)."""
