"""The order_transaction state machine as Shopware 6.6 ships it, and StateMachineRegistry's way of applying it."""

from __future__ import annotations

from mahnwerk.sandbox.shopware.catalog import TRANSACTION_STATES
from mahnwerk.sandbox.shopware.wire import ShopwareError, http_error

# From state -> (action, to state), in migration order (reference §4; before 6.7 `failed` also allows
# process_unconfirmed).
_TABLE = {
    "open": [("paid", "paid"), ("pay", "paid"), ("paid_partially", "paid_partially"),
             ("pay_partially", "paid_partially"), ("remind", "reminded"), ("cancel", "cancelled"),
             ("do_pay", "in_progress"), ("fail", "failed"), ("authorize", "authorized"),
             ("process_unconfirmed", "unconfirmed")],
    "reminded": [("pay", "paid"), ("pay_partially", "paid_partially"), ("cancel", "cancelled"),
                 ("do_pay", "in_progress"), ("authorize", "authorized"), ("process_unconfirmed", "unconfirmed"),
                 ("reopen", "open")],
    "paid_partially": [("pay", "paid"), ("remind", "reminded"), ("refund", "refunded"),
                       ("refund_partially", "refunded_partially"), ("cancel", "cancelled"), ("do_pay", "in_progress"),
                       ("process_unconfirmed", "unconfirmed"), ("chargeback", "chargeback"), ("reopen", "open")],
    "paid": [("refund", "refunded"), ("refund_partially", "refunded_partially"), ("cancel", "cancelled"),
             ("chargeback", "chargeback"), ("reopen", "open")],
    "in_progress": [("paid", "paid"), ("paid_partially", "paid_partially"), ("pay_partially", "paid_partially"),
                    ("fail", "failed"), ("cancel", "cancelled"), ("reopen", "open"), ("authorize", "authorized")],
    "failed": [("paid", "paid"), ("pay", "paid"), ("paid_partially", "paid_partially"),
               ("pay_partially", "paid_partially"), ("do_pay", "in_progress"), ("fail", "failed"),
               ("reopen", "open"), ("process_unconfirmed", "unconfirmed")],
    "authorized": [("paid", "paid"), ("paid_partially", "paid_partially"), ("fail", "failed"),
                   ("cancel", "cancelled")],
    "unconfirmed": [("paid", "paid"), ("paid_partially", "paid_partially"), ("fail", "failed"),
                    ("cancel", "cancelled"), ("authorize", "authorized"), ("reopen", "open")],
    "chargeback": [("paid", "paid"), ("paid_partially", "paid_partially"), ("cancel", "cancelled")],
    "cancelled": [("reopen", "open"), ("paid", "paid"), ("refund", "refunded"),
                  ("refund_partially", "refunded_partially"), ("process_unconfirmed", "unconfirmed")],
    "refunded_partially": [("refund", "refunded"), ("cancel", "cancelled"), ("reopen", "open")],
}
TRANSITIONS = [(action, source, target) for source, moves in _TABLE.items() for action, target in moves]


def allowed(current: str) -> list[tuple[str, str]]:
    """(action, to state) pairs the machine offers from `current`."""
    return list(_TABLE.get(current, []))


def destination(current: str, action: str) -> str | None:
    """Where `action` leads from `current` (getTransitionDestinationById): None when a transition with that action
    already ends in `current` (a silent no-op); `cancel` is accepted from every state before 6.7."""
    for name, source, target in TRANSITIONS:
        if name == "cancel" and action == "cancel":
            return target
        if name != action:
            continue
        if target == current:
            return None
        if source == current:
            return target
    raise illegal(current, action)


def illegal(current: str, action: str) -> ShopwareError:
    """IllegalTransitionException; like the source it names the current state by its id, not its technical name."""
    state_id = TRANSACTION_STATES[current]["id"]
    possible = [name for name, _ in allowed(current)]
    return http_error(400, "SYSTEM__ILLEGAL_STATE_TRANSITION",
                      f'Illegal transition "{action}" from state "{state_id}". Possible transitions are: '
                      + ", ".join(possible),
                      {"transition": action, "currentState": state_id,
                       "possibleTransitionsString": ", ".join(possible), "possibleTransitions": possible})


def listing(current: str, entity_id: str) -> dict:
    """The body of GET /api/_action/state-machine/order_transaction/{id}/state."""
    return {"transitions": [
        {"name": TRANSACTION_STATES[target]["name"], "technicalName": target, "actionName": action,
         "fromStateName": current, "toStateName": target,
         "url": f"/api/_action/state-machine/order_transaction/{entity_id}/state/{action}"}
        for action, target in allowed(current)]}
