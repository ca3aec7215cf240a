"""Casework: what people do with claims (case.py: holds, plans, manual payments, notes, tasks) and what they read
(reports.py, timeline.py, planner.py), with the claim's case file for the policy (casefile.py)."""
