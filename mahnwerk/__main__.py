"""`python -m mahnwerk` runs the command line."""

from mahnwerk.sync.cli.main import main

raise SystemExit(main())
