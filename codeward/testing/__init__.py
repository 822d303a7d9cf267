"""Test doubles and drivers that the test suite and the benchmarks share: engines whose timing a test decides
(`gated_engines`, `fake_engines`), a language server with them plugged in (`fake_server`), a minimal LSP client
(`raw_client`) and headless Neovim drivers (`nvim`). Imported by `tests/` and `bench/` only, never by codeward."""
