"""Placeholder; the web UI lands next."""

from flask import Blueprint

bp = Blueprint("auth", __name__)
