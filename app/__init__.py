"""Parley: chat with local and cloud language models, and see what each answer cost."""

APP_NAME = "Parley"
__version__ = "0.1.0"
