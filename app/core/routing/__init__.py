"""Routing: where an `auto` request goes, why, and where it falls back when a target fails.
May use foundation, chat's backend interface and targets, billing's ledger, local and providers."""
