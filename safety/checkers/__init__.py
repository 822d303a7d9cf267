"""Adapters for the third-party checkers the safety engine runs in-process on strings: bandit and pyflakes."""
