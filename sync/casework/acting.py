"""How a person's action runs, whoever asks (the command line, the web console): under the shop's lock, in one
transaction, recorded with who did it (`by`) and from where (`source`: "cli", "web"). The callers print or show
what the action returns; an action that cannot be done as asked raises ActionRefused with a sentence to show."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from datetime import datetime
from typing import Any, TypeVar

from mahnwerk.sync.casework.case import Case, CaseError, open_case, parse_claim_ref
from mahnwerk.sync.config import Config
from mahnwerk.sync.store.engine import Store
from mahnwerk.sync.store.locks import shop_lock

T = TypeVar("T")


class ActionRefused(CaseError):
    """An action that cannot be done as asked (a payment no longer waiting, a row that is no dead letter...): exit
    code 2. `param` names the command-line option at fault, if one is; `code` and `values` say the same for a
    page that words it in the reader's language (the message is English, for the command line)."""

    def __init__(self, message: str, *, param: str = "", code: str = "", **values: Any) -> None:
        super().__init__(message, code=code, **values)
        self.param = param


def act_on_case(store: Store, config: Config, ref: str, work: Callable[[Case], T], *, by: str, source: str,
                now: datetime, command: str, wait: float = 30.0, write: bool = True) -> T:
    """Open the claim `ref` (SHOP:ORDER), do `work` on it and commit, holding the shop's lock (reading needs no
    lock and commits nothing: `write=False`)."""
    shop_id = parse_claim_ref(ref)[0]
    with shop_lock(store, shop_id, command=command, wait=wait) if write else nullcontext(), \
            store.session() as session:
        case = open_case(session, config, ref, actor=by, now=now)
        case.source = source
        result = work(case)
        if write:
            session.commit()
        return result
