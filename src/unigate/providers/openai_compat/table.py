"""Every OpenAI-compatible upstream, as rows of one table.

A row says where the API lives, which environment variable holds its key, how the key is sent,
and the wire quirks that differ from OpenAI. Adding an OpenAI-compatible provider is adding a
row. Facts about models (which ones exist, context windows, prices, which are offered
zero-config) live in the catalog, not here.
"""

from __future__ import annotations

from dataclasses import dataclass

from unigate.types import Deployment


@dataclass(frozen=True, slots=True)
class CompatRow:
    base_url: str
    key_env: str | None = None
    auth: str = "bearer"  # how a configured key is sent: "bearer" | "api-key" (Azure) | "none"
    # request fields the upstream rejects; dropped before sending
    drop_params: tuple[str, ...] = ()
    # whether the upstream accepts stream_options.include_usage
    stream_usage: bool = True
    # Azure: deployment in the path and api-version in the query
    azure: bool = False
    local: bool = False  # runs on the user's own machine (privacy policies treat it as local)
    # serves POST /v1/responses: Responses API requests go to it natively (deployment option
    # ``responses_api`` overrides, e.g. for a vLLM server that has it)
    responses_api: bool = False


COMPAT_PROVIDERS: dict[str, CompatRow] = {
    "openai": CompatRow("https://api.openai.com/v1", "OPENAI_API_KEY", responses_api=True),
    "azure": CompatRow("", "AZURE_OPENAI_API_KEY", auth="api-key", azure=True),
    "groq": CompatRow(
        "https://api.groq.com/openai/v1", "GROQ_API_KEY", drop_params=("logprobs", "top_logprobs", "logit_bias")
    ),
    "mistral": CompatRow(
        "https://api.mistral.ai/v1", "MISTRAL_API_KEY", drop_params=("logit_bias", "user", "store", "metadata")
    ),
    "together": CompatRow("https://api.together.xyz/v1", "TOGETHER_API_KEY"),
    "fireworks": CompatRow("https://api.fireworks.ai/inference/v1", "FIREWORKS_API_KEY"),
    "deepseek": CompatRow("https://api.deepseek.com", "DEEPSEEK_API_KEY"),
    "xai": CompatRow("https://api.x.ai/v1", "XAI_API_KEY"),
    "openrouter": CompatRow("https://openrouter.ai/api/v1", "OPENROUTER_API_KEY"),
    "cerebras": CompatRow(
        "https://api.cerebras.ai/v1",
        "CEREBRAS_API_KEY",
        drop_params=("frequency_penalty", "presence_penalty", "logit_bias"),
    ),
    "perplexity": CompatRow(
        "https://api.perplexity.ai",
        "PERPLEXITY_API_KEY",
        drop_params=("logit_bias", "logprobs", "n", "tools", "tool_choice"),
    ),
    "deepinfra": CompatRow("https://api.deepinfra.com/v1/openai", "DEEPINFRA_API_KEY"),
    "huggingface": CompatRow("https://router.huggingface.co/v1", "HF_TOKEN"),
    "nvidia": CompatRow("https://integrate.api.nvidia.com/v1", "NVIDIA_API_KEY"),
    "sambanova": CompatRow("https://api.sambanova.ai/v1", "SAMBANOVA_API_KEY"),
    "jina": CompatRow("https://api.jina.ai/v1", "JINA_API_KEY"),
    "infinity": CompatRow("http://127.0.0.1:7997", None, local=True),
    "nebius": CompatRow("https://api.studio.nebius.com/v1", "NEBIUS_API_KEY"),
    "moonshot": CompatRow("https://api.moonshot.ai/v1", "MOONSHOT_API_KEY"),
    "novita": CompatRow("https://api.novita.ai/v3/openai", "NOVITA_API_KEY"),
    # Local servers need no key by default, but take one when configured as a bearer token
    # (Ollama's cloud models, `vllm serve --api-key`, llama-server --api-key, LM Studio auth).
    "ollama": CompatRow("http://127.0.0.1:11434/v1", None, local=True),
    "vllm": CompatRow("http://127.0.0.1:8000/v1", None, local=True),
    "lmstudio": CompatRow("http://127.0.0.1:1234/v1", None, local=True),
    "llamacpp": CompatRow("http://127.0.0.1:8080/v1", None, local=True),
}


def serves_responses(deployment: Deployment) -> bool:
    """Whether a deployment takes Responses API requests natively (its row's flag, or the
    deployment's ``responses_api`` option)."""
    row = COMPAT_PROVIDERS.get(deployment.provider)
    return row is not None and bool(deployment.option("responses_api", row.responses_api))
