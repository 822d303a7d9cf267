"""Output formats of findings: review reports as text or JSON (`report`) and SARIF 2.1.0 (`sarif`)."""
