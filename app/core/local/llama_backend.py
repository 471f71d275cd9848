"""The local backend: llama.cpp through llama-cpp-python, one model kept loaded.

Streaming uses a `generate()` loop with an incremental UTF-8 decoder rather
than `create_chat_completion(stream=True)`, which re-detokenizes the whole
answer on every token. Sending the full history each turn lets `generate()`
reuse the KV cache for the matching token prefix.
"""

from __future__ import annotations

import codecs
import contextlib
import ctypes
import logging
import threading
import time
from dataclasses import dataclass
from threading import Event
from typing import TYPE_CHECKING, Any

from app.core.foundation.errors import ModelError, ParleyError, UnknownTargetError
from app.core.llm.context_fit import fit_messages
from app.core.llm.contract import (
    Backend,
    ChatMessage,
    GenerationRequest,
    GenerationResult,
    Outcome,
    Sampling,
    TokenSource,
    Usage,
)
from app.core.local.kv_stash import DEFAULT_CAPACITY, KVStash
from app.core.local.model_controls import ModelControlsStore

if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterator, Sequence

    import llama_cpp

    from app.core.local.catalog import InstalledModel, ModelCatalog
    from app.core.local.load_guard import LoadOptions, LoadPlan
    from app.core.local.model_controls import ModelControls
    from app.core.local.prompt_tokens import PromptTokenizer

logger = logging.getLogger(__name__)

TOP_K = 40
MIN_P = 0.05


@dataclass
class _Loaded:
    path: str
    controls: ModelControls  # as the user set them
    options: LoadOptions  # what llama.cpp got
    llm: llama_cpp.Llama
    prompt: PromptTokenizer
    load_s: float
    stash: KVStash  # KV snapshots of conversations another one pushed out
    name: str = ""


def open_llama(path: str, options: LoadOptions, verbose: bool = False) -> llama_cpp.Llama:
    """`llama_cpp.Llama` for the GGUF at `path` with `options` (the one place Parley builds
    one, so the fit bench measures exactly what chat loads). Raises what llama.cpp raises:
    ValueError, RuntimeError or OSError."""
    import llama_cpp

    return llama_cpp.Llama(
        model_path=path,
        n_ctx=options.n_ctx,
        n_batch=options.n_batch,
        n_ubatch=options.n_batch,
        n_gpu_layers=options.n_gpu_layers,
        n_threads=options.n_threads,
        n_threads_batch=options.n_threads,
        flash_attn=options.flash_attn,
        type_k=options.kv_cache.ggml_type,
        type_v=options.kv_cache.ggml_type,
        verbose=verbose,
    )


class LocalBackend(Backend):
    name = "local"
    provider = "llama.cpp"
    is_local = True

    def __init__(
        self,
        catalog: ModelCatalog,
        plan: Callable[[InstalledModel, ModelControls], LoadPlan] | None = None,
    ) -> None:
        self.catalog = catalog
        # Each model's controls (context, GPU layers, threads, KV cache, flash attention,
        # batch), saved beside the catalog's other settings.
        self.controls = ModelControlsStore(catalog.settings)
        self._plan = plan
        self.runtime_note: str | None = None  # e.g. a GPU build that found no GPU
        self._loaded: _Loaded | None = None
        self._lock = threading.Lock()
        self.loads = 0  # how many times a model was loaded (benches check reuse)

    # public ----------------------------------------------------------------
    def prepare(self, model: str) -> None:
        """Check the model can be used before anything is stored; raise `ModelError` if not."""
        self.catalog.resolve(model)

    def unload(self) -> None:
        with self._lock:
            self._unload_locked()

    def preload(
        self, model: str, on_load_progress: Callable[[str, float], None] | None = None
    ) -> float:
        """Load `model` with its controls now (the old one is unloaded) so the first message
        starts at once. Returns the load time in seconds; raises `ModelError` when the model
        cannot fit or llama.cpp refuses it."""
        with self._lock:
            return self._ensure_loaded(self.catalog.resolve(model), None,
                                       on_load_progress).load_s  # fmt: skip

    @property
    def loaded_path(self) -> str | None:
        return self._loaded.path if self._loaded else None

    def is_loaded(self, model: str) -> bool:
        """Whether `model` is the one in memory (the next answer starts without loading)."""
        loaded = self._loaded
        try:
            return loaded is not None and loaded.path == str(self.catalog.resolve(model).path)
        except (ModelError, UnknownTargetError):
            return False

    def loaded_memory(self) -> tuple[str, int] | None:
        """The loaded model's name and bytes in memory (weights + context state), or None."""
        loaded = self._loaded
        if loaded is None:
            return None
        import llama_cpp

        weights = int(llama_cpp.llama_model_size(loaded.llm._model.model))
        state = int(llama_cpp.llama_state_get_size(loaded.llm._ctx.ctx))
        return loaded.name, weights + state

    def count_prompt(self, model: str, messages: Sequence[ChatMessage]) -> int | None:
        """Exact prompt tokens when `model` is loaded (its tokenizer), else None. Reads only
        the vocabulary, so it runs beside a generation without taking the lock."""
        loaded = self._loaded
        if loaded is None or not self.is_loaded(model) or any(m.images for m in messages):
            return None
        return len(self._tokenize(loaded, messages))

    def context_length(self, model: str, requested: int) -> int:
        """A local model's context is one of its controls (issue 18), not the
        conversation's `requested` one, which is the answer when `model` is unknown."""
        from app.core.local.load_guard import effective_context

        try:
            resolved = self.catalog.resolve(model)
        except (ModelError, UnknownTargetError):
            return requested
        return effective_context(resolved, self.controls.get(resolved.name))

    def accepts_images(self, model: str) -> bool:
        from app.core.local.vision import projector_for

        try:
            return projector_for(self.catalog.resolve(model).path) is not None
        except (ModelError, UnknownTargetError):
            return False

    @property
    def loaded_options(self) -> LoadOptions | None:
        """What the loaded model runs with (after automatic GPU layers, threads, flash)."""
        return self._loaded.options if self._loaded else None

    def loaded_n_ctx(self, model: str) -> int | None:
        """The context length `model` is loaded with, or None when another (or none) is."""
        loaded = self._loaded
        if loaded is None:
            return None
        try:
            path = str(self.catalog.resolve(model).path)
        except ParleyError:
            return None
        return loaded.options.n_ctx if path == loaded.path else None

    def stream(
        self, request: GenerationRequest, cancel: Event, *,
        on_load_progress: Callable[[str, float], None] | None = None,
    ) -> Generator[str, None, GenerationResult]:  # fmt: skip
        started = time.monotonic()
        with self._lock:
            model = self.catalog.resolve(request.model)
            sampling = request.sampling
            # A local model's context is one of its controls (Models tab, conversation
            # settings, `parley models use --ctx`); the conversation's own applies to clouds.
            try:
                loaded = self._ensure_loaded(model, cancel, on_load_progress)
            except ModelError:
                if not cancel.is_set():
                    raise
                return self._stopped_loading(model.name, started)
            n_ctx = loaded.options.n_ctx
            llm = loaded.llm
            if any(m.images for m in request.messages):
                from app.core.local.vision import stream_with_images

                return (yield from stream_with_images(
                    llm, model, request, n_ctx, cancel, started, self.provider
                ))  # fmt: skip

            def count(messages: Sequence[ChatMessage]) -> int:
                return len(self._tokenize(loaded, messages))

            fitted = fit_messages(request.messages, count, n_ctx, sampling.max_tokens)
            tokens = self._tokenize(loaded, fitted.messages)
            budget = min(sampling.max_tokens, n_ctx - len(tokens))
            # Coming back from another conversation: its KV cells, not a re-read.
            loaded.stash.prepare(llm, tokens)
            text, outcome, completion, ttft = yield from self._generate(
                llm, tokens, sampling, budget, cancel, started
            )
            return GenerationResult(
                text=text,
                outcome=outcome,
                usage=Usage(len(tokens), completion, TokenSource.COUNTED),
                backend=self.name,
                provider=self.provider,
                model=model.name,
                ttft_s=ttft,
                duration_s=time.monotonic() - started,
                trimmed_turns=fitted.trimmed_turns,
                extra={"load_s": loaded.load_s, "n_ctx": float(n_ctx)},
            )

    # internals -------------------------------------------------------------
    def _stopped_loading(self, name: str, started: float) -> GenerationResult:
        """Stop pressed while the model loaded: nothing was read or written."""
        return GenerationResult(
            text="", outcome=Outcome.STOPPED, usage=Usage(0, 0, TokenSource.COUNTED),
            backend=self.name, provider=self.provider, model=name, ttft_s=None,
            duration_s=time.monotonic() - started,
        )  # fmt: skip

    def _generate(
        self,
        llm: llama_cpp.Llama,
        tokens: list[int],
        sampling: Sampling,
        budget: int,
        cancel: Event,
        started: float,
    ) -> Generator[str, None, tuple[str, Outcome, int, float | None]]:
        import llama_cpp

        vocab = llm._model.vocab
        is_eog = llama_cpp.llama_vocab_is_eog
        to_piece = llama_cpp.llama_token_to_piece
        buf = ctypes.create_string_buffer(256)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        parts: list[str] = []
        completion = 0
        ttft: float | None = None
        outcome = Outcome.DONE
        if budget <= 0 or cancel.is_set():
            return "", Outcome.STOPPED if cancel.is_set() else Outcome.DONE, 0, None
        tokens_iter = llm.generate(
            tokens,
            top_k=TOP_K,
            top_p=sampling.top_p,
            min_p=MIN_P,
            temp=sampling.temperature,
            repeat_penalty=1.0,
        )
        # Reading a long prompt is one blocking llama_decode per 512 tokens (seconds on a
        # CPU): llama.cpp's abort callback lets Stop end it between graph nodes. It is
        # cleared at the first token, after which the loop below checks `cancel` itself
        # (a Python callback per node would slow generation down).
        abort = llama_cpp.ggml_abort_callback(lambda _data: cancel.is_set())
        no_abort = llama_cpp.ggml_abort_callback()  # a NULL callback
        llama_cpp.llama_set_abort_callback(llm._ctx.ctx, abort, None)
        aborting = True
        try:
            for token in tokens_iter:
                if aborting:
                    llama_cpp.llama_set_abort_callback(llm._ctx.ctx, no_abort, None)
                    aborting = False
                if is_eog(vocab, token):
                    break
                completion += 1
                n = to_piece(vocab, token, buf, len(buf), 0, False)
                piece = decoder.decode(buf.raw[:n]) if n > 0 else ""
                if piece:
                    if ttft is None:
                        ttft = time.monotonic() - started
                    parts.append(piece)
                    yield piece
                if cancel.is_set():
                    outcome = Outcome.STOPPED
                    break
                if completion >= budget:
                    break
        except RuntimeError:
            if not cancel.is_set():
                raise
            outcome = Outcome.STOPPED  # llama_decode aborted: Stop came while reading
        finally:
            if aborting:
                llama_cpp.llama_set_abort_callback(llm._ctx.ctx, no_abort, None)
            tokens_iter.close()
        if tail := decoder.decode(b"", final=True):
            parts.append(tail)
            yield tail
        return "".join(parts), outcome, completion, ttft

    def _tokenize(self, loaded: _Loaded, messages: Sequence[ChatMessage]) -> list[int]:
        return loaded.prompt.tokens(messages)

    def _ensure_loaded(
        self, model: InstalledModel, cancel: Event | None = None,
        on_load_progress: Callable[[str, float], None] | None = None,
    ) -> _Loaded:  # fmt: skip
        controls = self.controls.get(model.name)
        current = self._loaded
        if current and current.path == str(model.path) and current.controls == controls:
            return current
        self._unload_locked()
        from app.core.local.catalog import header_for
        from app.core.local.chat_template import check_chat_template

        # A chat template is code from the file's author: checked before llama.cpp loads it.
        if template := header_for(model.path).chat_template:
            check_chat_template(template, model.name)
        # Refuse a model that can't fit; offload only the layers the GPU holds.
        from app.core.local.load_guard import plan_load

        options = (self._plan or plan_load)(model, controls).options
        t0 = time.monotonic()
        progress = _load_progress(model.name, on_load_progress, cancel)
        try:
            with _progress_callback(progress):
                llm = open_llama(str(model.path), options)
            # The callback dies with this frame: leave no dangling pointer in the params.
            import llama_cpp

            llm.model_params.progress_callback = llama_cpp.llama_progress_callback()
        except (ValueError, RuntimeError, OSError) as exc:
            if cancel is not None and cancel.is_set():
                raise ModelError(f"Loading {model.name} was cancelled.") from exc
            raise ModelError(
                f"llama.cpp couldn't load {model.name} ({model.architecture}, "
                f"{model.size_bytes / 1e9:.1f} GB): {exc}.",
                "The file may be damaged, too big for this machine's memory, or of an "
                "architecture this build of llama.cpp does not support. Try another model.",
            ) from exc
        self.loads += 1
        self._note_cpu_fallback()
        from app.core.local.hardware import memory
        from app.core.local.prompt_tokens import PromptTokenizer

        stash = KVStash(min(DEFAULT_CAPACITY, memory()[1] // 8))
        loaded = _Loaded(
            str(model.path), controls, options, llm, PromptTokenizer(llm, model.name),
            time.monotonic() - t0, stash, model.name,
        )  # fmt: skip
        self._loaded = loaded
        logger.info("loaded %s with %s in %.2fs", model.name, options, loaded.load_s)
        return loaded

    def _note_cpu_fallback(self) -> None:
        """A GPU build (Vulkan in the Linux package) with no GPU runs on the CPU: say so once."""
        from app.core.local.hardware import cached_probe

        hw = cached_probe()
        if hw.backend != "CPU" and not hw.gpu_offload and hw.notes and not self.runtime_note:
            self.runtime_note = hw.notes[0]
            logger.warning("%s", self.runtime_note)

    def _unload_locked(self) -> None:
        if self._loaded is not None:
            self._loaded.llm.close()
            self._loaded = None


def _load_progress(
    name: str, listener: Callable[[str, float], None] | None, cancel: Event | None
) -> Callable[[float], bool]:
    """llama.cpp's load progress callback: tell `listener`, and abort when `cancel` is set."""

    def progress(fraction: float) -> bool:
        if listener is not None:
            try:
                listener(name, fraction)
            except Exception:  # a listener's bug must not abort (or crash) the load
                logger.exception("load progress listener failed")
        return cancel is None or not cancel.is_set()

    return progress


_params_lock = threading.Lock()


@contextlib.contextmanager
def _progress_callback(progress: Callable[[float], bool]) -> Iterator[None]:
    """Give the next `Llama(...)` a load progress callback.

    llama-cpp-python (0.3.36) builds its model params inside `Llama.__init__` and takes
    no `progress_callback`; llama.cpp's params have one (return False aborts the load).
    Wrapping `llama_model_default_params` for the duration of the constructor sets it.
    """
    import llama_cpp

    module = llama_cpp.llama_cpp
    original = module.llama_model_default_params
    callback = llama_cpp.llama_progress_callback(lambda value, _data: bool(progress(value)))

    def with_progress() -> Any:
        params = original()
        params.progress_callback = callback
        return params

    with _params_lock:
        module.llama_model_default_params = with_progress
        try:
            yield
        finally:
            module.llama_model_default_params = original
