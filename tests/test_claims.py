"""Claims are judged from results by rules read from their wording, on measured intervals.

Expected numbers are worked by hand here: the worked example (k=3, Cin=Cout=256) has
standard params 3·3·256·256 = 589,824, separable 3·3·256 + 256·256 = 67,840 (8.694x), and a
separable/standard MAC ratio of 1/256 + 1/9 = 0.1150174 (8.694x fewer).
"""

from dataclasses import replace
from types import SimpleNamespace

import pytest

from sepprof.claims import (
    COMPUTED,
    EXACT,
    FAILS,
    HOLDS,
    INCONCLUSIVE,
    UNMEASURED,
    Interval,
    check_claims,
    combine,
    cost_ratio,
    cpu_tracks,
    depthwise_share,
    gpu_gap,
    grouped_between,
    interval,
    parameter_reduction,
    trusted,
)
from sepprof.commands.compare import compare
from sepprof.results import CompareResult, Comparison, Row, Speedup, TypeShare
from sepprof.spec import LayerSpec, parse_variants

SEP_RATIO = 1 / 256 + 1 / 9  # MobileNets eq. (5) at k=3, Cout=256
WORKED = {"k": 3, "cin": 256, "cout": 256, "size": 56, "stride": 1, "batch": 1}


def row(name: str, params: int) -> Row:
    return Row(name, name.split(":")[0], params, 0, 0, 0, 0)


def result(sep=None, grouped=None, spec=WORKED, sep_ratio=SEP_RATIO) -> CompareResult:
    """The worked example, counted by hand, with the given {device: Speedup} per variant."""
    comps = (
        Comparison("standard", "separable", sep_ratio, SEP_RATIO, 67_840 / 589_824, sep or {}),
        Comparison("standard", "grouped:4", 0.25, 0.25, 0.25, grouped or {}),
    )
    rows = (row("standard", 589_824), row("separable", 67_840), row("grouped:4", 147_456))
    return CompareResult({}, dict(spec), rows, comps)


def s(value: float, error: float) -> Speedup:
    return Speedup(value, error)


def test_interval_rules_at_their_edges():
    assert Interval(1.5, 3.5).within(1.5, 3.5) == HOLDS
    assert Interval(1.49, 2.0).within(1.5, 3.5) == INCONCLUSIVE
    assert Interval(3.0, 3.51).within(1.5, 3.5) == INCONCLUSIVE
    assert Interval(1.0, 1.49).within(1.5, 3.5) == FAILS
    assert Interval(3.51, 4.0).within(1.5, 3.5) == FAILS
    assert Interval(1.0, 1.5).within(1.5, 3.5) == INCONCLUSIVE
    assert Interval(2.01, 3.0).above(Interval(1.0, 2.0)) == HOLDS
    assert Interval(2.0, 3.0).above(Interval(1.0, 2.0)) == INCONCLUSIVE
    assert Interval(0.5, 0.99).above(Interval(1.0, 2.0)) == FAILS
    assert Interval(0.5, 1.0).above(Interval(1.0, 2.0)) == INCONCLUSIVE
    assert Interval(2.0, 4.0).scaled(0.5) == Interval(1.0, 2.0)
    assert Interval(1.234, 5.678).text() == "1.23x–5.68x"


def test_interval_of_a_speedup_prefers_a_confidence_interval():
    assert interval(Speedup(5.0, 0.25)) == Interval(4.75, 5.25)
    with_ci = SimpleNamespace(value=5.0, error=0.25, low=4.0, high=5.5)
    assert interval(with_ci) == Interval(4.0, 5.5)
    half = SimpleNamespace(value=5.0, error=0.25, low=4.0, high=None)
    assert interval(half) == Interval(4.75, 5.25)


def test_trusted_reads_a_flag_per_device_or_for_all():
    comp = result().comparisons[0]
    assert trusted(comp, "cpu")
    assert not trusted(SimpleNamespace(speedup_trusted=False), "cpu")
    assert trusted(SimpleNamespace(speedup_trusted=True), "cpu")
    per_device = SimpleNamespace(speedup_trusted={"cpu": False, "cuda": True})
    assert not trusted(per_device, "cpu")
    assert trusted(per_device, "cuda") and trusted(per_device, "mps")


def test_combine():
    assert combine([]) == UNMEASURED
    assert combine([HOLDS, HOLDS]) == HOLDS
    assert combine([HOLDS, INCONCLUSIVE]) == INCONCLUSIVE
    assert combine([INCONCLUSIVE, FAILS, HOLDS]) == FAILS


def test_parameter_reduction_is_a_computed_fact_from_the_real_counts():
    layer = LayerSpec()
    main = compare(layer, parse_variants("standard,separable", layer), trace=False)
    claim = parameter_reduction(main)
    assert claim.verdict == COMPUTED
    assert claim.measured == "8.69x (589,824 vs 67,840)"
    other = LayerSpec(cout=128)
    smaller = compare(other, parse_variants("standard,separable", other), trace=False)
    assert parameter_reduction(smaller).verdict == UNMEASURED
    no_sep = replace(main, comparisons=())
    assert parameter_reduction(no_sep).verdict == UNMEASURED


def test_worked_example_check_needs_k3_and_256_in_and_out():
    for spec in ({**WORKED, "k": 5}, {**WORKED, "cin": 128}, {**WORKED, "cout": 128}):
        assert parameter_reduction(result(spec=spec)).verdict == UNMEASURED
    assert parameter_reduction(result()).verdict == COMPUTED


def test_cost_ratio_is_a_check_only_on_traced_counts():
    analytic = cost_ratio([result()])
    assert analytic.verdict == COMPUTED
    assert "analytic MACs" in analytic.measured and "traced" not in analytic.measured
    assert "1 points" in analytic.measured

    def traced(ratio):
        main = result()
        comps = (replace(main.comparisons[0], traced_ratio=ratio), *main.comparisons[1:])
        return cost_ratio([replace(main, comparisons=comps), main])

    exact = traced(SEP_RATIO)
    assert exact.verdict == HOLDS and "(traced MACs)" in exact.measured
    assert "0.0e+00 over 1 points" in exact.measured
    assert traced(SEP_RATIO * (1 + EXACT / 2)).verdict == HOLDS
    assert traced(SEP_RATIO * (1 + 2 * EXACT)).verdict == FAILS
    off = traced(SEP_RATIO * 1.01)
    assert off.verdict == FAILS and "1.0e-02" in off.measured
    assert cost_ratio([]).verdict == UNMEASURED
    bent = cost_ratio([result(sep_ratio=SEP_RATIO * 1.01)])
    assert bent.verdict == COMPUTED and "1.0e-02" in bent.measured


def test_gpu_gap_holds_only_inside_two_to_three_x():
    def verdict(value, error):
        return gpu_gap(result({"cuda": s(value, error)})).verdict

    assert verdict(2.5, 0.2) == HOLDS
    assert verdict(1.6, 0.05) == HOLDS  # rounds to 2x
    assert verdict(2.5, 1.0) == HOLDS  # exactly 1.5x-3.5x
    assert verdict(0.8, 0.1) == FAILS  # a slowdown is not "2-3x faster"
    assert verdict(6.0, 0.5) == FAILS
    assert verdict(3.4, 0.2) == INCONCLUSIVE
    assert verdict(1.5, 0.1) == INCONCLUSIVE
    claim = gpu_gap(result({"cuda": s(2.5, 0.2)}))
    assert claim.measured == "8.69x fewer MACs -> 2.50x faster on cuda (interval 2.30x–2.70x)"
    assert "1.5x-3.5x" in claim.rule


def test_gpu_gap_is_not_measured_without_a_trusted_gpu_or_an_8_to_9x_cut():
    assert gpu_gap(result({"cpu": s(5.0, 0.1)})).verdict == UNMEASURED
    assert gpu_gap(replace(result(), comparisons=())).verdict == UNMEASURED
    assert gpu_gap(result({"cuda": s(2.5, 0.1)}, sep_ratio=0.5)).verdict == UNMEASURED
    assert gpu_gap(result({"cuda": s(2.5, 0.1)}, sep_ratio=1 / 9.4)).verdict == HOLDS
    assert gpu_gap(result({"cuda": s(2.5, 0.1)}, sep_ratio=1 / 9.6)).verdict == UNMEASURED
    assert gpu_gap(result({"cuda": s(2.5, 0.1)}, sep_ratio=1 / 7.6)).verdict == HOLDS
    assert gpu_gap(result({"cuda": s(2.5, 0.1)}, sep_ratio=1 / 7.4)).verdict == UNMEASURED
    main = result({"cuda": s(2.5, 0.1)})
    comps = (SimpleNamespace(**vars(main.comparisons[0]), speedup_trusted=False),)
    untrusted = gpu_gap(replace(main, comparisons=comps))
    assert untrusted.verdict == UNMEASURED and "contended" in untrusted.measured


def test_cpu_tracks_needs_a_gpu_to_compare_with():
    cpu_only = cpu_tracks(result({"cpu": s(5.0, 0.1)}))
    assert cpu_only.verdict == UNMEASURED  # never judged against a quoted GPU figure
    assert cpu_only.measured == "CPU realises 56%–59%; no GPU in this run"  # 4.9..5.1 x 0.115
    assert cpu_tracks(result()).verdict == UNMEASURED
    both = cpu_tracks(result({"cpu": s(5.0, 0.1), "cuda": s(2.5, 0.1)}))
    assert both.verdict == HOLDS
    assert both.measured == "CPU realises 56%–59% of the 8.69x cut, GPU 28%–30%"
    assert cpu_tracks(result({"cpu": s(2.0, 0.1), "cuda": s(5.0, 0.1)})).verdict == FAILS
    assert cpu_tracks(result({"cpu": s(3.0, 0.5), "cuda": s(2.5, 0.5)})).verdict == INCONCLUSIVE
    main = result({"cpu": s(5.0, 0.1), "cuda": s(2.5, 0.1)})
    flag = {"cpu": True, "cuda": False}
    comps = (SimpleNamespace(**vars(main.comparisons[0]), speedup_trusted=flag),)
    assert cpu_tracks(replace(main, comparisons=comps)).verdict == UNMEASURED
    flag = {"cpu": False, "cuda": True}
    comps = (SimpleNamespace(**vars(main.comparisons[0]), speedup_trusted=flag),)
    assert cpu_tracks(replace(main, comparisons=comps)).verdict == UNMEASURED


def test_grouped_between():
    def claim(grouped, sep=s(5.0, 0.1)):
        return grouped_between(result({"cpu": sep}, {"cpu": grouped}))

    between = claim(s(3.0, 0.1))
    assert between.verdict == HOLDS
    assert between.measured == (
        "grouped:4: 4.0x fewer MACs, 2.90x–3.10x faster on cpu (separable 4.90x–5.10x)"
    )
    assert claim(s(6.0, 0.1)).verdict == FAILS
    assert claim(s(0.5, 0.1)).verdict == FAILS
    assert claim(s(1.0, 0.5)).verdict == INCONCLUSIVE
    assert claim(s(4.9, 0.2)).verdict == INCONCLUSIVE
    assert grouped_between(result()).verdict == UNMEASURED
    assert grouped_between(result({"cuda": s(5.0, 0.1)}, {"cpu": s(3.0, 0.1)})).verdict == (
        UNMEASURED
    )
    no_grouped = replace(result(), comparisons=result().comparisons[:1])
    assert grouped_between(no_grouped).verdict == UNMEASURED


def test_grouped_between_fails_on_counts_alone():
    main = result({"cpu": s(5.0, 0.1)}, {"cpu": s(3.0, 0.1)})
    for ratio in (0.1, 1.0):  # fewer MACs than separable; as many as standard
        comps = (main.comparisons[0], replace(main.comparisons[1], macs_ratio=ratio))
        assert grouped_between(replace(main, comparisons=comps)).verdict == FAILS


def test_grouped_between_skips_untrusted_devices():
    main = result({"cpu": s(5.0, 0.1)}, {"cpu": s(3.0, 0.1)})
    for which in (0, 1):
        comps = list(main.comparisons)
        comps[which] = SimpleNamespace(**vars(comps[which]), speedup_trusted=False)
        assert grouped_between(replace(main, comparisons=tuple(comps))).verdict == UNMEASURED


def profile(dw_macs, dw_ms, pw_ms):
    return SimpleNamespace(
        by_type=(
            TypeShare("depthwise", 13, dw_macs, 1, 0, {"cpu": dw_ms}),
            TypeShare("pointwise", 13, 100 - dw_macs, 9, 0, {"cpu": pw_ms}),
        )
    )


def test_depthwise_share():
    (claim,) = depthwise_share(profile(3, 20.0, 80.0))
    assert claim.verdict == HOLDS
    assert claim.measured == "3.00% of MACs, 20.0% of the time of its layers on cpu"
    assert claim.claim.endswith("(cpu)")
    assert depthwise_share(profile(3, 6.0, 94.0))[0].verdict == HOLDS  # exactly twice
    assert depthwise_share(profile(3, 5.9, 94.1))[0].verdict == FAILS
    assert depthwise_share(profile(4, 50.0, 50.0))[0].verdict == FAILS  # not ~3% of MACs
    assert depthwise_share(profile(2, 50.0, 50.0))[0].verdict == FAILS
    assert depthwise_share(None)[0].verdict == UNMEASURED
    untimed = SimpleNamespace(by_type=(TypeShare("depthwise", 13, 3, 1, 0, {}),))
    assert depthwise_share(untimed)[0].verdict == UNMEASURED


@pytest.mark.parametrize("share", [2.5, 3.5])
def test_depthwise_share_band_is_inclusive(share):
    assert depthwise_share(profile(share, 50.0, 50.0))[0].verdict == HOLDS


def test_check_claims_lists_every_claim_in_order():
    claims = check_claims(result({"cpu": s(5.0, 0.1)}), [result()], profile(3, 20.0, 80.0))
    assert [c.claim.split()[0] for c in claims] == [
        "Separable",
        "Parameters",
        "Depthwise",
        "An",
        "On",
        "Grouped",
    ]
    assert all(c.rule for c in claims)
    assert claims[1].to_dict()["verdict"] == COMPUTED
