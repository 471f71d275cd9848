from app.ui.compare.view import CompareView

__all__ = ["CompareView"]
