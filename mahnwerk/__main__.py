"""`python -m mahnwerk` runs the command line."""

from mahnwerk.sync.cli import main

raise SystemExit(main())
