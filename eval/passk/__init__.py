"""pass@k runs and their analyses: the Codex paper's curves and ranking, back-translation scores, and
HumanEval-Infilling through the completion pipeline."""
