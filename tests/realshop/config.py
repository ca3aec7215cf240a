"""A Mahnwerk config folder for a realshop kit's shop: `python -m tests.realshop.config CREDENTIALS.json FOLDER`.

The tests use it, and so does the README's "Try it against a real WooCommerce".
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.support import write_config
from tests.sync.test_casework_cli import RATES
from tests.sync.test_run import MERCHANT

INVOICE_METHODS = ("bacs", "cheque")
DUE_KEY = "_invoice_due_date"  # lets a test make a fresh order overdue; orders without it get the payment term


def write_realshop_config(folder: Path, creds: dict, *, shop_id: str = "real",
                          methods: tuple[str, ...] = INVOICE_METHODS) -> Path:
    """mahnwerk.toml with a SQLite file in `folder` and shops/<shop_id>.toml for the kit's shop."""
    folder = folder.resolve()
    return write_config(folder, f"sqlite:///{folder / 'mahnwerk.db'}", [{
        "shop_id": shop_id, "url": creds["base_url"], "key": creds["consumer_key"],
        "secret": creds["consumer_secret"], "methods": json.dumps(list(methods)),
        "extra": f'due_date_meta_key = "{DUE_KEY}"\n' + RATES + MERCHANT}])


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__.splitlines()[0])
    where = write_realshop_config(Path(sys.argv[2]), json.loads(Path(sys.argv[1]).read_text()))
    print(f"wrote {where}/mahnwerk.toml and {where}/shops/real.toml")
