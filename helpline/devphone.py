"""Placeholder; the web UI lands next."""

from flask import Blueprint

bp = Blueprint("devphone", __name__)
