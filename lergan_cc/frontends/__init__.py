"""Front ends: the DSL (lark) and ONNX (onnx) importers, and the GAN assembler."""
