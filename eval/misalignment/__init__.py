"""Misalignment protocols (the Codex paper, section 7.2): clean and buggy contexts per arm (`runs`), the paper's
own buggy contexts (`codex_contexts`), automated ones from subtle-bug mutations (`mutation`, `mutated_contexts`)
and near misses (`near_miss`)."""
