"""The jobs: the composition root (bootstrap.py), syncing, the day's run, `check`, and the daemon that runs them per
shop under its lock."""
