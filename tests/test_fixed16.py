"""--precision fixed16: 16-bit dynamic fixed point, 4-bit cell slices and the ADC, against float32."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lergan_cc.cli.lerganc import main as lerganc
from lergan_cc.sim.driver import SimOptions, simulate
from lergan_cc.sim.fixed import adc_is_exact, quantize, sliced_matmul
from lergan_cc.sim.loader import load_program
from lergan_cc.sim.precision import precision_error
from lergan_cc.targets.hw import load_hw

ONNX = Path(__file__).resolve().parent.parent / "examples" / "onnx"


def test_quantize_is_16_bit_fixed_point() -> None:
    x = np.random.default_rng(0).standard_normal(1000).astype(np.float32) * 3
    q = quantize(x, 16)
    lsb = 2.0 ** (np.floor(np.log2(np.abs(x).max())) + 1 - 15)
    assert np.all(np.abs(q - x) <= lsb / 2 + 1e-12)
    assert len(np.unique(np.rint(q / lsb))) > 500 and np.allclose(np.rint(q / lsb), q / lsb)
    assert quantize(np.zeros(3, np.float32), 16).tolist() == [0, 0, 0]


def test_derived_adc_is_lossless_so_slicing_is_exact() -> None:
    """With the ADC of docs/hardware.md (10 bits + the flipped-weight bit) every column sum of 1-bit inputs
    and 4-bit cells over 128 rows is resolved: bit slicing gives the product of the quantised operands."""
    hw = load_hw(None)
    assert adc_is_exact(hw)
    rng = np.random.default_rng(1)
    v, w = rng.standard_normal((5, 300)).astype(np.float32), rng.standard_normal((300, 7)).astype(np.float32)
    exact = quantize(v, 16).astype(np.float64) @ quantize(w, 16).astype(np.float64)
    np.testing.assert_allclose(sliced_matmul(v, w, hw), exact, rtol=1e-5, atol=1e-5)


def test_a_coarser_adc_loses_precision() -> None:
    hw = load_hw(None)
    rng = np.random.default_rng(2)
    v, w = rng.standard_normal((4, 256)).astype(np.float32), rng.standard_normal((256, 8)).astype(np.float32)
    ref = v.astype(np.float64) @ w.astype(np.float64)
    err = [np.abs(sliced_matmul(v, w, hw, adc_bits=b) - ref).max() for b in (10, 8, 6)]
    assert err[0] < err[1] < err[2]


@pytest.fixture(scope="module")
def gan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fx") / "gan.fsm"
    assert lerganc([str(ONNX / "dcgan_g.onnx"), "--discriminator", str(ONNX / "dcgan_d.onnx"), "--batch", "2",
                    "-o", str(out)]) == 0
    return out


def test_fixed16_training_error_is_small_and_reported(gan: Path) -> None:
    program, params = load_program(str(gan))
    opts = SimOptions(precision="fixed16")
    fixed = simulate(program, str(gan), params, opts)
    err = precision_error(program, str(gan), params, opts, fixed)["compared"]
    assert {"G/fake", "loss:loss_d", "loss:loss_g", "weight updates"} <= set(err)
    for key in ("G/fake", "loss:loss_d", "loss:loss_g", "weight updates"):
        assert 0 < err[key]["max_rel"] < 1e-2, key
        assert err[key]["mean_rel"] <= err[key]["max_rel"] * 1.0001 or key.startswith("loss")
