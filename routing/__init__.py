"""Routing decisions as plain functions over plain data: no I/O, no clock of its own."""
