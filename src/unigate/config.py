"""The configuration schema, loading and validation.

A config file is validated up front and every mistake is reported with its path in the file
and its line, e.g. ``models[2].deployments[0].provider (line 14): unknown provider 'antrhopic'``.
Strings of the form ``env:NAME`` are replaced by the environment variable's value.
Config objects are immutable and passed explicitly; nothing here is global.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from unigate.providers.registry import is_known, provider_ids

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class ConfigError(Exception):
    """A config problem; ``str()`` lists every problem, one per line, each with its path."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TimeoutsConfig(_Strict):
    connect: float = Field(5.0, gt=0)
    first_token: float = Field(60.0, gt=0, description="time to the first byte/token, and max stall between chunks")
    total: float = Field(600.0, gt=0)


class DeploymentConfig(_Strict):
    provider: str
    model: str
    id: str | None = None
    api_base: str | None = None
    api_key: str | None = None
    weight: float = Field(1.0, ge=0)
    headers: dict[str, str] = Field(default_factory=dict)
    timeouts: TimeoutsConfig | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    rpm: int | None = Field(None, gt=0)
    tpm: int | None = Field(None, gt=0)

    @field_validator("provider")
    @classmethod
    def _known_provider(cls, value: str) -> str:
        if not is_known(value):
            raise ValueError(f"unknown provider {value!r} (known: {', '.join(provider_ids())})")
        return value


class PricingConfig(_Strict):
    """Per-model price overrides in USD per 1M tokens."""

    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)
    cached_input_per_mtok: float | None = Field(None, ge=0)
    cache_write_per_mtok: float | None = Field(None, ge=0, description="5-minute cache writes (default: input)")
    cache_write_1h_per_mtok: float | None = Field(None, ge=0, description="1-hour cache writes (default: 5-minute)")


class CapabilitiesConfig(_Strict):
    """Overrides for what the catalog says a model can do."""

    context_window: int | None = Field(None, gt=0)
    max_output_tokens: int | None = Field(None, gt=0)
    tools: bool | None = None
    vision: bool | None = None
    json_schema: bool | None = None
    reasoning: bool | None = None
    endpoints: list[Endpoint] | None = Field(None, description="endpoints served (default: the catalog's, else all)")


Endpoint = Literal[
    "chat",
    "embeddings",
    "transcription",
    "translation",
    "speech",
    "image_generation",
    "image_edit",
    "rerank",
    "moderation",
]


class MediaPricingConfig(_Strict):
    """Prices of non-chat models in USD (see docs/multimodal.md)."""

    per_minute: float | None = Field(None, ge=0, description="audio transcribed or translated, per minute")
    per_mchar: float | None = Field(None, ge=0, description="text to speech, per 1M characters")
    per_image: float | dict[str, float] | None = Field(
        None, description="per image; a mapping keyed '<quality>/<size>', '<size>', '<quality>' or '*'"
    )
    per_search: float | None = Field(None, ge=0, description="rerank, per search unit (100 documents)")


class ModelRoutingConfig(_Strict):
    strategy: Literal[
        "weighted", "round_robin", "least_inflight", "lowest_latency", "lowest_cost", "usage_based", "ordered"
    ] = "weighted"
    retries: int = Field(1, ge=0, le=10, description="extra attempts on the same deployment for retryable errors")
    fallbacks: list[str] = Field(default_factory=list, description="other public model names to try, in order")
    context_window_fallbacks: list[str] = Field(default_factory=list)
    content_filter_fallbacks: list[str] = Field(default_factory=list)
    continue_on_failure: bool = Field(
        False, description="streams: after a mid-stream failure, continue the answer on a fallback (assistant prefix)"
    )
    allowed_fails: int = Field(3, ge=1, description="consecutive failures before a deployment cools down")
    cooldown: float = Field(5.0, gt=0, description="first cooldown in seconds (doubles per repeated trip)")
    max_cooldown: float = Field(60.0, gt=0)


class ModelConfig(_Strict):
    name: str = Field(min_length=1)
    deployments: list[DeploymentConfig] = Field(min_length=1)
    routing: ModelRoutingConfig = Field(default_factory=ModelRoutingConfig)
    pricing: PricingConfig | None = None
    media_pricing: MediaPricingConfig | None = None
    capabilities: CapabilitiesConfig | None = None
    quality: float | None = Field(None, ge=0, le=1, description="relative quality for auto routing")


class ProviderDefaults(_Strict):
    api_base: str | None = None
    api_key: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    timeouts: TimeoutsConfig | None = None
    options: dict[str, Any] = Field(default_factory=dict)


class ServerConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(4000, ge=0, le=65535)
    master_key: str | None = None
    max_body_bytes: int = Field(16 * 1024 * 1024, gt=0)
    header_timeout: float = Field(10.0, gt=0, description="seconds to receive a request's headers")
    body_timeout: float = Field(60.0, gt=0, description="seconds to receive a request's whole body (then 408)")
    max_connections: int = Field(2048, gt=0, description="open connections per process; more are closed at once")
    workers: int = Field(1, ge=1)
    cors_origins: list[str] = Field(default_factory=list)


class LocalModelConfig(_Strict):
    enabled: bool = True
    name: str = "local/smollm2-135m"
    model: str = "smollm2-135m"
    options: dict[str, Any] = Field(default_factory=dict)
    warmup: bool = True


class ObservabilityConfig(_Strict):
    """Metrics, request logs and traces (see docs/observability.md)."""

    log_format: Literal["json", "text"] = "json"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_requests: bool = Field(True, description="one line per request on the unigate.requests logger")
    log_prompts: bool = Field(False, description="include request messages in the request log (off: never logged)")
    metrics: bool = Field(True, description="serve Prometheus metrics at /metrics")
    metrics_public: bool = Field(False, description="/metrics without any credential (it shows per-team usage)")
    metrics_token: str | None = Field(
        None, description="a bearer token that may read /metrics (for a scraper), besides the master key"
    )
    otel: bool = Field(False, description="OpenTelemetry spans per request (needs the 'otel' extra)")


class AutoPrivacyConfig(_Strict):
    """Where sensitive requests may go: every deployment of a candidate must match both lists that are set."""

    providers: list[str] | None = Field(None, description="allowed provider ids")
    regions: list[str] | None = Field(None, description="allowed regions (deployment option 'region')")


class AutoPolicyConfig(_Strict):
    """One ``model: "auto/<name>"`` policy (see docs/auto-routing.md)."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    candidates: list[str] | None = Field(None, description="public model names; default: every served chat model")
    threshold: float | None = Field(None, ge=0, le=1, description="score from which the strong tier is used")
    target_strong_share: float | None = Field(None, ge=0, le=1, description="threshold for this strong share")
    target_pgr: float | None = Field(None, ge=0, le=1, description="threshold for this quality gap")
    privacy: Literal["any", "local-only"] | AutoPrivacyConfig = "any"
    max_price_per_mtok: float | None = Field(None, ge=0, description="blended (3:1 input:output) USD per 1M tokens")
    max_latency_ms: float | None = Field(None, gt=0)
    max_ttft_ms: float | None = Field(None, gt=0)
    min_quality: float | None = Field(None, ge=0, le=1)
    strong_quality: float | None = Field(None, ge=0, le=1, description="strong tier: the cheapest this good")
    quality_target: float | None = Field(
        None,
        ge=0,
        le=1,
        description="N-model choice: the cheapest candidate predicted to reach this share of the best prediction",
    )
    profiles: dict[str, str] = Field(
        default_factory=dict, description="public model name → router profile it is scored as (default: by name)"
    )
    router: str = "default"

    @model_validator(mode="after")
    def _one_threshold(self) -> AutoPolicyConfig:
        if sum(v is not None for v in (self.threshold, self.target_strong_share, self.target_pgr)) > 1:
            raise ValueError("set at most one of threshold, target_strong_share, target_pgr")
        return self


class AutoConfig(_Strict):
    """``model: "auto"`` routing: built-in policies cheap / balanced / best, plus or replaced by ``policies``."""

    enabled: bool = True
    default_policy: str = Field("balanced", description="the policy plain 'auto' uses")
    policies: list[AutoPolicyConfig] = Field(default_factory=list)
    record_prompts: bool = Field(False, description="keep prompts of auto-routed requests for export-feedback")
    max_recorded_prompts: int = Field(10000, gt=0)

    @model_validator(mode="after")
    def _policy_names(self) -> AutoConfig:
        names = [p.name for p in self.policies]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"auto policy {dupes[0]!r} is defined twice")
        if self.default_policy not in {*names, "cheap", "balanced", "best"}:
            raise ValueError(f"auto.default_policy {self.default_policy!r} is not a defined policy")
        return self


class RateLimitsConfig(_Strict):
    rpm: int | None = Field(None, gt=0)
    tpm: int | None = Field(None, gt=0)
    max_concurrency: int | None = Field(None, gt=0)


class AccountsConfig(_Strict):
    """Keys, budgets, rate limits and the usage ledger (owned by unigate.accounts)."""

    enabled: bool = True
    key_cache_ttl: float = Field(5.0, ge=0, description="seconds a key lookup is cached per process")
    reservation_ttl: float = Field(30.0, gt=0, description="a dead replica's reservations expire after this")
    ledger_flush_interval: float = Field(0.5, gt=0)
    ledger_batch_size: int = Field(500, gt=0)
    queue_claim_idle: float = Field(30.0, gt=0, description="re-deliver a dead replica's unwritten ledger rows after")
    default_max_output_tokens: int = Field(
        4096,
        gt=0,
        description="reserved (and sent as max_tokens) when neither the request nor the catalog bounds output",
    )
    prompt_bytes_per_token: float = Field(
        1.0, gt=0, description="prompt estimate: UTF-8 bytes per token (1 = upper bound)"
    )
    redis_prefix: str = "unigate:"
    model_limits: dict[str, RateLimitsConfig] = Field(default_factory=dict, description="per public model, all keys")


class ModerationGuardConfig(_Strict):
    """Moderation of chat input before it is routed (per key: key metadata 'moderation')."""

    model: str = Field("omni-moderation-latest", description="the public model that moderates")
    action: Literal["off", "block", "flag"] = Field(
        "off", description="default for every key: block flagged input (400) or only flag it (header + log)"
    )


class MediaConfig(_Strict):
    """Uploads and media answers (see docs/multimodal.md)."""

    max_audio_bytes: int = Field(25 * 1024 * 1024, gt=0, description="largest audio upload")
    max_image_bytes: int = Field(25 * 1024 * 1024, gt=0, description="largest image (or mask) upload")
    image_url_ttl: float = Field(3600.0, gt=0, description="seconds an image served by URL stays available")
    moderation: ModerationGuardConfig = Field(default_factory=ModerationGuardConfig)


class BatchesConfig(_Strict):
    """Files and batches (see docs/batches.md)."""

    enabled: bool = True
    max_file_bytes: int = Field(200 * 1024 * 1024, gt=0, description="largest file upload")
    max_lines: int = Field(50_000, gt=0, description="most requests in one batch")
    concurrency: int = Field(4, ge=1, description="lines of all batches in flight at once")
    interactive_concurrency: int = Field(
        1, ge=0, description="lines in flight while interactive requests are in flight (interactive first)"
    )
    headroom: float = Field(0.8, gt=0, le=1, description="share of a deployment's rpm batches may use")
    rate_limit_wait: float = Field(60.0, gt=0, description="longest wait on a rate limit before a line is retried")
    native_poll_interval: float = Field(
        30.0, gt=0, description="seconds between looks at a batch sent to a provider's own Batch API"
    )


class SmtpConfig(_Strict):
    """Where verification and password-reset mail goes out (docs/self-service.md)."""

    host: str
    port: int = Field(587, ge=1, le=65535)
    username: str | None = None
    password: str | None = None
    sender: str = Field("unigate@localhost", description="the From address")
    security: Literal["starttls", "tls", "none"] = "starttls"
    timeout: float = Field(10.0, gt=0)


class OidcConfig(_Strict):
    """Single sign-on through any OpenID Connect provider (authorization code + PKCE)."""

    issuer: str = Field(description="discovery at <issuer>/.well-known/openid-configuration")
    client_id: str
    client_secret: str | None = None
    scopes: list[str] = Field(default_factory=lambda: ["openid", "email", "profile"])
    groups_claim: str = "groups"
    group_teams: dict[str, str] = Field(default_factory=dict, description="group → team (id or name) its members join")
    team_admin_groups: list[str] = Field(default_factory=list, description="members of these are team admins")
    admin_groups: list[str] = Field(default_factory=list, description="members of these are admins")
    button_label: str = "Sign in with single sign-on"


class PaymentsConfig(_Strict):
    """Credit top-ups through a payment provider (Stripe Checkout)."""

    provider: Literal["stripe"] = "stripe"
    secret_key: str
    webhook_secret: str
    api_base: str = Field("https://api.stripe.com", description="the provider's API base URL")
    currency: str = Field("usd", pattern=r"^[a-z]{3}$")
    min_amount: float = Field(5.0, gt=0, description="USD")
    max_amount: float = Field(1000.0, gt=0, description="USD")
    webhook_tolerance: float = Field(300.0, gt=0, description="seconds a signed event stays acceptable")


class LoginLimitsConfig(_Strict):
    max_failures: int = Field(5, gt=0, description="failed sign-ins before an account is locked")
    lockout_seconds: float = Field(900.0, gt=0)
    per_ip_per_minute: int = Field(20, gt=0, description="sign-in attempts per client address")


class PortalConfig(_Strict):
    """Self-service accounts, sessions and the user portal (see docs/self-service.md)."""

    enabled: bool = False
    registration: Literal["off", "invite", "open"] = "off"
    public_url: str | None = Field(None, description="the gateway's address as users reach it (links, SSO)")
    session_ttl: float = Field(7 * 86400.0, gt=0, description="seconds a sign-in lasts")
    secure_cookies: bool | None = Field(None, description="default: true when public_url is https")
    require_verified_email: bool | None = Field(None, description="default: true when smtp is set")
    signup_credit: float | None = Field(0.0, ge=0, description="USD credit of a new user; null: no user credit limit")
    default_team: str | None = Field(None, description="team (id or name) new users join")
    markup: float = Field(0.0, ge=0, description="resale markup: 0.2 shows users prices +20%")
    min_password_length: int = Field(10, ge=8)
    login: LoginLimitsConfig = Field(default_factory=LoginLimitsConfig)
    smtp: SmtpConfig | None = None
    oidc: OidcConfig | None = None
    payments: PaymentsConfig | None = None


class ResponsesConfig(_Strict):
    """The Responses API's stored responses (see docs/responses-api.md)."""

    store: bool = Field(True, description="keep responses created with store: true (previous_response_id, GET)")
    retention_days: float = Field(30.0, gt=0, description="stored responses are deleted after this many days")


class GatewayConfig(_Strict):
    server: ServerConfig = Field(default_factory=ServerConfig)
    models: list[ModelConfig] = Field(default_factory=list)
    providers: dict[str, ProviderDefaults] = Field(default_factory=dict)
    local_model: LocalModelConfig = Field(default_factory=LocalModelConfig)
    observability: ObservabilityConfig = Field(default_factory=ObservabilityConfig)
    auto: AutoConfig = Field(default_factory=AutoConfig)
    discover_providers: bool = Field(True, description="add every provider whose API key is in the environment")
    data_dir: str = "./data"
    database_url: str | None = None
    redis_url: str | None = None
    accounts: AccountsConfig = Field(default_factory=AccountsConfig)
    portal: PortalConfig = Field(default_factory=PortalConfig)
    responses: ResponsesConfig = Field(default_factory=ResponsesConfig)
    media: MediaConfig = Field(default_factory=MediaConfig)
    batches: BatchesConfig = Field(default_factory=BatchesConfig)

    @field_validator("providers")
    @classmethod
    def _known_providers(cls, value: dict[str, ProviderDefaults]) -> dict[str, ProviderDefaults]:
        for name in value:
            if not is_known(name):
                raise ValueError(f"unknown provider {name!r} (known: {', '.join(provider_ids())})")
        return value

    @model_validator(mode="after")
    def _portal_needs_accounts(self) -> GatewayConfig:
        if self.portal.enabled and not self.accounts.enabled:
            raise ValueError("portal.enabled needs accounts.enabled (users own virtual keys)")
        if self.portal.enabled and not self.server.master_key:
            raise ValueError("portal.enabled needs server.master_key (without one every local caller is an admin)")
        return self

    @model_validator(mode="after")
    def _unique_model_names(self) -> GatewayConfig:
        seen: set[str] = set()
        for model in self.models:
            if model.name in seen:
                raise ValueError(f"model name {model.name!r} is defined twice")
            seen.add(model.name)
        names = seen | {self.local_model.name}
        for model in self.models:
            for target in (
                *model.routing.fallbacks,
                *model.routing.context_window_fallbacks,
                *model.routing.content_filter_fallbacks,
            ):
                if target not in names:
                    raise ValueError(f"model {model.name!r} falls back to unknown model {target!r}")
        return self


# ---------------------------------------------------------------------------------------------
# Loading


def resolve_env(
    value: Any,
    loc: tuple[Any, ...],
    problems: list[tuple[tuple[Any, ...], str]],
    environ: dict[str, str],
    *,
    require: bool = True,
) -> Any:
    """Replace ``env:NAME`` strings (recursively) with the variable's value.

    With ``require=False`` an unset variable is no problem and its reference is kept as written,
    so a command that needs only part of a config (``check-config --no-env``, ``keys create``)
    can load a file whose secrets live elsewhere.
    """
    if isinstance(value, str) and value.startswith("env:"):
        name = value[4:].strip()
        if name not in environ:
            if require:
                problems.append((loc, f"environment variable {name} is not set"))
                return None
            return value
        return environ[name]
    if isinstance(value, dict):
        return {k: resolve_env(v, (*loc, k), problems, environ, require=require) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_env(v, (*loc, i), problems, environ, require=require) for i, v in enumerate(value)]
    return value


def unresolved_env(value: Any) -> str | None:
    """The variable name of an ``env:NAME`` reference left unresolved by ``require_env=False``."""
    if isinstance(value, str) and value.startswith("env:"):
        return value[4:].strip()
    return None


def _format_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """The 1-based line of the YAML node at ``loc`` (or of its nearest existing parent)."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            found = next((v for k, v in node.value if getattr(k, "value", None) == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            found = node.value[part]
        else:
            found = None
        if found is None:
            break
        node = found
        line = node.start_mark.line + 1
    return line


def validate(raw: Any, *, source: str = "<config>", text: str | None = None, require_env: bool = True) -> GatewayConfig:
    """Validate an already-parsed config mapping; raise ConfigError listing every problem."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError([f"{source}: the config must be a mapping at the top level"])
    root = yaml.compose(text) if text else None

    def where(loc: tuple[Any, ...]) -> str:
        line = _line_of(root, loc) if root is not None else None
        return f"{_format_loc(loc)}" + (f" (line {line})" if line else "")

    env_problems: list[tuple[tuple[Any, ...], str]] = []
    resolved = resolve_env(raw, (), env_problems, dict(os.environ), require=require_env)
    problems = [f"{source}: {where(loc)}: {message}" for loc, message in env_problems]
    try:
        config = GatewayConfig.model_validate(resolved)
    except ValidationError as exc:
        for error in exc.errors():
            loc = tuple(error["loc"])
            if any(loc[: len(env_loc)] == env_loc for env_loc, _ in env_problems):
                continue  # already reported as an unset variable
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = "unknown field"
            problems.append(f"{source}: {where(loc)}: {message}")
    if problems:
        raise ConfigError(problems)
    return config


def load_config(path: str | Path | None = None, *, require_env: bool = True) -> GatewayConfig:
    """Load and validate a YAML config file; ``None`` gives the zero-config defaults.

    ``require_env=False`` keeps unset ``env:NAME`` references as written instead of failing.
    """
    if path is None:
        return validate({})
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read config: {exc.strerror}"]) from exc
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ConfigError([f"{path}{where}: invalid YAML: {getattr(exc, 'problem', exc)}"]) from exc
    return validate(raw, source=str(path), text=text, require_env=require_env)


def check_bind_safety(config: GatewayConfig) -> None:
    """Refuse to expose the gateway beyond loopback without a master key."""
    if config.server.host not in LOOPBACK_HOSTS and not config.server.master_key:
        raise ConfigError(
            [
                f"server.host: refusing to listen on {config.server.host} without a master key: anyone who can "
                "reach this address could spend your provider credits. Set server.master_key "
                "(e.g. master_key: env:UNIGATE_MASTER_KEY) or bind to 127.0.0.1."
            ]
        )
