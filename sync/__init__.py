"""The core that owns state: the local store and everything that reads or writes it, for every shop kind.

    store/     the database: tables, migrations, engine, bulk writes, the per-shop lock
    config/    mahnwerk.toml and shops/*.toml into frozen dataclasses, or one error naming file, line and key
    mirror/    shop orders into claims, a page per transaction with its cursor
    outbox/    decided actions as rows, executed exactly once: notices, hand-overs, write-back to the shop
    payments/  statements and providers into payments, matched and booked
    casework/  holds, plans, manual payments, tasks, and the read-only views of the store
    service/   the composition root and the jobs: sync, run, check, the daemon
    cli/       the `mahnwerk` command line over service/ and casework/

sync/ talks to shops only through connectors/shop.py, so it names no shop kind's fields or paths.
"""
