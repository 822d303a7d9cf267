"""Engine settings: the `[engine]` section of codeward's configuration."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

ENGINES = ("llamacpp", "transformers", "openai")
# Values every request reads anew (the pipeline builds `SamplingParams` and picks the template from them): changing
# them keeps the loaded engine and its KV caches. Every other field shapes the loaded engine.
PER_REQUEST = frozenset({"n", "temperature", "top_p", "max_new_tokens", "seed", "template"})
LoadKey = tuple[tuple[str, object], ...]


@dataclass
class EngineSettings:
    """Which model runs and how it samples; shared by every command that runs a model."""

    engine: str = field(default="llamacpp", metadata={"help": "Engine: llamacpp (GGUF, CPU), transformers "
                        "(HF dirs or GGUF, GPU/CPU), openai (an OpenAI-compatible server)", "choices": ENGINES,
                        "tier": "user", "project": False})
    model: str = field(default="qwen2.5-coder-0.5b", metadata={"help": "An installed model's name "
                       "(qwen2.5-coder-0.5b, qwen2.5-coder-1.5b, smollm2-135m; 'embedded' = the default; "
                       "`codeward models` lists them), a GGUF path, an HF model dir/id, or a served model name",
                       "tier": "user", "project": False})
    model_dir: str = field(default="", metadata={"help": "Where installed models are assembled; empty = "
                           "$XDG_CACHE_HOME/codeward/models (~/.cache/codeward/models)",
                           "tier": "advanced", "project": False})
    base_url: str = field(default="", metadata={"help": "Base URL of the OpenAI-compatible server "
                          "(e.g. http://127.0.0.1:8000/v1)", "tier": "user", "project": False})
    api_key_env: str = field(default="CODEWARD_API_KEY", metadata={"help": "Name of the environment variable "
                             "holding the API key (the key itself is never stored)",
                             "tier": "advanced", "project": False})
    n: int = field(default=1, metadata={"help": "Samples per prompt", "min": 1,
                   "tier": "advanced", "project": True})
    temperature: float = field(default=0.0, metadata={"help": "Sampling temperature; 0 = greedy", "min": 0.0,
                               "tier": "advanced", "project": True})
    top_p: float = field(default=1.0, metadata={"help": "Nucleus sampling mass", "min": 0.0, "max": 1.0,
                         "tier": "advanced", "project": True})
    max_new_tokens: int = field(default=64, metadata={"help": "Maximum new tokens per sample", "min": 1,
                                "tier": "advanced", "project": True})
    seed: int | None = field(default=None, metadata={"help": "Sampling seed (none = random)",
                             "tier": "advanced", "project": True})
    template: str = field(default="auto", metadata={"help": "Prompt template family; auto = detect from the "
                          "model's tokenizer or name", "tier": "advanced", "project": True})
    device: str = field(default="auto", metadata={"help": "transformers device: auto, cpu, cuda, cuda:N",
                        "tier": "advanced", "project": True})
    dtype: str = field(default="auto", metadata={"help": "transformers dtype", "choices":
                       ("auto", "float32", "bfloat16", "float16"), "tier": "advanced", "project": True})
    n_ctx: int = field(default=4096, metadata={"help": "Context window (tokens) for llamacpp", "min": 256,
                       "tier": "advanced", "project": True})
    quant: str = field(default="auto", metadata={"help": "llamacpp: shipped = the file as installed; q4_0 / "
                       "q8_0 = converted once, locally, into model_dir; auto = the measured choice per installed "
                       "model (q8_0 for qwen2.5-coder-0.5b: faster prompts; shipped for the others and for paths). "
                       "q4_0: 1.5x faster than shipped, HumanEval 42% -> 36% for the 0.5B model; see docs/benchmarks.md#local-conversion",
                       "choices": ("auto", "shipped", "q4_0", "q8_0"), "tier": "advanced", "project": True})
    n_threads: int = field(default=0, metadata={"help": "CPU threads for llamacpp; 0 = all cores", "min": 0,
                           "tier": "advanced", "project": True})
    kv_cache_mb: int = field(default=256, metadata={"help": "llamacpp: memory for the saved KV caches of "
                             "documents other than the current one (MB; 0 = keep only the current one)", "min": 0,
                             "tier": "advanced", "project": True})
    speculative: str = field(default="off", metadata={"help": "llamacpp greedy decoding: lookup (verify "
                             "drafts copied from the prompt's repeated text, several tokens per step; measured "
                             "slower on 2 cores, see docs/benchmarks.md#speculative-decoding), off", "choices": ("lookup", "off"),
                             "tier": "advanced", "project": True})
    draft_model: str = field(default="", metadata={"help": "llamacpp: a smaller model with the same tokenizer "
                             "that drafts for speculative decoding (after prompt lookup when speculative = lookup; "
                             "e.g. qwen2.5-coder-0.5b for qwen2.5-coder-1.5b); empty = none",
                             "tier": "advanced", "project": False})
    timeout_s: float = field(default=60.0, metadata={"help": "Timeout of one request to a remote server",
                             "min": 0.1, "tier": "advanced", "project": True})
    max_retries: int = field(default=3, metadata={"help": "Retries on 429/5xx from a remote server", "min": 0,
                             "tier": "advanced", "project": True})
    parallel_requests: int = field(default=8, metadata={"help": "Prompts sent at once to a remote server (the "
                                   "openai engine), so a batching server such as vLLM can batch them", "min": 1,
                                   "tier": "advanced", "project": True})


def load_key(settings: EngineSettings) -> LoadKey:
    """What the loaded engine depends on: two settings with the same key can share one engine (the engine, the
    model, its quantization and context, threads, cache size, draft model, device and dtype, the server's URL and
    HTTP values); the sampling values (`PER_REQUEST`) are left out."""
    return tuple(sorted((name, value) for name, value in asdict(settings).items() if name not in PER_REQUEST))
