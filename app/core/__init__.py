"""Parley's logic. Nothing below this package imports Qt."""
