"""``--layer-times profiler``: torch.profiler's op self times attributed to modules
(``timing.op_profiler``). Attribution is checked on real profiles of small models against
independent sums over the profiler's own events (by op name, and ``prof.key_averages()``), and on
a fake event tree; no wall-clock assertion."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch import nn
from torch.autograd import DeviceType
from torch.autograd.profiler import record_function
from torch.profiler import ProfilerActivity, profile

from sepprof.errors import UserError
from sepprof.timing.op_profiler import (
    LAYER,
    MODEL,
    ROUND,
    SYNC,
    UNATTRIBUTED,
    WARM,
    annotated,
    attribute,
    profile_layers,
)

torch.manual_seed(0)
X = torch.randn(1, 4, 12, 12)


class Residual(nn.Module):
    """A plain conv stack whose parent adds the skip in its own forward()."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(4, 4, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(4)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(self.relu(self.bn(self.conv1(x))))
        return out + x  # the parent's own op: no target runs it


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(4, 4, 1)
        self.block = Residual()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(self.stem(x))


class Twice(nn.Module):
    """One conv applied twice."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.conv(x))


LEAVES = ["stem", "block.conv1", "block.bn", "block.relu", "block.conv2"]


def _op_total(prof: profile) -> float:
    """The profiler's total op self time (µs), from its own averages: every event but the
    ``record_function`` ranges."""
    return sum(
        e.self_cpu_time_total
        for e in prof.key_averages()
        if not e.key.startswith("sepprof.") and not getattr(e, "is_user_annotation", False)
    )


def _profiled(model: nn.Module, targets: list[str], rounds: int = 3) -> tuple[profile, list[str]]:
    """A profile of ``rounds`` repetitions, each in a ``ROUND`` range, the targets annotated."""
    model.eval()
    with torch.inference_mode(), annotated(model, targets) as paths:
        model(X)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for i in range(rounds):
                with record_function(f"{ROUND}{i}"):
                    model(X)
    return prof, paths


def test_attributed_and_unattributed_add_up_to_the_profilers_total():
    prof, paths = _profiled(Net(), LEAVES)
    found = attribute(prof.events(), paths, 3)
    attributed = sum(sum(v) for v in found.cpu_us.values())
    assert attributed == pytest.approx(_op_total(prof), rel=1e-9, abs=1e-6)
    assert all(min(found.cpu_us[p]) > 0 for p in LEAVES)
    assert all(found.calls[p] == [1, 1, 1] for p in LEAVES)
    assert all(w > 0 for w in found.wall_us)


def test_a_parents_own_ops_go_to_unattributed():
    """The residual add in ``Residual.forward`` is the only op outside the leaves: unattributed
    holds exactly the self time of the ``aten::add`` events, and no leaf holds any of it."""
    prof, paths = _profiled(Net(), LEAVES)
    found = attribute(prof.events(), paths, 3)
    adds = sum(e.self_cpu_time_total for e in prof.events() if e.name == "aten::add")
    assert adds > 0
    assert sum(found.cpu_us[UNATTRIBUTED]) == pytest.approx(adds, rel=1e-9, abs=1e-6)
    # with the block as the only target, the add and the block's leaves are all the block's
    prof, paths = _profiled(Net(), ["stem", "block"])
    found = attribute(prof.events(), paths, 3)
    assert sum(found.cpu_us[UNATTRIBUTED]) == 0
    assert sum(found.cpu_us["block"]) + sum(found.cpu_us["stem"]) == pytest.approx(
        _op_total(prof), rel=1e-9, abs=1e-6
    )


def test_a_module_called_twice_gets_both_calls():
    prof, paths = _profiled(Twice(), ["conv"])
    found = attribute(prof.events(), paths, 3)
    assert found.calls["conv"] == [2, 2, 2]
    assert sum(found.cpu_us[UNATTRIBUTED]) == 0
    assert sum(found.cpu_us["conv"]) == pytest.approx(_op_total(prof), rel=1e-9, abs=1e-6)
    convs = sum(1 for e in prof.events() if e.name == "aten::conv2d")
    assert convs == 2 * 3


def _event(name, parent=None, self_us=0.0, total_us=0.0, annotation=False):
    return SimpleNamespace(
        name=name,
        cpu_parent=parent,
        is_async=False,
        device_type=DeviceType.CPU,
        is_user_annotation=annotation,
        self_cpu_time_total=self_us,
        self_device_time_total=0.0,
        cpu_time_total=total_us,
    )


def test_attribution_on_a_fake_event_tree():
    """Innermost target wins; the model's own ranges are not ops; warm-up repetitions and the
    wait for the device count nowhere; a target's time is per round."""
    warm = _event(f"{WARM}0", total_us=99, annotation=True)
    r0 = _event(f"{ROUND}0", total_us=50, annotation=True)
    r1 = _event(f"{ROUND}1", total_us=40, annotation=True)
    outer0 = _event(f"{LAYER}a", r0, annotation=True)
    inner0 = _event(f"{LAYER}a.b", outer0, annotation=True)
    users = _event("my_range", inner0, self_us=7, annotation=True)  # the model's own range
    outer1 = _event(f"{LAYER}a", r1, annotation=True)
    events = [
        warm,
        _event("aten::mul", _event(f"{LAYER}a", warm, annotation=True), self_us=1000),
        r0,
        outer0,
        inner0,
        users,
        _event("aten::conv2d", users, self_us=3),
        _event("aten::add", outer0, self_us=2),
        _event("aten::cat", r0, self_us=5),
        r1,
        outer1,
        _event("aten::add", outer1, self_us=4),
        _event("aten::cat", r1, self_us=6),
        _event("cudaDeviceSynchronize", _event(SYNC, r1, annotation=True), self_us=900),
        _event("aten::mean", None, self_us=500),  # outside every round
    ]
    found = attribute(events, ["a", "a.b"], 2)
    assert found.cpu_us == {"a": [2, 4], "a.b": [3, 0], UNATTRIBUTED: [5, 6]}
    assert found.calls == {"a": [1, 1], "a.b": [1, 0]}
    assert found.wall_us == [50, 40]


def test_profile_layers_gives_every_target_a_time_and_leaves_the_model_alone():
    model = Net().train()
    r = profile_layers(model, X, LEAVES, "cpu", "fp32", "contiguous", 1, rounds=3)
    assert set(r) == {*LEAVES, UNATTRIBUTED, MODEL}
    for path in LEAVES:
        assert r[path]["calls"] == 1
        assert len(r[path]["rounds_ms"]) == 3
        assert r[path]["latency"].median > 0
        assert r[path]["latency"].runs == 3
        assert r[path]["cpu_rounds_ms"] == r[path]["rounds_ms"]  # on CPU, the same clock
    assert r[UNATTRIBUTED]["latency"].median > 0  # the residual add
    whole = r[MODEL]
    assert whole["warm_rounds"] >= 3 and whole["clock"] == "cpu self time"
    parts = [sum(r[k]["rounds_ms"][i] for k in [*LEAVES, UNATTRIBUTED]) for i in range(3)]
    assert parts == pytest.approx(whole["ops_ms"], rel=1e-9)
    assert all(o < w for o, w in zip(whole["ops_ms"], whole["rounds_ms"], strict=True))
    assert model.training
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())


def test_calls_per_round_are_per_forward_pass_and_aliases_get_zero_calls():
    twice = Twice()
    r = profile_layers(twice, X, ["conv"], rounds=2, calls=2)
    assert r["conv"]["calls"] == 2  # per forward pass, though each repetition made 4 calls
    assert r[MODEL]["calls"] == 2 and r["conv"]["latency"].runs == 4
    shared = nn.Sequential(twice.conv, twice.conv)  # one module under paths "0" and "1"
    r = profile_layers(shared, X, ["0", "1"], rounds=2)
    assert r["0"]["calls"] == 2 and r["1"]["calls"] == 0
    assert r["1"]["latency"].median == 0


def test_unknown_or_reserved_targets_are_refused():
    with pytest.raises(UserError, match="no module at 'nope'"):
        profile_layers(Net(), X, ["stem", "nope"], rounds=1)
    with pytest.raises(UserError, match="reserved"):
        profile_layers(Net(), X, [UNATTRIBUTED], rounds=1)
