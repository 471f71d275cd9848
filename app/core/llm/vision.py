"""Which targets take images (issue 17).

Cloud: OpenAI-compatible APIs accept `image_url` parts only for models that
read images, and refuse them (HTTP 400) otherwise. No provider lists this in
a form every kind shares, so Parley recognises the families documented as
multimodal by their makers: Mistral's Pixtral, Mistral Small 3.1 and later
(2503, 2506, "latest" serves Small 4), Mistral Medium 3 and Large 3; OpenAI's
GPT-4o, GPT-4.1, GPT-5, o1/o3/o4; Claude 3 and later; Gemini; Llama 3.2
Vision and Llama 4; Qwen VL; Gemma 3; and any id naming "vision", "-vl" or
"llava". Local: a model takes images when a multimodal projector GGUF
(`mmproj…gguf`) sits beside it (the local backend decides).
"""

from __future__ import annotations

import re

_VISION = re.compile(
    r"(pixtral|mistral-small-(latest|25\d\d|3\.[12]|4)|mistral-medium|mistral-large-(25\d\d|3)"
    r"|gpt-4o|gpt-4\.1|gpt-4-turbo|gpt-5|chatgpt-4o|(^|[/-])o[134](-|$)"
    r"|claude-(3|sonnet-4|opus-4|haiku-4)|gemini|llama-3\.2-\d+b-vision|llama-4|vision"
    r"|qwen[\d.]*-?vl|-vl\b|-vl-|llava|gemma-3|gemma3|internvl|minicpm-v|phi-4-multimodal)",
    re.I,
)

NO_IMAGES_HINT = "Remove the images, or pick a model that reads images."


def model_accepts_images(model: str) -> bool:
    """Whether a cloud `model` id (any provider's spelling) names a model that reads images."""
    return bool(_VISION.search(model))
