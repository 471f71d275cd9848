"""Model text on screen, for Chat and Compare alike: Markdown prose, code blocks highlighted
off the GUI thread, and math drawn as images.

`MessageBody` is the widget a view puts a message's text in; `render_style` is the style
sheet its blocks need (the Chat tab's sheet includes it).
"""

from app.ui.render.message_body import MessageBody
from app.ui.render.style import render_style

__all__ = ["MessageBody", "render_style"]
