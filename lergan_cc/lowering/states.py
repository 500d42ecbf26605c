"""The memory controller's states: which op bodies run where, in what order, with which modes.

Inference: ``init`` (program the crossbars) then ``run``. GAN training (DESIGN §8, paper
Fig. 7 then Fig. 8): the D step runs G_fwd on the noise, D_fwd/D_err/D_wgrad on the real
batch, then on the fakes (each pass with its own batch statistics, gradients accumulated),
the host's loss and SGD update of D and the re-programming of D's crossbars; the G step runs
G_fwd on the same noise, D_fwd on the fakes with the updated D, D_err, G_err, G_wgrad, the
update of G and its re-programming; ``iterate`` closes the loop.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from lergan_cc.fsm.program import Instr, State, Transition
from lergan_cc.fsm.values import Sym, Value
from lergan_cc.ir.attrs import GanRoles, OutputNames, SourceModel
from lergan_cc.ir.graph import Graph
from lergan_cc.ir.ops import Op
from lergan_cc.lowering.lower import Lowering, buf, param
from lergan_cc.targets.geometry import Link, Topology
from lergan_cc.views import View, view_fields

FORWARD = ("G_fwd", "D_fwd", "fwd")


def _i(op: str, **operands: Value) -> Instr:
    return Instr(op, dict(operands))


class StateBuilder:
    def __init__(self, lw: Lowering) -> None:
        self.lw, self.g = lw, lw.g
        self.where: dict[str, set[str]] = {k: {v} for k, v in lw.tiles.items()}  # value -> tiles holding it
        self.states: list[State] = []

    # ---- one state ------------------------------------------------------------------------------
    def state(self, name: str, ops: list[Op], pre: list[Instr] | None = None, post: list[Instr] | None = None,
              transition: Transition | None = None, compute: bool = True, frozen: str | None = None) -> None:
        """``frozen``: a network whose error passes through this state without training it."""
        body: list[Instr] = list(pre or [])
        switches: dict[str, Value] = {}
        layer: tuple[str, str] | None = None
        for op in ops:
            code = self.lw.bodies[op.name]
            if frozen and op.phase.startswith(frozen):
                code = [_untrained(i) for i in code]
            if not code:
                continue
            if (op.layer, op.phase) != layer:
                layer = (op.layer, op.phase)
                body.append(_i("layer", name=op.layer, phase=Sym(op.phase)))
            body += self._transfers(op, switches)
            body += code
            for value in self.lw.writes.get(op.name, (op.name,)):
                self.where[value] = {self.lw.tile_of(op)}
        body += list(post or [])
        banks = {self.lw.bank(op.phase) for op in ops} if compute else set()
        modes: dict[str, Value] = {b: Sym("Cmode" if b in banks else "Smode") for b in self.lw.topo.banks}
        self.states.append(State(name, modes, dict(sorted(switches.items())), body,
                                 transition or Transition("halt")))

    def _transfers(self, op: Op, switches: dict[str, Value]) -> list[Instr]:
        if self.lw.sharded():  # the shards move where they are needed (the timing model's implicit moves)
            return []
        out = []
        here = self.lw.tile_of(op)
        for src in dict.fromkeys(self.lw.reads.get(op.name, op.inputs)):
            held = self.where.get(src, {here})
            if here not in held:
                out.append(self.xfer(src, src, sorted(held)[0], here, switches))
        return out

    def xfer(self, dst: str, src: str, there: str, here: str, switches: dict[str, Value]) -> Instr:
        if self.lw.sharded():  # shard to shard, over the routes the simulator finds
            return Instr("xfer", {"dst": buf(dst), "src": buf(src)})
        links = self.lw.topo.route(there, here, "Cmode")
        for link in links:
            if link.kind in ("horizontal", "vertical"):
                _set_switch(self.lw.topo, link, switches)
        self.where[dst] = {here} if dst != src else self.where.get(dst, set()) | {here}
        return Instr("xfer", {"dst": buf(dst), "src": buf(src), "from": Sym(there), "to": Sym(here),
                              "route": [Sym(link.kind) for link in links]})

    def goto(self, name: str) -> Transition:
        return Transition("goto", name)


def _untrained(ins: Instr) -> Instr:
    if ins.op not in ("bn_grad", "inorm_grad"):
        return ins
    return Instr(ins.op, {k: v for k, v in ins.operands.items() if k not in ("dscale", "dbias")})


def _set_switch(topo: Topology, link: Link, switches: dict[str, Value]) -> None:
    """The switch at the route's entry node selects the added wire (Fig. 12 (b))."""
    node = topo.nodes[link.src]
    want = link.kind if link.kind == "horizontal" else ("down" if topo.nodes[link.dst].bank > node.bank else "upper")
    if any(want in s for s in node.switches):
        switches[link.src] = Sym(want)


def build_states(lw: Lowering) -> list[State]:
    sb = StateBuilder(lw)
    if lw.g.kind == "gan":
        _training(sb)
    else:
        _inference(sb)
    return sb.states


def _writes(lw: Lowering, *nets: str) -> list[Instr]:
    return [w for net in nets for _, w in lw.programming.get(net, [])]


def _writes_of(lw: Lowering, *phases: str) -> list[Instr]:
    """The programming writes of these phases' matrices, in program order."""
    return [w for writes in lw.programming.values() for phase, w in writes if phase in phases]


def _inference(sb: StateBuilder) -> None:
    g, lw = sb.g, sb.lw
    sb.state("init", [], pre=_writes(lw, *sorted(lw.programming)), transition=sb.goto("run"), compute=False)
    ops = [op for op in g.ops() if op.OP != "input"]
    source = g.get(SourceModel)  # inputs and outputs the model lays out otherwise (lergan_cc.views)
    ins, outs = (source.inputs, source.outputs) if source is not None else ({}, {})
    inputs = [_i("host.input", dst=buf(op.name), key=op.name, **_view(ins.get(op.name))) for op in g.inputs()]
    names = g.get(OutputNames)  # the model's own output names when the front end kept them
    keys = list(names.names) if names else g.outputs
    outputs = [_i("host.output", src=buf(o), key=str(k), **_view(outs.get(str(k))))
               for o, k in zip(g.outputs, keys, strict=True)]
    sb.state("run", ops, pre=inputs, post=outputs)


def _view(view: View | None) -> dict[str, Value]:
    return dict(view_fields(view)) if view is not None else {}


def _phase(g: Graph, phase: str, keep: set[str] | None = None) -> list[Op]:
    return [op for op in g.ops() if op.phase == phase and op.OP not in ("input", "loss", "loss_grad")
            and (keep is None or op.name in keep)]


def _needed(g: Graph, targets: list[Op]) -> set[str]:
    """Names of the targets and every op they depend on."""
    out: set[str] = set()
    for op in targets:
        out.add(op.name)
        out |= nx.ancestors(g.nx, op.name)
    return out


def _grads(lw: Lowering, net: str) -> list[str]:
    return [d.name for (kind, _), d in lw.decls.items()
            if kind == "buffer" and d.attrs.get("role") == "grad" and d.name.startswith(f"grad/{net}/")]


@dataclass
class _Iteration:
    """What both schedules of a GAN training iteration share: each state's op bodies, the gradient buffers,
    the generator's output moving to D's input, and the host's steps (loss, reduce, SGD, zeroing)."""

    sb: StateBuilder
    g_fwd: list[Op]
    d_fwd: list[Op]
    d_back: list[Op]
    g_back: list[Op]
    d_grads: list[str]
    g_grads: list[str]
    d_out: str
    fake: str
    form: Sym

    @classmethod
    def of(cls, sb: StateBuilder) -> _Iteration:
        g, lw = sb.g, sb.lw
        roles = g.need(GanRoles)
        d_wgrad = _phase(g, "D_wgrad")
        bn_d = [op for op in _phase(g, "D_err") if op.OP in ("batchnorm_grad", "instancenorm_grad")]
        d_keep = _needed(g, d_wgrad + bn_d)
        g_keep = _needed(g, _phase(g, "G_err") + _phase(g, "G_wgrad"))
        return cls(sb, _phase(g, "G_fwd"), _phase(g, "D_fwd"),
                   [op for op in g.ops() if op.name in d_keep and op.phase in ("D_err", "D_wgrad")
                    and op.OP != "loss_grad"],
                   [op for op in g.ops() if op.name in g_keep and op.phase in ("D_err", "G_err", "G_wgrad")
                    and op.OP != "loss_grad"],
                   _grads(lw, "D"), _grads(lw, "G"), roles.discriminator_output, roles.generator_output,
                   Sym("prob" if roles.discriminator_probability else "logit"))

    def declare_loss_grad(self) -> None:
        """The loss gradient the host writes into D's error bank (sharded like the buffer its reader reads)."""
        g, lw = self.sb.g, self.sb.lw
        reader = next((c for c in g.consumers("loss.grad") if c.phase == "D_err"), None)
        sharded = lw.value_attrs(reader, "act") if reader is not None and lw.shards("D_err") > 1 else {}
        lw.declare("buffer", "loss.grad", g.op(self.d_out).shape, role=Sym("act"), bank=Sym(lw.bank("D_err")),
                   tile=Sym(f"{lw.bank('D_err')}.T0"),
                   **{k: v for k, v in sharded.items() if k in ("shards", "home")})
        self.sb.where["loss.grad"] = {f"{lw.bank('D_err')}.T0"}

    def fakes_to_d(self) -> Instr:
        lw = self.sb.lw
        return self.sb.xfer("real", self.fake, lw.tiles[self.fake], lw.tiles["real"], {})

    def loss(self, dst: str, term: str) -> list[Instr]:
        return [_i("layer", name="loss", phase=Sym("host")),
                _i("host.loss", dst=Sym(dst), src=buf(self.d_out), form=self.form, term=Sym(term)),
                _i("host.loss_grad", dst=buf("loss.grad"), src=buf(self.d_out), form=self.form, term=Sym(term))]

    def reduce(self, names: list[str]) -> list[Instr]:
        """Sum the copies' partial gradients (``--grad-reduce``) while the banks holding them are in Cmode."""
        lw = self.sb.lw
        partial = [n for n in names if "partials" in lw.decls[("buffer", n)].attrs]
        return [_i("layer", name="reduce", phase=Sym("reduce"))] + [
            _i("reduce", dst=buf(n), mode=Sym(lw.options.grad_reduce)) for n in partial] if partial else []

    @staticmethod
    def sgd(names: list[str]) -> list[Instr]:
        return [_i("layer", name="update", phase=Sym("host"))] + [
            _i("host.sgd", param=param(n[len("grad/"):]), grad=buf(n)) for n in names]

    @staticmethod
    def zero(names: list[str]) -> list[Instr]:
        return [_i("zero", dst=buf(n)) for n in names]

    def noise(self) -> list[Instr]:
        return [*self.zero(self.d_grads), _i("host.input", dst=buf("noise"), key="noise")]

    def d_step(self, update: str) -> None:
        """D on the real batch, then on the fakes, its partial gradients summed; ``update`` comes next."""
        sb = self.sb
        sb.state("d.real.d_fwd", self.d_fwd, pre=[_i("host.input", dst=buf("real"), key="real")],
                 post=self.loss("loss_d", "real"), transition=sb.goto("d.real.d_back"))
        sb.state("d.real.d_back", self.d_back, transition=sb.goto("d.fake.d_fwd"))
        sb.state("d.fake.d_fwd", self.d_fwd, pre=[self.fakes_to_d()], post=self.loss("loss_d", "fake"),
                 transition=sb.goto("d.fake.d_back"))
        sb.state("d.fake.d_back", self.d_back, post=self.reduce(self.d_grads), transition=sb.goto(update))


def _training(sb: StateBuilder) -> None:
    it = _Iteration.of(sb)
    it.declare_loss_grad()
    sb.state("init", [], pre=_writes(sb.lw, "G", "D", ""), transition=sb.goto("d.g_fwd"), compute=False)
    (_overlapped if sb.lw.options.overlap == "paper" else _serial)(it)


def _serial(it: _Iteration) -> None:
    """One state after the other, each bank re-programmed after its network's update (paper Fig. 7-8)."""
    sb, lw = it.sb, it.sb.lw
    sb.state("d.g_fwd", it.g_fwd, pre=it.noise(), transition=sb.goto("d.real.d_fwd"))
    it.d_step("d.update")
    sb.state("d.update", [], pre=it.sgd(it.d_grads), transition=sb.goto("d.program"), compute=False)
    sb.state("d.program", [], pre=_writes(lw, "D"), transition=sb.goto("g.g_fwd"), compute=False)
    sb.state("g.g_fwd", it.g_fwd, pre=it.zero(it.g_grads), transition=sb.goto("g.d_fwd"))
    sb.state("g.d_fwd", it.d_fwd, pre=[it.fakes_to_d()], post=it.loss("loss_g", "gen"), transition=sb.goto("g.back"))
    sb.state("g.back", it.g_back, post=it.reduce(it.g_grads), transition=sb.goto("g.update"), frozen="D")
    sb.state("g.update", [], pre=it.sgd(it.g_grads), transition=sb.goto("g.program"), compute=False)
    sb.state("g.program", [], pre=_writes(lw, "G"), transition=Transition("iterate", "d.g_fwd"))
    sb.states[-1].modes = {b: Sym("Smode") for b in lw.topo.banks}


def _overlapped(it: _Iteration) -> None:
    """The iteration with the overlaps of paper §IV-B (``--overlap paper``; docs/timing.md):

    - "G's forward runs while D's banks switch mode": the G step's forward on the noise needs nothing of
      D's update, so it runs in the state that updates D on the host and re-programs D's forward bank;
    - "D̄ is programmed while D's forward runs": D's error bank (B6) is re-programmed while D's forward
      pass of the G step runs on the fakes (D's weight-gradient bank holds dy, nothing to program);
    - "the error bank is mapped during the forward pass": G's error bank (B3) is re-programmed while G's
      forward pass of the next iteration runs; only G's forward bank is programmed after G's update.

    A bank is never written while it computes: each write goes to a state where its bank is in Smode.
    The first iteration enters at ``d.g_fwd.first`` (``init`` programmed everything), the loop at
    ``d.g_fwd``, which also re-programs G's error bank.
    """
    sb, lw = it.sb, it.sb.lw
    sb.states[-1].transition = sb.goto("d.g_fwd.first")
    sb.state("d.g_fwd.first", it.g_fwd, pre=it.noise(), transition=sb.goto("d.real.d_fwd"))
    it.d_step("d.update.g_fwd")
    sb.state("d.update.g_fwd", it.g_fwd, pre=[*it.sgd(it.d_grads), *_writes_of(lw, "D_fwd"), *it.zero(it.g_grads)],
             transition=sb.goto("g.d_fwd"))
    sb.state("g.d_fwd", it.d_fwd, pre=[it.fakes_to_d(), *_writes_of(lw, "D_err")], post=it.loss("loss_g", "gen"),
             transition=sb.goto("g.back"))
    sb.state("g.back", it.g_back, post=it.reduce(it.g_grads), transition=sb.goto("g.update"), frozen="D")
    sb.state("g.update", [], pre=[*it.sgd(it.g_grads), *_writes_of(lw, "G_fwd")],
             transition=Transition("iterate", "d.g_fwd"), compute=False)
    sb.state("d.g_fwd", it.g_fwd, pre=[*it.noise(), *_writes_of(lw, "G_err")], transition=sb.goto("d.real.d_fwd"))
