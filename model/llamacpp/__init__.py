"""The llamacpp engine: GGUF models in-process through llama-cpp-python (`engine`), with batched sampling,
per-document KV contexts, local requantisation, a draft model and speculative decoding beside it."""
