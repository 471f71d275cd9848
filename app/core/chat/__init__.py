"""Chat: conversations, the chat turn, context fitting, targets, compare and export.
May use foundation and billing's ledger; never local or providers (they plug in as backends)."""
