"""Command-line drivers: lerganc, lergan-opt."""
