"""A chat server as strict as the real providers about what a request may carry.

`StrictServer(kind)` is a `FaultServer` that first checks each chat request
the way the provider of that kind does, and answers with that provider's
error shape when it is refused:

- `mistral`: 422 with Mistral's body for any field it does not know,
  `{"object": "error", "message": {"detail": [{"type": "extra_forbidden",
  "loc": ["body", FIELD], "msg": "Extra inputs are not permitted", ...}]},
  "type": "invalid_request_error", ...}` (what users of OpenAI-style clients
  get for `stream_options`); its streams carry usage on the last chunk without
  being asked.
- `openai`: 400 `{"error": {"message": "Unrecognized request argument supplied:
  FIELD", "type": "invalid_request_error", ...}}`; usage only with
  `stream_options.include_usage`.
- `hf`: the router's OpenAI shape, plus a model id `org/name[:policy]`.

Every kind also checks the messages (roles, string contents, no unknown keys,
a user turn last) and the types of the sampling fields. Scripted replies
(`script`) still come after a request passes.
"""

from __future__ import annotations

import json
import re
from typing import Any

from tests.helpers.fault_server import DONE, FaultServer, Reply, delta, event

COMMON = {"model", "messages", "stream", "max_tokens", "temperature", "top_p", "stop", "n",
          "presence_penalty", "frequency_penalty", "tools", "tool_choice", "response_format",
          "parallel_tool_calls"}  # fmt: skip
OPENAI_ONLY = {"stream_options", "max_completion_tokens", "logit_bias", "logprobs",
               "top_logprobs", "user", "seed", "service_tier", "store", "metadata",
               "reasoning_effort", "modalities", "prediction"}  # fmt: skip
FIELDS = {
    "mistral": COMMON | {"random_seed", "safe_prompt", "prediction", "prompt_mode"},
    "openai": COMMON | OPENAI_ONLY,
}
FIELDS["hf"] = FIELDS["openai"]
MESSAGE_FIELDS = {
    "mistral": {"role", "content", "name", "tool_calls", "tool_call_id", "prefix"},
    "openai": {"role", "content", "name", "tool_calls", "tool_call_id", "refusal"},
}
MESSAGE_FIELDS["hf"] = MESSAGE_FIELDS["openai"]
ROLES = {"system", "user", "assistant", "tool"}
HF_MODEL = re.compile(r"^[\w.-]+/[\w.-]+(:[\w.-]+)?$")
USAGE = {"prompt_tokens": 12, "completion_tokens": 4, "total_tokens": 16}


class StrictServer(FaultServer):
    def __init__(self, kind: str) -> None:
        self.kind = kind
        super().__init__()

    def reply_for(self, path: str, body: bytes) -> Reply:
        try:
            request = json.loads(body)
        except ValueError:
            return self._refuse([], "Invalid JSON body", "json_invalid")
        if not isinstance(request, dict):
            return self._refuse([], "Input should be a valid dictionary", "dict_type")
        refusal = self._check(request)
        if refusal is not None:
            return refusal
        if self.replies:
            return self.replies.popleft()
        return Reply.stream(*self._answer(request, "Strictly", " speaking."))

    # what a provider of this kind streams for a good request ------------------------------
    def _answer(self, request: dict[str, Any], *texts: str) -> list[Any]:
        model = str(request["model"]).split(":")[0]
        steps = [delta(t, model) for t in texts]
        include_usage = (request.get("stream_options") or {}).get("include_usage") is True
        if self.kind == "mistral":
            steps.append(delta("", model, usage=USAGE, finish="stop"))  # usage unasked
        else:
            steps.append(delta("", model, finish="stop"))
            if include_usage:
                steps.append(event({"id": "chatcmpl-fault-1", "object": "chat.completion.chunk",
                                    "model": model, "choices": [], "usage": USAGE}))  # fmt: skip
        steps.append(DONE)
        return steps

    # checks -----------------------------------------------------------------------------
    def _check(self, request: dict[str, Any]) -> Reply | None:
        for field in request:
            if field not in FIELDS[self.kind]:
                return self._refuse(["body", field], "Extra inputs are not permitted",
                                    "extra_forbidden", request[field], unknown=True)  # fmt: skip
        model = request.get("model")
        if not isinstance(model, str) or not model:
            return self._refuse(["body", "model"], "Field required", "missing")
        if self.kind == "hf" and not HF_MODEL.match(model):
            return self._refuse(["body", "model"], f"Model id {model!r} is not org/name[:policy]",
                                "value_error")  # fmt: skip
        for field, kind in (("stream", bool), ("max_tokens", int),
                            ("temperature", (int, float)), ("top_p", (int, float))):  # fmt: skip
            if field in request and not isinstance(request[field], kind):
                return self._refuse(["body", field], f"Input should be a valid {field}", "type")
        if "stream_options" in request and request.get("stream") is not True:
            return self._refuse(["body", "stream_options"],
                                "stream_options is only allowed when stream is true",
                                "value_error")  # fmt: skip
        return self._check_messages(request.get("messages"))

    def _check_messages(self, messages: Any) -> Reply | None:
        if not isinstance(messages, list) or not messages:
            return self._refuse(["body", "messages"], "At least one message is required",
                                "too_short")  # fmt: skip
        for i, message in enumerate(messages):
            where = ["body", "messages", i]
            if not isinstance(message, dict):
                return self._refuse(where, "Input should be a valid dictionary", "dict_type")
            for key in message:
                if key not in MESSAGE_FIELDS[self.kind]:
                    return self._refuse([*where, key], "Extra inputs are not permitted",
                                        "extra_forbidden", message[key], unknown=True)  # fmt: skip
            if message.get("role") not in ROLES:
                return self._refuse([*where, "role"], "Input should be 'system', 'user', "
                                    "'assistant' or 'tool'", "literal_error")  # fmt: skip
            if not isinstance(message.get("content"), str):
                return self._refuse([*where, "content"], "Input should be a valid string",
                                    "string_type")  # fmt: skip
        if messages[-1]["role"] != "user":
            return self._refuse(["body", "messages"], "Expected last role User or Tool (or "
                                "Assistant with prefix True) for serving but got "
                                f"{messages[-1]['role']}", "value_error")  # fmt: skip
        return None

    def _refuse(self, loc: list[Any], msg: str, kind: str, value: Any = None,
                unknown: bool = False) -> Reply:  # fmt: skip
        if self.kind == "mistral":
            detail = {"type": kind, "loc": loc, "msg": msg, "input": value}
            body = {"object": "error", "message": {"detail": [detail]},
                    "type": "invalid_request_error", "param": None, "code": None}  # fmt: skip
            return Reply.error(422, body=body)
        field = ".".join(str(p) for p in loc[1:]) or "body"
        message = (f"Unrecognized request argument supplied: {field}" if unknown
                   else f"Invalid value for '{field}': {msg}")  # fmt: skip
        return Reply.error(400, body={"error": {"message": message, "type":
                                                "invalid_request_error", "param": field,
                                                "code": None}})  # fmt: skip
