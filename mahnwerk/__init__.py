"""Mahnwerk: dunning connector and sync daemon for online shops."""

__version__ = "0.1.0"
