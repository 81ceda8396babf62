"""Claims are judged from results; each verdict follows its stated rule."""

from dataclasses import replace

from sepprof.claims import (
    FAILS,
    HOLDS,
    UNMEASURED,
    cost_ratio,
    cpu_tracks,
    depthwise_share,
    gpu_gap,
    grouped_between,
    parameter_reduction,
)
from sepprof.commands.compare import compare
from sepprof.results import Latency, Speedup, TypeShare
from sepprof.spec import LayerSpec, parse_variants


def main_result(speedups: dict[str, tuple[float, float]]):
    """The worked example's counts with the given (separable, grouped:4) speedups per device."""
    layer = LayerSpec()
    result = compare(layer, parse_variants("standard,separable,grouped:4", layer), trace=False)
    comps = []
    for comp in result.comparisons:
        index = 0 if comp.variant == "separable" else 1
        comps.append(
            replace(comp, speedup={d: Speedup(v[index], 0.1) for d, v in speedups.items()})
        )
    return replace(result, comparisons=tuple(comps))


def test_parameter_reduction_and_cost_ratio_hold_on_counts():
    main = main_result({})
    assert parameter_reduction(main).verdict == HOLDS
    assert "8.69x (589,824 vs 67,840)" in parameter_reduction(main).measured
    claim = cost_ratio([main])
    assert claim.verdict == HOLDS and "exact" in claim.measured


def test_cost_ratio_fails_when_the_count_departs_from_theory():
    main = main_result({})
    bent = [replace(c, traced_ratio=c.macs_ratio * 1.01) for c in main.comparisons]
    assert cost_ratio([replace(main, comparisons=tuple(bent))]).verdict == FAILS


def test_gpu_and_cpu_claims():
    assert gpu_gap(main_result({"cpu": (5.0, 3.0)})).verdict == UNMEASURED
    assert gpu_gap(main_result({"cuda": (2.5, 1.5)})).verdict == HOLDS
    assert gpu_gap(main_result({"cuda": (6.0, 3.0)})).verdict == FAILS
    assert cpu_tracks(main_result({"cpu": (5.0, 3.0)})).verdict == HOLDS
    assert cpu_tracks(main_result({"cpu": (2.0, 1.5)})).verdict == FAILS
    both = cpu_tracks(main_result({"cpu": (5.0, 3.0), "cuda": (2.5, 1.5)}))
    assert both.verdict == HOLDS and "GPU 29%" in both.measured


def test_grouped_between():
    assert grouped_between(main_result({"cpu": (5.0, 3.0)})).verdict == HOLDS
    assert grouped_between(main_result({"cpu": (5.0, 6.0)})).verdict == FAILS
    assert grouped_between(main_result({})).verdict == UNMEASURED


def test_depthwise_share():
    class Profile:
        by_type = (
            TypeShare("depthwise", 13, 3, 1, 0, {"cpu": 20.0}),
            TypeShare("pointwise", 13, 97, 9, 0, {"cpu": 80.0}),
        )

    (claim,) = depthwise_share(Profile())
    assert claim.verdict == HOLDS and "3.00% of MACs, 20.0% of the time" in claim.measured
    Profile.by_type = (
        TypeShare("depthwise", 13, 3, 1, 0, {"cpu": 4.0}),
        TypeShare("pointwise", 13, 97, 9, 0, {"cpu": 96.0}),
    )
    assert depthwise_share(Profile())[0].verdict == FAILS
    assert depthwise_share(None)[0].verdict == UNMEASURED
    assert Latency(1.0, 0.0, 1).median == 1.0
