# lit configuration for the golden per-pass tests (run by tests/test_lit.py and `lit -v tests/filecheck`).
import os

import lit.formats

config.name = "lergan_cc"  # noqa: F821
config.test_format = lit.formats.ShTest(execute_external=False)  # noqa: F821
config.suffixes = [".lir", ".test"]  # noqa: F821
config.test_source_root = os.path.dirname(__file__)  # noqa: F821
config.environment["PATH"] = os.environ["PATH"]  # noqa: F821
_root = os.path.dirname(os.path.dirname(config.test_source_root))  # noqa: F821
config.substitutions.append(("%examples", os.path.join(_root, "examples")))  # noqa: F821
config.substitutions.append(("%fixtures", os.path.join(_root, "tests", "fixtures")))  # noqa: F821
# print -> parse -> print must be a fixed point (STYLE.md, as xDSL's lit.cfg does)
config.substitutions.append(("%roundtrip", "lergan-opt - | lergan-opt -"))  # noqa: F821
config.excludes = ["Inputs", "Output"]  # noqa: F821
