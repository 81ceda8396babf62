"""``sepprof sweep``: theory, analytic and traced ratios at every grid point; list validation."""

import pytest

from sepprof.commands.sweep import Grid, sweep
from sepprof.results import SweepResult


def test_grid_points_and_grouped_variants():
    grid = Grid(k=(3, 5), cout=(24, 32), size=(8,), groups=(3, 8))
    layers = grid.layers()
    assert [(la.k, la.cin, la.cout) for la in layers] == [
        (3, 24, 24),
        (3, 32, 32),
        (5, 24, 24),
        (5, 32, 32),
    ]
    assert [str(v) for v in grid.variants(layers[0])] == [
        "standard",
        "separable",
        "grouped:3",
        "grouped:8",
    ]
    assert [str(v) for v in grid.variants(layers[1])] == ["standard", "separable", "grouped:8"]


def test_traced_ratio_equals_theory_at_every_point():
    result = sweep(Grid(k=(1, 3, 5), cout=(8, 16), cin=(8, 12), size=(9,), groups=(4,)))
    assert len(result.points) == 12
    for point in result.points:
        for comp in point.comparisons:
            assert comp.traced_ratio == pytest.approx(comp.macs_ratio, rel=1e-12)
            if comp.variant == "separable":
                assert comp.macs_ratio == pytest.approx(
                    1 / point.spec["cout"] + 1 / point.spec["k"] ** 2
                )
            if comp.variant == "grouped:4":
                assert comp.theory_ratio == pytest.approx(0.25)
    again = SweepResult.from_dict(result.to_dict())
    assert again.points[3].comparisons[0].macs_ratio == result.points[3].comparisons[0].macs_ratio


def test_sweep_cli_json_and_timing(cli):
    run = cli(
        "sweep",
        "--k",
        "3",
        "--cout",
        "16,32",
        "--size",
        "8",
        "--rounds",
        "2",
        "--min-time",
        "0.002",
        "--json",
    )
    assert run.code == 0, run.err
    doc = run.json()
    assert doc["schema"] == "sepprof.sweep/1" and doc["grid"]["cout"] == [16, 32]
    assert len(doc["points"]) == 2 and "environment" not in doc["points"][0]
    comp = doc["points"][1]["comparisons"][0]
    assert comp["speedup"]["cpu"] > 0 and comp["macs_ratio_traced"] == comp["macs_ratio"]


def test_sweep_table(cli):
    run = cli("sweep", "--k", "3,5", "--cout", "64", "--size", "8", "--groups", "4", "--no-time")
    assert run.code == 0, run.err
    assert "% of cut" not in run.out and "speed" not in run.out  # nothing was timed
    for text in ["separable", "grouped:4", "0.12674", "0.25 "]:
        assert text in run.out, text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--k", ""], "--k: empty list"),
        (["--k", ","], "--k: empty list"),
        (["--cout", "32,abc"], "--cout: 'abc' is not a positive integer"),
        (["--size", "0"], "--size: '0' is not a positive integer"),
        (["--stride", "0"], "--stride: must be >= 1 (got 0)"),
    ],
)
def test_sweep_bad_lists_exit_2(cli, args, message):
    run = cli("sweep", "--no-time", *args)
    assert run.code == 2 and message in run.err and run.out == ""


def test_the_theory_line_is_in_the_result_and_follows_the_textbook_formula():
    """The chart's theory line is data of the sweep (and its JSON), not computed by the chart:
    1 / (1/Cout + 1/k²) over the swept Cout range, typed here from MobileNets' formula."""
    import sepprof

    r = sepprof.sweep(k=(3, 5), cout=(16, 64), size=(8,), trace=False)
    curve = r.to_dict()["theory_curve"]
    assert set(curve) == {"3", "5"}
    for k, points in curve.items():
        assert points[0][0] == 16 and points[-1][0] == pytest.approx(64)
        for cout, reduction in points:
            assert reduction == pytest.approx(1 / (1 / cout + 1 / int(k) ** 2))
    assert type(r).from_dict(r.to_dict()).theory_curve == r.theory_curve
