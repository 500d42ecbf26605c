"""``lergan-bench``: the paper's §VI evaluation as one command (benchmarks × design points)."""
