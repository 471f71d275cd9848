"""Parley's logic, one package per thing a user does, on a small foundation.
May use no Qt and nothing from app.ui or app.workers; context.py wires the domains together."""
