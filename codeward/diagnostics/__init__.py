"""Alignment diagnostics: bugs in the code the model reads, with evidence (the examples check, the consensus check,
the localizer; the next issues fill this package, one module per check).

Sits below the completion pipeline and above the sandbox: it runs code through `codeward.sandbox` and builds its
prompts with `codeward.model`'s templates directly, so the pipeline can call it (the repair policy) without a cycle.
It never imports the pipeline, the faces or the CLI.
"""
