"""The measurement face: data sets, sandboxed execution, pass@k, statistics and reports."""
