"""The Chat tab: conversations, streaming answers, and what each answer cost."""

from app.ui.chat.tab import ChatTab

__all__ = ["ChatTab"]
