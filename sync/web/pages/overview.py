"""The overview: how each shop stands today."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template

from mahnwerk.sync.web import texts

bp = Blueprint("overview", __name__)
texts.add({"overview.title": ("Übersicht", "Overview")})


@bp.route("/")
def index() -> Any:
    return render_template("overview.html")
