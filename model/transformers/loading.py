"""Loading a transformers model offline: device and dtype choice, HF directories, cached ids and GGUF files."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import torch

from codeward.model.base import EngineError

log = logging.getLogger(__name__)

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def pick_device(name: str) -> torch.device:
    """'auto' is the first CUDA device when one is present, else the CPU; 'cuda' without CUDA is an error."""
    if name in ("", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise EngineError(f"engine device {name!r} is not a device torch knows ({exc}); "
                          "use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise EngineError(f"engine device {name!r} asks for CUDA but this torch build has none "
                          f"(torch {torch.__version__}); use device auto or cpu, or install a CUDA torch")
    return device


def cpu_has_fast_bf16() -> bool:
    """Whether oneDNN has native bf16 kernels here (AVX-512 BF16 / AMX): then bf16 beats fp32 on the CPU."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError) as exc:
        log.debug("cannot ask oneDNN about bf16 support (%s); assuming none", exc)
        return False


def pick_dtype(name: str, device: torch.device) -> torch.dtype:
    """'auto': bf16 on CUDA (fp16 on GPUs without bf16); on CPU bf16 only where the CPU has native bf16."""
    if name not in ("", "auto"):
        try:
            return DTYPES[name]
        except KeyError:
            raise EngineError(f"engine dtype {name!r} is unknown; use auto, {', '.join(DTYPES)}") from None
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if cpu_has_fast_bf16() else torch.float32


def _source(model: str) -> tuple[str, dict[str, Any]]:
    """Where from_pretrained should look, and the extra keyword arguments (gguf_file=, local_files_only=)."""
    path = Path(model).expanduser()
    if path.suffix.lower() == ".gguf":
        if not path.is_file():
            raise EngineError(f"GGUF model file {model!r} does not exist; check the --model path")
        return str(path.parent), {"gguf_file": path.name}
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise EngineError(f"model directory {model!r} has no config.json, so it is not a Hugging Face "
                              "model directory; point --model at the folder that holds config.json")
        return str(path), {"local_files_only": True}
    if path.exists() or model.startswith((".", "/", "~")):
        raise EngineError(f"model {model!r} is neither a GGUF file nor a Hugging Face model directory")
    return model, {"local_files_only": True}


def _dtype_arg() -> str:
    """transformers 4.56 renamed from_pretrained's `torch_dtype` to `dtype`."""
    import transformers

    major, minor = (int(x) for x in transformers.__version__.split(".")[:2])
    return "dtype" if (major, minor) >= (4, 56) else "torch_dtype"


def load(model: str, device: torch.device, dtype: torch.dtype) -> tuple[Any, Any]:
    """Tokenizer and causal LM for `model` on `device` in `dtype`; never downloads (no hub access at run time)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    where, extra = _source(model)
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # the GGUF dequantisation bar would spam the language server's stderr
    try:
        tokenizer = AutoTokenizer.from_pretrained(where, **extra)
        placement = {"device_map": str(device)} if device.type == "cuda" else {}  # load straight onto the GPU
        lm = AutoModelForCausalLM.from_pretrained(where, **{_dtype_arg(): dtype}, **placement, **extra)
    except (OSError, ValueError) as exc:
        if "gguf_file" in extra:
            raise EngineError(f"transformers could not load the GGUF file {model!r}: {exc}; it needs the "
                              "'gguf' and 'accelerate' packages and a GGUF architecture transformers supports")
        cache = os.environ.get("HF_HOME", "~/.cache/huggingface")
        raise EngineError(f"model {model!r} is not a local directory and not in the Hugging Face cache "
                          f"({cache}); codeward never downloads at run time: fetch it first with "
                          f"`huggingface-cli download {model}` or pass a local model directory ({exc})") from None
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    lm.to(device)
    lm.eval()
    return tokenizer, lm


def special_tokens(tokenizer: Any) -> frozenset[str]:
    """The tokenizer's special and added tokens (FIM sentinels live there), for template detection."""
    tokens = set(getattr(tokenizer, "all_special_tokens", []))
    decoder = getattr(tokenizer, "added_tokens_decoder", {}) or {}
    tokens.update(str(getattr(t, "content", t)) for t in decoder.values())
    return frozenset(tokens)


def eos_ids(tokenizer: Any, lm: Any) -> set[int]:
    """Token ids that end a sample: the tokenizer's EOS and the generation config's (which may be a list)."""
    ids: set[int] = set()
    configured = getattr(getattr(lm, "generation_config", None), "eos_token_id", None)
    for value in (tokenizer.eos_token_id, configured):
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, list | tuple):
            ids.update(int(v) for v in value)
    return ids
