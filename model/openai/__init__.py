"""The openai engine: `/v1/completions` on any OpenAI-compatible server, over a small HTTP transport with
bounded retries."""
