"""Per-layer times of ``--model`` networks: replay returns what each layer returned inside the
model (checked here against the layer's own formula, not against the recording), grouping of
layers that cannot be replayed, and attribution of times to rows, by-type sums and the sum
beside the whole, with an injected fake clock (no wall-clock assertion)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sepprof.commands.model_profile import profile_model
from sepprof.models.model import ModelInputs
from sepprof.models.replay import plan
from sepprof.timing.options import TimingOptions

torch.manual_seed(0)


class Residual(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.conv(x)) + x)


class Inverted(nn.Module):
    """MobileNetV2's inverted residual: 1x1 expand, 3x3 depthwise, 1x1 project, skip."""

    def __init__(self, c: int = 8, t: int = 4) -> None:
        super().__init__()
        self.expand = nn.Conv2d(c, c * t, 1, bias=False)
        self.act1 = nn.ReLU6(inplace=True)
        self.dw = nn.Conv2d(c * t, c * t, 3, padding=1, groups=c * t, bias=False)
        self.act2 = nn.ReLU6(inplace=True)
        self.project = nn.Conv2d(c * t, c, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.project(self.act2(self.dw(self.act1(self.expand(x)))))


class Twice(nn.Module):
    """One layer applied twice (shared weights)."""

    def __init__(self) -> None:
        super().__init__()
        self.shared = nn.Conv2d(8, 8, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shared(self.shared(x))


class AddOne(nn.Module):
    """In place on its input, and no ``inplace`` switch: cannot be replayed alone."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.add_(1)


class Bumpy(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(8, 8, 1)
        self.bump = AddOne()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bump(self.conv(x))


class Counting(nn.Module):
    """Stateful: a buffer written on every call."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("calls", torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return x * 2


def leaves(model: nn.Module) -> list[str]:
    return [n for n, m in model.named_modules() if n and not list(m.children())]


def test_replay_of_a_residual_block_returns_each_layers_own_formula():
    model = Residual().eval()
    x = torch.randn(1, 8, 6, 6)
    p = plan(model, ModelInputs((x,)), leaves(model))
    units = {u.path: u for u in p.units}
    assert set(units) == {"conv", "bn", "relu"} and p.untimed == {}
    (call,) = units["conv"].calls
    assert torch.equal(call.inputs.args[0], x)
    want = F.conv2d(x, model.conv.weight, padding=1)
    assert torch.allclose(units["conv"].module(*call.inputs.args), want, atol=1e-6)
    # the in-place ReLU got bn(conv(x)) + x; replayed out of place, its input is left alone
    (relu_call,) = units["relu"].calls
    bn = model.bn
    before_relu = (
        (want - bn.running_mean[:, None, None])
        / torch.sqrt(bn.running_var[:, None, None] + bn.eps)
        * bn.weight[:, None, None]
        + bn.bias[:, None, None]
        + x
    )
    assert torch.allclose(relu_call.inputs.args[0], before_relu, atol=1e-5)
    kept = relu_call.inputs.args[0].clone()
    out = units["relu"].module(relu_call.inputs.args[0])
    assert torch.allclose(out, before_relu.clamp(min=0), atol=1e-5)
    assert torch.equal(relu_call.inputs.args[0], kept)
    assert "out of place" in units["relu"].note and not units["conv"].note


def test_replay_of_an_inverted_residual_and_a_shared_layer():
    model = Inverted().eval()
    x = torch.randn(1, 8, 5, 5)
    p = plan(model, ModelInputs((x,)), leaves(model))
    units = {u.path: u for u in p.units}
    assert set(units) == {"expand", "act1", "dw", "act2", "project"}
    hidden = F.conv2d(x, model.expand.weight).clamp(0, 6)
    (dw_call,) = units["dw"].calls
    assert torch.allclose(dw_call.inputs.args[0], hidden, atol=1e-5)
    want = F.conv2d(hidden, model.dw.weight, padding=1, groups=32)
    assert torch.allclose(units["dw"].module(*dw_call.inputs.args), want, atol=1e-5)

    twice = Twice().eval()
    p = plan(twice, ModelInputs((x,)), ["shared"])
    (unit,) = p.units
    first = F.conv2d(x, twice.shared.weight, twice.shared.bias)
    assert [c.inputs.args[0].shape for c in unit.calls] == [x.shape, x.shape]
    assert torch.allclose(unit.calls[1].inputs.args[0], first, atol=1e-6)
    assert torch.allclose(unit.calls[1].output, F.conv2d(first, twice.shared.weight,
                                                         twice.shared.bias), atol=1e-6)  # fmt: skip


def test_a_layer_that_cannot_be_replayed_is_timed_in_its_nearest_parent():
    model = nn.Sequential(nn.Conv2d(3, 8, 1), Bumpy(), nn.Conv2d(8, 8, 1)).eval()
    p = plan(model, ModelInputs((torch.randn(1, 3, 4, 4),)), leaves(model))
    units = {u.path: u for u in p.units}
    assert set(units) == {"0", "1", "2"}
    assert units["1"].rows == ("1.conv", "1.bump")
    assert "1.bump writes its input in place" in units["1"].note

    stateful = nn.Sequential(nn.Conv2d(3, 8, 1), Counting()).eval()
    p = plan(stateful, ModelInputs((torch.randn(1, 3, 4, 4),)), leaves(stateful))
    assert [u.path for u in p.units] == ["0"]
    assert "stateful" in p.untimed["1"]


RAN: list[float] = []  # the fake costs (ms) of the layers that ran since the clock last read


def fake_clock(monkeypatch) -> None:
    """Each timed round reads the fake costs of the layers that ran in it (``costed``)."""
    import sepprof.timing.timer as timer

    def fake_round(call, number, min_time, max_time, threshold=0.1):
        RAN.clear()
        timer.run_block(call, 1)
        return [sum(RAN) / 1e3]

    monkeypatch.setattr(timer, "timed_round", fake_round)


def costed(layer: nn.Module, ms: float) -> nn.Module:
    """``layer``, charging ``ms`` to the fake clock on every call (a hook: copies keep it)."""
    layer.register_forward_pre_hook(lambda *_: RAN.append(ms))
    return layer


def test_times_are_attributed_to_rows_types_and_sums_with_a_fake_clock(monkeypatch):
    """Every layer costs a fixed fake time: each row gets its layer's, a layer called twice
    both calls', the by-type table sums them, the whole network is its layers plus what its
    own forward() does (0 here), and the summed layer times sit beside it."""
    fake_clock(monkeypatch)

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = costed(nn.Conv2d(3, 16, 3, padding=1, bias=False), 4.0)
            self.dw = costed(nn.Conv2d(16, 16, 3, padding=1, groups=16, bias=False), 3.0)
            self.pw = costed(nn.Conv2d(16, 16, 1, bias=False), 1.5)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.pw(self.dw(self.dw(self.conv(x))))

    opts = TimingOptions(devices=("cpu",), rounds=3, min_time=1e-4, threads=1)
    result = profile_model(Net(), (1, 3, 8, 8), trace=False, timing=opts)
    ms = {r.name: r.latency_ms["cpu"].median for r in result.layers if r.latency_ms}
    assert ms == pytest.approx({"conv": 4.0, "dw": 6.0, "pw": 1.5})
    kinds = {t.kind: t.time_ms.get("cpu") for t in result.by_type}
    assert kinds == pytest.approx({"standard": 4.0, "depthwise": 6.0, "pointwise": 1.5})
    assert result.totals.latency_ms["cpu"].median == pytest.approx(11.5)
    assert result.layer_time_sum_ms == pytest.approx({"cpu": 11.5})
    shares = dict(zip([t.kind for t in result.by_type], result.type_shares, strict=True))
    assert shares["depthwise"].time["cpu"] == pytest.approx(6.0 / 11.5)
    doc = result.to_dict()
    assert doc["totals"]["layer_time_sum_ms"] == pytest.approx({"cpu": 11.5})
    assert any("add up to 11.5 ms" in n for n in result.notes)

    off = profile_model(Net(), (1, 3, 8, 8), trace=False, timing=opts, layer_times="off")
    assert not any(r.latency_ms for r in off.layers) and off.layer_time_sum_ms == {}
    assert off.totals.latency_ms["cpu"].median == pytest.approx(11.5)


def test_depth_times_the_modules_at_that_depth_as_merged_rows(monkeypatch):
    import sepprof.timing.timer as timer

    monkeypatch.setattr(timer, "timed_round", lambda *a, **k: [1e-3])
    model = nn.Sequential(Inverted(), Inverted(), nn.Flatten(), nn.Linear(8 * 16, 4))
    opts = TimingOptions(devices=("cpu",), rounds=3, min_time=1e-4, threads=1)
    result = profile_model(model, (1, 8, 4, 4), trace=True, timing=opts, depth=1)
    names = [r.name for r in result.layers]
    assert names == ["0", "1", "3"]
    block = result.layers[0]
    # 1x1 8->32, depthwise 3x3 on 32 channels, 1x1 32->8, at 4x4: a hand count
    assert block.macs_analytic == 16 * (8 * 32 + 32 * 9 + 32 * 8)
    assert block.kind == "block" and "timed as one" in block.detail
    assert all(r.latency_ms for r in result.layers)
    assert result.totals.macs_analytic == 2 * block.macs_analytic + 8 * 16 * 4


def test_cli_times_every_layer_of_a_small_model(cli, tmp_path):
    code = tmp_path / "net.py"
    code.write_text(
        "from torch import nn\n"
        "def net():\n"
        "    return nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(inplace=True),\n"
        "        nn.Conv2d(16, 16, 3, padding=1, groups=16), nn.Conv2d(16, 8, 1),\n"
        "        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 2))\n"
    )
    run = cli("profile", "--model", f"{code}:net", "--input", "1,3,16,16", "--json",
              "--rounds", "3", "--min-time", "0.001", "--threads", "1")  # fmt: skip
    assert run.code == 0, run.err
    doc = run.json()
    timed = {r["name"]: r for r in doc["layers"] if r["latency_ms"]}
    assert {"0", "1", "2", "3", "4", "6"} <= set(timed)
    assert "5" not in timed  # Flatten does no work: no row
    depthwise = next(t for t in doc["by_type"] if t["kind"] == "depthwise")
    assert 0 < depthwise["share"]["time"]["cpu"] < 1
    total = sum(r["latency_ms"]["cpu"]["median"] for r in timed.values())
    assert doc["totals"]["layer_time_sum_ms"]["cpu"] == pytest.approx(total)
    assert doc["totals"]["latency_ms"]["cpu"]["median"] > 0
    text = cli("profile", "--model", f"{code}:net", "--input", "1,3,16,16", "--rounds", "3",
               "--min-time", "0.001", "--threads", "1")  # fmt: skip
    assert "depthwise: " in text.out and "of the time (cpu, 95% " in text.out
    bad = cli("profile", "--model", f"{code}:net", "--input", "1,3,16,16", "--layer-times", "x")
    assert bad.code == 2 and "--layer-times: unknown value 'x'" in bad.err


def test_a_types_time_share_has_an_interval_from_its_per_round_shares():
    """All layers are timed in the same rounds, so each round gives the depthwise share of the
    summed time: 1/4, 1.1/4.1, 0.9/3.9, 1/4, 1.2/4.2. Five values: the bootstrap's 95% interval
    is their min and max (tests/test_verdicts.py derives it), about the printed share 1/4 (the
    median times, 1 over 1 + 3), then widened for the next run (tests/next_run.py)."""
    from next_run import next_run

    from sepprof.results import Latency, Row
    from sepprof.results.profile import ProfileResult

    def row(name: str, kind: str, rounds: list[float]) -> Row:
        lat = Latency.from_rounds(rounds, len(rounds))
        return Row(name, kind, 0, 0, 1, 0, 0, latency_ms={"cpu": lat})

    layers = (row("dw", "depthwise", [1.0, 1.1, 0.9, 1.0, 1.2]), row("pw", "pointwise", [3.0] * 5))
    result = ProfileResult({}, {}, layers, (), Row("total", "network", 0, 0, 2, 0, 0))
    low, high = result.type_time_intervals["depthwise"]["cpu"]
    assert (low, high) == pytest.approx(next_run(0.25, 0.9 / 3.9, 1.2 / 4.2))
    assert result.layer_time_sum_ms == pytest.approx({"cpu": 4.0})


def test_the_report_draws_each_layers_time_beside_its_macs(tmp_path):
    """The per-layer chart covers the timed layers only (2 of 3 here) and saves PNG and SVG;
    the by-type markdown shows the time share's interval and the layers' sum beside the whole."""
    from sepprof.render.markdown import types_markdown
    from sepprof.render.plots import layer_chart
    from sepprof.results import Latency, Row
    from sepprof.results.profile import ProfileResult, TypeShare

    def row(name: str, kind: str, macs: int, rounds: list[float] | None) -> Row:
        lat = {"cpu": Latency.from_rounds(rounds, len(rounds))} if rounds else {}
        return Row(name, kind, 0, 0, macs, 0, 0, latency_ms=lat)

    layers = (
        row("dw", "depthwise", 10, [1.0, 1.1, 0.9, 1.0, 1.2]),
        row("pw", "pointwise", 90, [3.0] * 5),
        row("x (forward)", "elementwise", 0, None),
    )
    whole = Row("total", "network", 0, 0, 100, 0, 0,
                latency_ms={"cpu": Latency.from_rounds([5.0] * 5, 5)})  # fmt: skip
    types = (TypeShare("depthwise", 1, 10, 0, 0, {"cpu": 1.0}),
             TypeShare("pointwise", 1, 90, 0, 0, {"cpu": 3.0}))  # fmt: skip
    result = ProfileResult({}, {"name": "net"}, layers, types, whole)
    png, alt = layer_chart(result, "cpu", tmp_path, "layers")
    assert png == "layers.png"
    assert (tmp_path / "layers.png").stat().st_size > 0 and (tmp_path / "layers.svg").is_file()
    assert "the 2 timed layers of net" in alt
    text = types_markdown(result)
    assert "1 (25.0%, 95% " in text and "add up to 4 ms" in text


def test_sepify_says_which_conversions_paid_off_on_each_device():
    """Three converted layers timed before and after: 2x faster, 2x slower, and one whose
    rounds hold 1.0x (no verdict); a fourth was not timed on this device."""
    from types import SimpleNamespace

    from sepprof.render.sepify import paid_off
    from sepprof.results.latency import Speedup

    def layer(ratios):
        speedup = {"cpu": Speedup.paired(ratios)} if ratios else {}
        return SimpleNamespace(changes={"speedup": speedup})

    layers = [layer([2.0] * 7), layer([0.5] * 7), layer([0.8, 1.2, 0.9, 1.1, 1.0, 0.85, 1.15]),
              layer(None)]  # fmt: skip
    assert paid_off(layers, "cpu") == "faster on 1 of 3 layers, slower on 1, no verdict on 1"


def test_the_profiler_view_times_every_layer_too(cli, tmp_path):
    code = tmp_path / "net.py"
    code.write_text(
        "from torch import nn\n"
        "def net():\n"
        "    return nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(),\n"
        "        nn.Conv2d(16, 16, 3, padding=1, groups=16), nn.Conv2d(16, 8, 1))\n"
    )
    run = cli("profile", "--model", f"{code}:net", "--input", "1,3,16,16", "--json",
              "--layer-times", "profiler", "--rounds", "3", "--threads", "1")  # fmt: skip
    assert run.code == 0, run.err
    doc = run.json()
    assert all(r["latency_ms"] for r in doc["layers"])
    assert doc["totals"]["latency_ms"]["cpu"]["median"] > 0
    assert any("torch.profiler" in n for n in doc["notes"])
    assert "USDT" not in run.err


def test_native_noise_on_stderr_is_dropped_and_the_rest_kept(capfd):
    import os

    from sepprof.streams import quiet_native_stderr

    with quiet_native_stderr(("USDT:",)):
        os.write(2, b"USDT: profiler_start\nsomething real\n")
    assert capfd.readouterr().err == "something real\n"


def test_a_model_with_too_many_leaves_is_timed_at_the_deepest_depth_that_fits(monkeypatch):
    """With room for 3 layers: 4 leaves (0.expand ... 1.project, 10 in all) are too many, the
    2 blocks at depth 1 fit (depth 2 would be the 10 leaves again), and the note says so."""
    from sepprof.commands import layer_times
    from sepprof.count.model_count import count_model

    monkeypatch.setattr(layer_times, "MAX_LAYERS", 3)
    model = nn.Sequential(Inverted(), Inverted())
    counted = count_model(model, ModelInputs((torch.randn(1, 8, 4, 4),)))
    depth, note = layer_times.choose_depth(counted, None)
    assert depth == 1 and "10 layers are more than 3" in note and "depth 1" in note
    assert layer_times.depth_targets(counted, 1) == ["0", "1"]
    assert layer_times.choose_depth(counted, 2) == (2, "")


def test_a_report_model_is_profiled_with_per_layer_times(tmp_path, monkeypatch):
    """``report --model``: the model's profile (layers timed at 5 ms per layer per round at
    most, even under the report's longer default) joins the networks the report draws."""
    import sepprof.timing.timer as timer
    from sepprof.commands import report

    monkeypatch.setattr(timer, "timed_round", lambda *a, **k: [1e-3])
    code = tmp_path / "net.py"
    code.write_text("from torch import nn\ndef net():\n    return nn.Sequential(nn.Conv2d(3, 8, 3),"
                    " nn.Conv2d(8, 8, 3, groups=8))\n")  # fmt: skip
    opts = TimingOptions(devices=("cpu",), rounds=3, min_time=0.03, threads=1)
    result = report._model(f"{code}:net", ["1,3,8,8"], opts, None)
    assert [r.name for r in result.layers] == ["0", "1"]
    assert all(r.latency_ms["cpu"].median == pytest.approx(1.0) for r in result.layers)
    assert result.layer_time_sum_ms == pytest.approx({"cpu": 2.0})


def test_review_cases_a_layer_named_network_inference_tensors_and_module_lists(monkeypatch):
    """A submodule named ``network`` keeps its own time (the whole network is still the sum of
    its layers under the fake clock); inputs made in inference mode are recorded (no version
    counter to read); at a depth whose module is a ModuleList (never called itself), its blocks
    are timed."""
    fake_clock(monkeypatch)

    class Wrapper(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.network = costed(nn.Conv2d(3, 8, 3, padding=1), 4.0)
            self.head = costed(nn.Conv2d(8, 8, 1), 1.0)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.network(x))

    opts = TimingOptions(devices=("cpu",), rounds=3, min_time=1e-4, threads=1)
    with torch.inference_mode():
        x = torch.randn(1, 3, 8, 8)
    result = profile_model(Wrapper(), ModelInputs((x,)), trace=False, timing=opts)
    ms = {r.name: r.latency_ms["cpu"].median for r in result.layers}
    assert ms == pytest.approx({"network": 4.0, "head": 1.0})
    assert result.totals.latency_ms["cpu"].median == pytest.approx(5.0)

    class Listed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem = costed(nn.Conv2d(3, 8, 1), 1.0)
            self.blocks = nn.ModuleList(
                nn.Sequential(costed(nn.Conv2d(8, 8, 1), 2.0), nn.ReLU()) for _ in range(2)
            )

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.stem(x)
            for block in self.blocks:
                x = block(x)
            return x

    deep = profile_model(Listed(), (1, 3, 8, 8), trace=False, timing=opts, depth=1)
    times = {r.name: r.latency_ms["cpu"].median for r in deep.layers if r.latency_ms}
    assert times == pytest.approx({"stem": 1.0, "blocks.0": 2.0, "blocks.1": 2.0})


def test_replay_keeps_aliases_and_rechecks_a_layer_run_out_of_place():
    """``attn(x, x, x)`` is replayed on one tensor three times, as it ran; a wrapper whose
    ``inplace`` switch does not reach the op that writes its input cannot be replayed."""

    class SelfAttention(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.attn = nn.MultiheadAttention(8, 2, batch_first=True)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.attn(x, x, x, need_weights=False)[0]

    model = SelfAttention().eval()
    p = plan(model, ModelInputs((torch.randn(1, 4, 8),)), ["attn"])
    (call,) = p.units[0].calls
    q, k, v = call.inputs.args
    assert q is k is v

    class Liar(nn.Module):
        inplace = True  # switched off by the replay, but the write below ignores it

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.mul_(2)

    liar = nn.Sequential(nn.Conv2d(3, 3, 1), Liar()).eval()
    p = plan(liar, ModelInputs((torch.randn(1, 3, 4, 4),)), ["0", "1"])
    assert [u.path for u in p.units] == ["0"] and "in place" in p.untimed["1"]


def test_a_time_share_interval_stays_within_all_of_the_time():
    from sepprof.results import Latency, Row
    from sepprof.results.profile import ProfileResult

    def row(name: str, kind: str, rounds: list[float]) -> Row:
        return Row(name, kind, 0, 0, 1, 0, 0,
                   latency_ms={"cpu": Latency.from_rounds(rounds, len(rounds))})  # fmt: skip

    # per-round shares 0.99, 0.999, 0.989, 0.999, 0.988: widened for the next run, the top
    # would be 0.99 x (0.999 / 0.99) ** sqrt(2) = 1.003, more than all of the time
    dw = [99.0, 999.0, 90.0, 999.0, 80.0]
    layers = (row("dw", "depthwise", dw), row("x", "pointwise", [1.0] * 5))
    result = ProfileResult({}, {}, layers, (), Row("total", "network", 0, 0, 2, 0, 0))
    low, high = result.type_time_intervals["depthwise"]["cpu"]
    assert 0.9 < low < 0.99 < high == 1.0  # the share printed: 99 / (99 + 1)


def test_a_model_class_from_a_users_file_reaches_the_worker_processes(cli, tmp_path):
    """A class defined in the file ``--model`` names is sent to worker processes by value (a
    worker cannot import a file loaded by path): timed in 2 processes, every layer gets a time."""
    code = tmp_path / "mine.py"
    code.write_text(
        "from torch import nn\n"
        "class Mine(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.a = nn.Conv2d(3, 8, 3)\n"
        "        self.b = nn.Conv2d(8, 8, 3, groups=8)\n"
        "    def forward(self, x):\n"
        "        return self.b(self.a(x))\n"
        "def build():\n"
        "    return Mine()\n"
    )
    run = cli("profile", "--model", f"{code}:build", "--input", "1,3,12,12", "--json",
              "--processes", "2", "--rounds", "3", "--min-time", "0.001")  # fmt: skip
    assert run.code == 0, run.err
    doc = run.json()
    assert [len(r["latency_ms"]["cpu"]["processes"]) for r in doc["layers"]] == [2, 2]
