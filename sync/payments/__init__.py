"""Payments: where they come from (sources.py), stored once each (intake.py), matched against open claims in a child
process (matchrun.py, matchchild.py), and booked (reconcile.py)."""
