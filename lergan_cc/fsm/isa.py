"""The instruction set as data: every opcode, its operands (type, range) and the resource it occupies.

The assembler checks programs against this table, the printer spells operands in its
order, ``docs/ISA.md`` documents it and the timing model (issue 6) costs instructions
by their ``resource`` and ``klass``. Every dataflow instruction runs over the whole batch.
"""

from __future__ import annotations

from dataclasses import dataclass

PHASES = ("G_fwd", "D_fwd", "D_err", "D_wgrad", "G_err", "G_wgrad", "fwd", "host", "reduce")
WIRES = ("htree", "horizontal", "vertical", "bypass", "bus")
MODES = ("Smode", "Cmode")
SWITCH_STATES = ("parent", "horizontal", "upper", "down")
LAYOUTS = ("tconv", "sconv", "dense", "dense_t", "grad")
MMV_MODES = ("fwd", "wgrad_mck", "wgrad_cmk")
ACTIVATIONS = ("relu", "leaky_relu", "tanh", "sigmoid")
LOSS_FORMS = ("prob", "logit")
LOSS_TERMS = ("real", "fake", "gen")
LOSSES = ("loss_d", "loss_g")
BN_STATS = ("batch", "running")
BN_SYNC = ("global", "shard")
FANOUTS = ("multicast", "per-copy")
REDUCE_MODES = ("tree", "home")
PAD_MODES = ("constant", "reflect", "edge", "wrap")


@dataclass(frozen=True)
class Operand:
    """One keyword operand. ``type`` names a checker in :mod:`lergan_cc.fsm.check`; ``choices`` an enum."""

    name: str
    type: str
    choices: tuple[str, ...] = ()
    optional: bool = False


@dataclass(frozen=True)
class Opcode:
    """``klass`` groups instructions in reports; ``resource`` is what the instruction occupies while it runs."""

    name: str
    operands: tuple[Operand, ...]
    klass: str
    resource: str
    doc: str


def _o(name: str, type_: str, *choices: str, optional: bool = False) -> Operand:
    return Operand(name, type_, tuple(choices), optional)


DST, SRC = _o("dst", "buf"), _o("src", "buf")
HOST_VIEW = (_o("shape", "ints", optional=True), _o("perm", "ints", optional=True))  # lergan_cc.views
# The ops of DAG generators (CycleGAN ResNet, pix2pix U-Net, upsample + conv) and their gradients.
DAG_OPCODES: tuple[Opcode, ...] = (
    Opcode("vadd", (DST, _o("a", "buf"), _o("b", "buf")), "peripheral", "tile peripherals of dst's bank",
           "dst <- a + b, element-wise: a residual connection, or the gradient of a value two ops read."),
    Opcode("insert", (DST, SRC, _o("axis", "int"), _o("at", "int")), "buffer", "BArray of dst's bank",
           "dst[at : at + n] <- src along the per-sample axis `axis` (0: channels; n: src's length there); the "
           "rest of dst is kept. A concat is one insert per input."),
    Opcode("extract", (DST, SRC, _o("axis", "int"), _o("at", "int")), "buffer", "BArray of dst's bank",
           "dst <- src[at : at + n] along the per-sample axis `axis` (n: dst's length there): the gradient of "
           "one input of a concat."),
    Opcode("pad", (DST, SRC, _o("mode", "enum", *PAD_MODES), _o("before", "ints"), _o("after", "ints"),
                   _o("value", "float")), "buffer", "BArray of dst's bank",
           "dst <- src padded along every per-sample axis (channels, spatial...) by `before`/`after` positions: "
           "the constant `value`, or the reflection, edge or wrap-around of src (numpy.pad's modes)."),
    Opcode("pad_grad", (DST, SRC, _o("mode", "enum", *PAD_MODES), _o("before", "ints"), _o("after", "ints")),
           "peripheral", "tile peripherals of dst's bank",
           "The gradient of a pad: dst <- src (shaped like the padded value) cropped by before/after, every "
           "padded position added into the position it copies (reflect, edge, wrap)."),
    Opcode("upsample", (DST, SRC, _o("scales", "ints")), "buffer", "BArray of dst's bank",
           "Nearest upsampling: dst[..., o] <- src[..., o // scales] along every spatial axis."),
    Opcode("upsample_grad", (DST, SRC, _o("scales", "ints")), "peripheral", "tile peripherals of dst's bank",
           "The gradient of a nearest upsampling: dst[..., i] <- the sum of src over the block i was copied to."),
    Opcode("inorm", (DST, SRC, _o("scale", "param"), _o("bias", "param"), _o("eps", "float")), "peripheral",
           "tile peripherals of dst's bank",
           "Instance normalisation: every sample's every channel normalised over its spatial positions, then "
           "scale * x + bias per channel. Per sample: nothing to synchronise between sample-parallel copies."),
    Opcode("inorm_grad", (DST, _o("x", "buf"), _o("dy", "buf"), _o("scale", "param"), _o("eps", "float"),
                          _o("dscale", "buf", optional=True), _o("dbias", "buf", optional=True)), "peripheral",
           "tile peripherals of dst's bank",
           "Backward of instance normalisation: dst <- dx; dscale += sum(dy*xhat); dbias += sum(dy) (both or "
           "neither, as bn_grad)."),
    Opcode("dropout", (DST, SRC, _o("mask", "buf"), _o("ratio", "float"), _o("seed", "int")), "peripheral",
           "tile peripherals of dst's bank",
           "mask <- keep / (1 - ratio) with keep ~ Bernoulli(1 - ratio), drawn by the tiles' generator seeded "
           "with the run's seed, the training iteration and `seed` (the same mask for every pass of one "
           "iteration); dst <- src * mask."),
    Opcode("dropout_grad", (DST, _o("dy", "buf"), _o("mask", "buf")), "peripheral",
           "tile peripherals of dst's bank", "The gradient of a dropout: dst <- dy * mask."),
)
OPCODES: tuple[Opcode, ...] = (
    Opcode("layer", (_o("name", "str"), _o("phase", "enum", *PHASES)), "marker", "none",
           "Attributes the following instructions to a layer and phase (reports); costs nothing."),
    Opcode("write", (_o("mat", "mat"), _o("src", "ref"), _o("layout", "enum", *LAYOUTS), _o("taps", "taps"),
                     _o("fanout", "enum", *FANOUTS, optional=True)),
           "write", "crossbars of mat (cell writes), the bus or tile port it is fed from",
           "Program crossbars: every copy of `mat` <- the taps `taps` (one sequence per spatial axis) of `src` "
           "cut into `layout`. From a @param (host memory, weights) or a %buffer (dy of a weight gradient, "
           "one matrix per sample). `fanout=multicast` (the default): one stream from the host per bank, "
           "fanned out down the H-tree to that bank's sample-parallel copies; `per-copy`: a stream per copy."),
    Opcode("zero", (DST,), "buffer", "BArray of dst's bank", "dst <- 0."),
    Opcode("zpad", (DST, SRC, _o("stride", "strides"), _o("before", "ints")), "buffer", "BArray of dst's bank",
           "Zero insertion and padding: dst[..., before + stride*i] = src[..., i] (positions outside dst "
           "dropped), zeros elsewhere. The normal mapping's zero-inserted operand."),
    Opcode("load", (DST, SRC), "buffer", "SArray and BArray of the bank", "dst (BArray) <- src (SArray)."),
    Opcode("store", (DST, SRC), "buffer", "BArray and SArray of the bank", "dst (SArray) <- src (BArray)."),
    Opcode("mmv", (DST, _o("mat", "mat"), SRC, _o("mode", "enum", *MMV_MODES), _o("rect", "rect"),
                   _o("win", "win"), _o("acc", "flag"), _o("pad", "flag")),
           "mmv", "crossbars of mat (DAC, ADC, shift-and-add), the tile's BArray",
           "For every j in the loop nest `rect` (one <start,step,count> per axis) gather src at "
           "win[a].a*j_a + win[a].seq[t_a], multiply by `mat`, write (acc=0) or add (acc=1) to dst at "
           "the positions start+step*j. pad=1: reads outside src give 0."),
    Opcode("add", (DST, SRC), "network", "adders of the H-tree nodes on the route", "dst += src (in-network add)."),
    Opcode("act", (DST, SRC, _o("fn", "enum", *ACTIVATIONS), _o("alpha", "float")), "peripheral",
           "tile peripherals of dst's bank", "dst <- fn(src)."),
    Opcode("act_grad", (DST, _o("y", "buf"), _o("dy", "buf"), _o("fn", "enum", *ACTIVATIONS), _o("alpha", "float")),
           "peripheral", "tile peripherals of dst's bank", "dst <- fn'(y) * dy, from the activation's output y."),
    Opcode("bn", (DST, SRC, _o("scale", "param"), _o("bias", "param"), _o("mean", "param"), _o("var", "param"),
                  _o("eps", "float"), _o("stats", "enum", *BN_STATS), _o("sync", "enum", *BN_SYNC, optional=True)),
           "peripheral", "tile peripherals of dst's bank",
           "Batch normalisation over channels with batch statistics or the running mean/var. On a sharded buffer "
           "`sync=global` (the default) reduces the copies' per-channel sums (sum x, sum x^2) to statistics of "
           "the whole batch and broadcasts them back; `sync=shard` normalises every shard with its own."),
    Opcode("bn_grad", (DST, _o("x", "buf"), _o("dy", "buf"), _o("scale", "param"), _o("eps", "float"),
                       _o("dscale", "buf", optional=True), _o("dbias", "buf", optional=True),
                       _o("sync", "enum", *BN_SYNC, optional=True)), "peripheral",
           "tile peripherals of dst's bank",
           "Backward of batch-statistics batch norm: dst <- dx; dscale += sum(dy*xhat); dbias += sum(dy) "
           "(both or neither: the G step passes D's error through without training D). `sync` as for `bn`: the "
           "backward of whole-batch statistics needs the whole batch's sum(dy) and sum(dy*xhat)."),
    *DAG_OPCODES,
    Opcode("bias", (DST, _o("src", "param")), "peripheral", "tile peripherals of dst's bank",
           "dst[:, c, ...] += src[c]."),
    Opcode("bias_grad", (DST, SRC), "peripheral", "tile peripherals of src's bank",
           "dst[c] += sum over samples and positions of src[:, c, ...]."),
    Opcode("reshape", (DST, SRC), "peripheral", "tile peripherals of dst's bank", "dst <- src, per-sample reshape."),
    Opcode("xfer", (DST, SRC, _o("from", "tile", optional=True), _o("to", "tile", optional=True),
                    _o("route", "route", optional=True)), "transfer",
           "the links of route (wire kinds per hop), the switches on it",
           "Move src from tile `from` to dst at tile `to` over the hops `route`; dst <- src. Between sharded "
           "buffers (no from/to/route): every shard of dst gets its samples from the shards of src holding "
           "them, over the routes the controller picks."),
    Opcode("reduce", (DST, _o("mode", "enum", *REDUCE_MODES)), "network",
           "tree: the links and node adders between the partials' tiles; home: the links to dst's home, its tile",
           "Sum the partial sums of a gradient accumulated by sample-parallel copies (`partials=K`) into one. "
           "tree: pairwise, level by level, on the bypassable adders of the nodes where the routes meet; "
           "home: every partial is shipped to the home of partial 0 and added there."),
    Opcode("setmode", (_o("bank", "bank"), _o("mode", "enum", *MODES)), "config", "the bank's switches",
           "Switch one bank between Smode (memory) and Cmode (compute)."),
    Opcode("setswitch", (_o("node", "node"), _o("state", "enum", *SWITCH_STATES)), "config", "one switch",
           "Set one node's switch."),
    Opcode("barrier", (), "sync", "none", "Wait until every issued instruction has finished."),
    Opcode("host.input", (DST, _o("key", "str"), *HOST_VIEW),
           "host", "host CPU, the bus",
           "dst <- the run-time input `key` (this iteration's batch). With `shape`, the input is a tensor of that "
           "shape in the model's layout, handed over as `transpose(perm)` then reshaped to (batch, dst's shape)."),
    Opcode("host.output", (SRC, _o("key", "str"), *HOST_VIEW),
           "host", "host CPU, the bus",
           "Output `key` <- src; with `shape`, taken back into the model's layout (the inverse of host.input's)."),
    Opcode("host.loss", (_o("dst", "enum", *LOSSES), SRC, _o("form", "enum", *LOSS_FORMS),
                         _o("term", "enum", *LOSS_TERMS)), "host", "host CPU, the bus",
           "dst += the loss term of D's output src (Eq. 1, 2): real -mean log D, fake -mean log(1-D), "
           "gen the generator loss chosen by --g-loss."),
    Opcode("host.loss_grad", (DST, SRC, _o("form", "enum", *LOSS_FORMS), _o("term", "enum", *LOSS_TERMS)),
           "host", "host CPU, the bus", "dst <- d(term)/d(src)."),
    Opcode("host.sgd", (_o("param", "param"), _o("grad", "buf")), "host", "host CPU, the bus (reads grad)",
           "param <- param - lr * grad (lr from --lr); the matrices cut from param are re-programmed by writes."),
)
ISA: dict[str, Opcode] = {op.name: op for op in OPCODES}
