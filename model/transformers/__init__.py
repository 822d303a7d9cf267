"""The transformers engine: Hugging Face models (or GGUF files, dequantised) on CUDA or the CPU, with their
offline loading and a batched decoding loop."""
