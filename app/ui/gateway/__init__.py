"""The gateway in the window: a status-bar switch and a dialog with address, token and requests."""

from app.ui.gateway.controller import GatewayController
from app.ui.gateway.indicator import GatewayIndicator

__all__ = ["GatewayController", "GatewayIndicator"]
