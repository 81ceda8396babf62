"""Claims are judged from results by rules read from their wording, on measured intervals.

Expected numbers are worked by hand here: the worked example (k=3, Cin=Cout=256) has
standard params 3·3·256·256 = 589,824, separable 3·3·256 + 256·256 = 67,840 (8.694x), and a
separable/standard MAC ratio of 1/256 + 1/9 = 0.1150174 (8.694x fewer).
"""

from dataclasses import replace
from types import SimpleNamespace

import pytest

from sepprof.commands.compare import compare
from sepprof.results import CompareResult, Comparison, Row, Speedup, TypeShare
from sepprof.results.claims import (
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
)
from sepprof.spec.layer import LayerSpec, parse_variants

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
    assert Interval(3.5, 4.0).within(1.5, 3.5) == INCONCLUSIVE
    assert Interval(1.0, 1.5).within(1.5, 3.5) == INCONCLUSIVE
    assert Interval(2.01, 3.0).above(Interval(1.0, 2.0)) == HOLDS
    assert Interval(2.0, 3.0).above(Interval(1.0, 2.0)) == INCONCLUSIVE
    assert Interval(0.5, 0.99).above(Interval(1.0, 2.0)) == FAILS
    assert Interval(0.5, 1.0).above(Interval(1.0, 2.0)) == INCONCLUSIVE
    assert Interval(2.0, 4.0).scaled(0.5) == Interval(1.0, 2.0)
    assert Interval(1.234, 5.678).text() == "1.23x–5.68x"


def test_interval_of_a_speedup_prefers_its_confidence_interval():
    assert interval(Speedup(5.0, 0.25)) == Interval(4.75, 5.25)
    assert interval(Speedup(5.0, 0.25, 4.0, 5.5)) == Interval(4.0, 5.5)
    assert interval(Speedup(5.0, 0.25, 4.0, None)) == Interval(4.75, 5.25)
    assert interval(Speedup(5.0, 0.25, None, 5.5)) == Interval(4.75, 5.25)


def doubtful(value: float, reason: str = "contended: 1.2 cores busy") -> Speedup:
    return Speedup(value, 0.1, trusted=False, reason=reason)


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
    assert (analytic.measured, analytic.verdict) == (
        "largest relative deviation 0.0e+00 over 1 points (analytic MACs)",
        COMPUTED,
    )

    def traced(ratio, theory=SEP_RATIO):
        main = result()
        sep = replace(main.comparisons[0], traced_ratio=ratio, theory_ratio=theory)
        return cost_ratio([replace(main, comparisons=(sep, *main.comparisons[1:])), main])

    exact = traced(SEP_RATIO)
    assert (exact.measured, exact.verdict) == (
        "largest relative deviation 0.0e+00 over 1 points (traced MACs)",
        HOLDS,
    )
    assert (
        exact.rule == "holds if the traced MAC ratio equals the formula within 1e-09 at every point"
    )
    assert (
        exact.claim == analytic.claim == "Separable costs 1/Cout + 1/k² of a standard convolution"
    )
    assert traced(SEP_RATIO * (1 + EXACT / 2)).verdict == HOLDS
    assert traced(1e9 + 1, 1e9).verdict == HOLDS  # exactly EXACT off: (1e9+1)/1e9 - 1 = 1e-9
    assert traced(SEP_RATIO * (1 + 2 * EXACT)).verdict == FAILS
    off = traced(SEP_RATIO * 1.01)
    assert off.verdict == FAILS and off.measured.startswith("largest relative deviation 1.0e-02")
    bent = cost_ratio([result(sep_ratio=SEP_RATIO * 1.01)])
    assert bent.verdict == COMPUTED and "1.0e-02" in bent.measured


def test_cost_ratio_skips_points_without_a_formula_or_a_separable_variant():
    main = result()
    no_theory = replace(main, comparisons=(replace(main.comparisons[0], theory_ratio=None),))
    no_separable = replace(main, comparisons=main.comparisons[1:])
    for points in ([], [no_theory], [no_separable]):
        claim = cost_ratio(points)
        assert (claim.measured, claim.verdict) == ("no sweep points", UNMEASURED)
        assert claim.rule == "needs a sweep with separable"
    assert cost_ratio([no_separable, no_theory, main]).measured.endswith(
        "over 1 points (analytic MACs)"
    )


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
    bootstrap = gpu_gap(result({"cuda": Speedup(2.5, 0.1, 3.2, 3.9)}))  # its own interval
    assert bootstrap.verdict == INCONCLUSIVE and "interval 3.20x–3.90x" in bootstrap.measured


def test_gpu_gap_is_not_measured_without_a_trusted_gpu_or_an_8_to_9x_cut():
    def measured(speedups, **kw):
        claim = gpu_gap(result(speedups, **kw))
        return claim.measured if claim.verdict == UNMEASURED else claim.verdict

    assert measured({"cpu": s(5.0, 0.1)}) == "no CUDA device in this run"
    assert gpu_gap(replace(result(), comparisons=())).measured == "no CUDA device in this run"
    cuda = {"cuda": s(2.5, 0.1)}
    assert measured(cuda, sep_ratio=0.5) == "the main layer's cut is 2.00x, not 8-9x"
    assert measured(cuda, sep_ratio=2 / 19) == HOLDS  # 9.5x rounds to 9x
    assert measured(cuda, sep_ratio=1 / 9.6) == "the main layer's cut is 9.60x, not 8-9x"
    assert measured(cuda, sep_ratio=2 / 15) == HOLDS  # 7.5x rounds to 8x
    assert measured(cuda, sep_ratio=1 / 7.4) == "the main layer's cut is 7.40x, not 8-9x"
    untrusted = {"cpu": s(5.0, 0.1), "cuda": doubtful(2.5)}
    assert measured(untrusted) == "no verdict: cuda: contended: 1.2 cores busy"
    assert measured({"cpu": doubtful(5.0), "cuda": s(2.5, 0.1)}) == HOLDS


def test_cpu_tracks_needs_a_gpu_to_compare_with():
    cpu_only = cpu_tracks(result({"cpu": s(5.0, 0.1)}))
    assert cpu_only.verdict == UNMEASURED  # never judged against a quoted GPU figure
    assert cpu_only.measured == "CPU realises 56%–59%; no GPU in this run"  # 4.9..5.1 x 0.115
    assert cpu_tracks(result()).measured == "CPU not timed"
    assert cpu_tracks(replace(result(), comparisons=())).measured == "CPU not timed"
    both = cpu_tracks(result({"cpu": s(5.0, 0.1), "cuda": s(2.5, 0.1)}))
    assert both.verdict == HOLDS
    assert both.measured == "CPU realises 56%–59% of the 8.69x cut, GPU 28%–30%"
    assert cpu_tracks(result({"cpu": s(2.0, 0.1), "cuda": s(5.0, 0.1)})).verdict == FAILS
    assert cpu_tracks(result({"cpu": s(3.0, 0.5), "cuda": s(2.5, 0.5)})).verdict == INCONCLUSIVE
    for cpu, cuda, why in (
        (doubtful(5.0), s(2.5, 0.1), "cpu: contended: 1.2 cores busy"),
        (s(5.0, 0.1), doubtful(2.5, "unstable: rounds split"), "cuda: unstable: rounds split"),
    ):
        claim = cpu_tracks(result({"cpu": cpu, "cuda": cuda}))
        assert (claim.measured, claim.verdict) == (f"no verdict: {why}", UNMEASURED)


def test_grouped_between():
    def claim(grouped, sep=s(5.0, 0.1)):
        return grouped_between(result({"cpu": sep}, {"cpu": grouped}))

    between = claim(s(3.0, 0.1))
    assert between.verdict == HOLDS
    assert between.measured == (
        "grouped:4: 4.0x fewer MACs, 2.90x–3.10x faster on cpu (separable 4.90x–5.10x)"
    )
    assert claim(s(1.7, 0.1)).verdict == HOLDS  # 1.6x-1.8x is wholly above 1x
    assert claim(s(6.0, 0.1)).verdict == FAILS
    assert claim(s(0.5, 0.1)).verdict == FAILS
    assert claim(s(1.0, 0.5)).verdict == INCONCLUSIVE
    assert claim(s(4.9, 0.2)).verdict == INCONCLUSIVE
    untimed = grouped_between(result())
    assert (untimed.measured, untimed.verdict) == ("grouped:4: 4.0x fewer MACs", UNMEASURED)
    elsewhere = grouped_between(result({"cuda": s(5.0, 0.1)}, {"cpu": s(3.0, 0.1)}))
    assert elsewhere.verdict == UNMEASURED
    no_grouped = grouped_between(replace(result(), comparisons=result().comparisons[:1]))
    assert (no_grouped.measured, no_grouped.verdict) == ("grouped not compared", UNMEASURED)
    no_sep = grouped_between(replace(result(), comparisons=result().comparisons[1:]))
    assert no_sep.verdict == UNMEASURED


def test_grouped_between_judges_every_device_it_can():
    sep = {"cpu": s(5.0, 0.1)}
    ok = grouped_between(result(sep, {"cuda": s(3.0, 0.1), "cpu": s(3.0, 0.1)}))
    assert ok.verdict == HOLDS and ok.measured.endswith("faster on cpu (separable 4.90x–5.10x)")
    bad = grouped_between(result(sep, {"cuda": s(3.0, 0.1), "cpu": s(6.0, 0.1)}))
    assert bad.verdict == FAILS


def test_grouped_between_fails_on_counts_alone():
    main = result({"cpu": s(5.0, 0.1)}, {"cpu": s(3.0, 0.1)})
    for ratio in (0.1, SEP_RATIO, 1.0):  # under separable's MACs, equal to it, standard's
        comps = (main.comparisons[0], replace(main.comparisons[1], macs_ratio=ratio))
        assert grouped_between(replace(main, comparisons=comps)).verdict == FAILS
        untimed = (result().comparisons[0], replace(result().comparisons[1], macs_ratio=ratio))
        assert grouped_between(replace(main, comparisons=untimed)).verdict == FAILS


def test_grouped_between_gives_no_verdict_on_untrusted_timings():
    for grouped, sep, why in (
        (doubtful(3.0), s(5.0, 0.1), "cpu: contended: 1.2 cores busy"),
        (s(3.0, 0.1), doubtful(5.0, "unstable: x"), "cpu: unstable: x"),
    ):
        claim = grouped_between(result({"cpu": sep}, {"cpu": grouped}))
        assert claim.verdict == UNMEASURED
        assert claim.measured == f"grouped:4: 4.0x fewer MACs, no verdict on {why}"


def profile(dw_macs, dw_ms, pw_ms):
    return SimpleNamespace(
        by_type=(
            TypeShare("depthwise", 13, dw_macs, 1, 0, {"cpu": dw_ms}),
            TypeShare("pointwise", 13, 100 - dw_macs, 9, 0, {"cpu": pw_ms}),
            TypeShare("fc", 1, 0, 1, 0, {}),  # not timed on cpu: adds nothing to the total
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
    for untimed in (None, SimpleNamespace(by_type=(TypeShare("depthwise", 13, 3, 1, 0, {}),))):
        (claim,) = depthwise_share(untimed)
        assert (claim.measured, claim.verdict) == ("MobileNetV1 not timed", UNMEASURED)


@pytest.mark.parametrize("share", [2.5, 3.5])
def test_depthwise_share_band_is_inclusive(share):
    assert depthwise_share(profile(share, 50.0, 50.0))[0].verdict == HOLDS


def test_every_claim_names_itself_and_states_its_rule():
    """The report's table, word for word, for a run timed on a CPU and a GPU."""
    claims = check_claims(
        result({"cpu": s(5.0, 0.1), "cuda": s(2.5, 0.1)}, {"cpu": s(3.0, 0.1)}),
        [result()],
        profile(3, 20.0, 80.0),
    )
    assert [(c.claim, c.rule) for c in claims] == [
        (
            "Separable costs 1/Cout + 1/k² of a standard convolution",
            "not traced: the analytic count and the formula are both formulas, so this is not "
            "a check",
        ),
        (
            "Parameters fall 8.7x at k=3, 256 channels",
            "Cout·Cin·k² vs k²·Cin + Cin·Cout, counted from the layer's shape: no measurement "
            "can contradict it, so it is not a check",
        ),
        (
            "Depthwise layers are ~3% of MobileNetV1's MACs but a much larger share of its time "
            "(cpu)",
            "holds if depthwise is 2.5-3.5% of MACs (computed) and at least twice that share of "
            "the measured time ('much larger')",
        ),
        (
            "An 8-9x FLOP cut gives only 2-3x wall-clock on GPUs",
            "holds if the CUDA speedup's interval lies within 2-3x, read as what rounds to it "
            "(1.5x-3.5x); does not hold if it lies outside; inconclusive if it crosses an edge; "
            "only for a cut that rounds to 8-9x",
        ),
        (
            "On CPUs the speedup tracks the FLOP cut more closely than on GPUs",
            "holds if the share of the MAC cut realised as speed (speedup x MAC ratio) has an "
            "interval on the CPU wholly above the GPU's; does not hold if wholly below; "
            "inconclusive if they overlap",
        ),
        (
            "Grouped convolution sits between standard and separable",
            "MACs computed; on every device, holds if grouped's speedup interval lies wholly "
            "above 1x and wholly below separable's; does not hold if either lies wholly on the "
            "wrong side (or the MACs do not lie between); inconclusive otherwise",
        ),
    ]
    assert [c.verdict for c in claims] == [COMPUTED, COMPUTED, HOLDS, HOLDS, HOLDS, HOLDS]
    assert claims[1].to_dict() == {
        "claim": claims[1].claim,
        "measured": "8.69x (589,824 vs 67,840)",
        "verdict": COMPUTED,
        "rule": claims[1].rule,
    }
    bare = check_claims(replace(result(), comparisons=()), [], None)
    assert [c.verdict for c in bare] == [UNMEASURED] * 6
    assert [c.rule for c in bare[1:]] == [c.rule for c in claims[1:]]
    assert [c.claim for c in bare[1:]] == [c.claim.removesuffix(" (cpu)") for c in claims[1:]]
    assert bare[1].measured == "the main layer is not k=3, 256 channels with separable"


def test_every_path_keeps_the_claims_wording_and_rule():
    """Whatever the data, a claim is reported under its own name with its own rule."""
    timed = result({"cpu": s(5.0, 0.1), "cuda": s(2.5, 0.1)}, {"cpu": s(3.0, 0.1)})
    cases = [
        (
            gpu_gap,
            timed,
            [
                result({"cuda": s(2.5, 0.1)}, sep_ratio=0.5),
                result({"cuda": doubtful(2.5)}),
                result(),
            ],
        ),
        (
            cpu_tracks,
            timed,
            [
                result({"cpu": s(5.0, 0.1)}),
                result({"cpu": doubtful(5.0), "cuda": s(2.5, 0.1)}),
                result(),
            ],
        ),
        (grouped_between, timed, [result(), replace(result(), comparisons=())]),
    ]
    for check, good, others in cases:
        expected = check(good)
        for other in others:
            claim = check(other)
            assert (claim.claim, claim.rule) == (expected.claim, expected.rule), check.__name__
    assert cost_ratio([]).claim == "Separable costs 1/Cout + 1/k² of a standard convolution"


def test_reasons_for_no_verdict_are_all_listed():
    claim = cpu_tracks(result({"cpu": doubtful(5.0, "contended: a"), "cuda": doubtful(2.5, "b")}))
    assert claim.measured == "no verdict: cpu: contended: a; cuda: b"


def test_grouped_between_judges_devices_after_an_untrusted_one():
    sep = {"cpu": s(5.0, 0.1), "cuda": s(5.0, 0.1)}
    claim = grouped_between(result(sep, {"cpu": doubtful(3.0), "cuda": s(6.0, 0.1)}))
    assert claim.verdict == FAILS
    assert claim.measured.startswith("grouped:4: 4.0x fewer MACs, no verdict on cpu: contended")
