from app.ui.models.tab import ModelsTab

__all__ = ["ModelsTab"]
