"""``lergan-bench --sweep``: design-space exploration over models, design points and hardware parameters."""
