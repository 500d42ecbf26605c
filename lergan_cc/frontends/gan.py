"""Assemble a GAN from a generator and a discriminator network, and take it apart.

In a GAN graph the generator's ops are in phase G_fwd and read the input ``noise``;
the discriminator's are in D_fwd and read the input ``real`` (an item). Parameters are
keyed ``G/<name>`` and ``D/<name>`` (DESIGN §8). The graph attribute :class:`GanRoles` says
which values are the fakes and D's output.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from lergan_cc.errors import LerganError
from lergan_cc.ir.attrs import GanRoles, OutputNames, ReplicaDegree, SourceModel
from lergan_cc.ir.graph import Graph
from lergan_cc.ir.printer import PARAM_FIELDS

NOISE, REAL = "noise", "real"


def make_gan(gen: Graph, disc: Graph, model: str | None = None, batch: int | None = None) -> Graph:
    """The GAN of a generator and a discriminator; ``batch``: the one asked for (else their static batches
    must agree)."""
    g_in, g_out = _single_io(gen, "generator")
    d_in, d_out = _single_io(disc, "discriminator")
    if gen.op(g_out).shape != disc.op(d_in).shape:
        raise LerganError(f"generator output {list(gen.op(g_out).shape)} does not match "
                          f"discriminator input {list(disc.op(d_in).shape)}")
    g_names, d_names = set(gen.nx) - {g_in}, set(disc.nx) - {d_in}
    clash = bool(g_names & d_names or {NOISE, REAL} & (g_names | d_names))
    gan = Graph(model=model or gen.model, kind="gan")
    degree = gen.get(ReplicaDegree) or disc.get(ReplicaDegree)
    if degree is not None:
        gan.attach(degree)
    g_map = _copy(gen, gan, "G", "G_fwd", {g_in: NOISE}, prefix_ops=clash)
    d_map = _copy(disc, gan, "D", "D_fwd", {d_in: REAL}, prefix_ops=clash)
    gan.outputs = [g_map[g_out], d_map[d_out]]
    names = gen.get(OutputNames)  # keys the generator's output when the GAN is compiled with --mode infer
    gan.attach(GanRoles(gan.outputs[0], gan.outputs[1], disc.op(d_out).OP == "sigmoid",
                        names.names if names else ()))
    gan.sources = {net: g.sources["net"] for net, g in (("G", gen), ("D", disc)) if "net" in g.sources}
    source = _gan_source(gen, disc, batch)
    if source is not None:
        gan.attach(source)
    return gan


def _gan_source(gen: Graph, disc: Graph, batch: int | None) -> SourceModel | None:
    """Both networks' source facts, parameters keyed ``G/``, ``D/``: their static batches must agree (unless
    ``batch`` is given), and a GAN's tensors between the host and the networks are (batch, ...) tensors (the
    fakes go straight to D)."""
    sources = {net: g.get(SourceModel) for net, g in (("G", gen), ("D", disc))}
    batches = {net: s.batch for net, s in sources.items() if s is not None and s.batch is not None}
    if batch is not None and len(set(batches.values())) > 1:
        batches = {}  # --batch decides for both
    if len(set(batches.values())) > 1:
        raise LerganError(f"the generator {gen.model} has a static batch of {batches['G']}, the discriminator "
                          f"{disc.model} one of {batches['D']}: give the same, or a symbolic batch, to both")
    for net, s in sources.items():
        if s is not None and s.fixes_batch:
            views = ", ".join(f"'{n}'" for n in sorted({*s.inputs, *s.outputs}))
            raise LerganError(f"{(gen if net == 'G' else disc).model}: a GAN's networks take and give (batch, ...) "
                              f"tensors; {views} would be regrouped")
    params = {f"{net}/{name}": view for net, s in sources.items() if s is not None for name, view in s.params.items()}
    if not batches and not params:
        return None
    return SourceModel(next(iter(batches.values()), None), params=params)


def generator_only(gan: Graph) -> Graph:
    """The generator's forward pass of a GAN as a single network (``--mode infer``)."""
    roles = gan.need(GanRoles)
    net = Graph(model=gan.model, kind="net")
    degree = gan.get(ReplicaDegree)
    if degree is not None:
        net.attach(degree)
    for op in gan.ops():
        if op.phase == "G_fwd":
            net.add(op.replace(phase="fwd"))
    for name, p in gan.params.items():
        if name.startswith("G/"):
            net.add_param(name, p.shape, gan.tensors.get(name))
    if "G" in gan.sources:
        net.sources["net"] = gan.sources["G"]
    net.outputs = [roles.generator_output]
    if roles.generator_output_names:
        net.attach(OutputNames(roles.generator_output_names))
    source = gan.get(SourceModel)
    if source is not None:
        net.attach(SourceModel(source.batch, params={k: v for k, v in source.params.items() if k.startswith("G/")}))
    return net


def _single_io(net: Graph, role: str) -> tuple[str, str]:
    inputs = [op.name for op in net.inputs()]
    if len(inputs) != 1 or len(net.outputs) != 1:
        raise LerganError(f"{net.model}: a {role} needs exactly one run-time input and one output, "
                          f"has {len(inputs)} and {len(net.outputs)}")
    return inputs[0], net.outputs[0]


def _copy(src: Graph, dst: Graph, net: str, phase: str, renames: dict[str, str], prefix_ops: bool) -> dict[str, str]:
    names = {op.name: renames.get(op.name, f"{net}/{op.name}" if prefix_ops else op.name) for op in src.ops()}
    for op in src.ops():
        params: dict[str, Any] = {f: f"{net}/{getattr(op, f)}" for f in PARAM_FIELDS
                  if isinstance(getattr(op, f, None), str)}
        dst.add(dataclasses.replace(op, name=names[op.name], phase=phase,
                                    layer=renames.get(op.name, op.layer),
                                    inputs=tuple(names[i] for i in op.inputs), **params))
    for name, p in src.params.items():
        dst.add_param(f"{net}/{name}", p.shape, src.tensors.get(name))
    return names
