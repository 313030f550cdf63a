"""Placeholder; the web UI lands next."""

from flask import Blueprint

bp = Blueprint("inbox", __name__)
