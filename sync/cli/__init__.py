"""The `mahnwerk` command line: main.py (the group, options, exit codes), one module per command family, views.py for
tables, logs.py for structured logs."""
