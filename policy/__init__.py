"""The dunning policy, pure: what a claim needs on a given day and why, with lawful fees and interest.

No I/O, no clock, no third-party code: the claim, its history, the day and the policy in, a decision out
(`engine.py`), on the account of `account.py`, `interest.py` and `rates.py`, in the calendar of `calendar.py`. Also the
matching of payments to claims (`matching.py`), aging (`aging.py`) and the shipped presets and templates.
"""
