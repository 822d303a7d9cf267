"""`eval security`: CyberSecEval's autocomplete and instruct protocols through the completion pipeline, the two
judges, what filtering costs on correct code, and the run's report."""
