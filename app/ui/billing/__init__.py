from app.ui.billing.tab import BillingTab

__all__ = ["BillingTab"]
