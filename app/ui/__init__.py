"""Views. One package per tab; the main window composes them."""
