"""The gateway: an OpenAI-compatible server that routes, keeps keys, bills and enforces budgets.
May use foundation, chat, billing, routing, local and providers; never app.core.context."""
