"""Payments: where they come from (sources.py), matched against open claims in a child process (matchrun.py,
matchchild.py), and booked once each (reconcile.py)."""
