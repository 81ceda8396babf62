"""``sepprof sweep``: a grid over k, channels, size and groups; theory vs counted vs measured."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from sepprof.commands.compare import compare
from sepprof.count.costs import separable_theory_ratio
from sepprof.environment import environment
from sepprof.errors import UserError
from sepprof.results import CompareResult, SweepResult
from sepprof.spec.layer import LayerSpec, VariantSpec, parse_variants, validate_flags
from sepprof.timing.options import Progress


@dataclass(frozen=True)
class Grid:
    """The values to sweep; ``cin`` empty means Cin = Cout at every point."""

    k: tuple[int, ...] = (1, 3, 5, 7)
    cout: tuple[int, ...] = (32, 64, 128, 256, 512)
    cin: tuple[int, ...] = ()
    size: tuple[int, ...] = (56,)
    groups: tuple[int, ...] = ()

    def layers(self, stride: int = 1, batch: int = 1) -> list[LayerSpec]:
        """Every point of the grid as a layer spec."""
        points = itertools.product(self.k, self.cin or (None,), self.cout, self.size)
        return [
            validate_flags(
                LayerSpec, dict(k=k, cin=cin, cout=cout, size=size, stride=stride, batch=batch)
            )
            for k, cin, cout, size in points
        ]

    def left_out(self, layers: list[LayerSpec]) -> list[str]:
        """Why each grouped:g that was asked for is missing at some points."""
        return [
            f"grouped:{g} left out where {g} does not divide both Cin and Cout"
            for g in self.groups
            if g > 1 and any(la.cin % g or la.cout % g for la in layers)
        ]

    def variants(self, layer: LayerSpec) -> list[VariantSpec]:
        """standard, separable and each grouped:g whose g divides both channel counts."""
        names = ["standard", "separable"]
        names += [
            f"grouped:{g}"
            for g in self.groups
            if layer.cin % g == 0 and layer.cout % g == 0 and g > 1
        ]
        return parse_variants(names, layer)


def int_list(flag: str, text: str | None) -> tuple[int, ...]:
    """Parse ``1,3,5`` for a sweep flag; every item a positive integer, the list not empty."""
    if text is None:
        return ()
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise UserError(f"{flag}: empty list (give values such as 1,3,5)")
    for item in items:
        if not item.isdigit() or int(item) < 1:
            raise UserError(f"{flag}: {item!r} is not a positive integer")
    return tuple(int(item) for item in items)


def grid_from_flags(**flags: str | None) -> Grid:
    """A grid from comma-separated flag values (``k="1,3"``, ``cout="32,64"``, ...)."""
    return Grid(**{name: int_list(f"--{name}", text) for name, text in flags.items()})


def sweep(
    grid: Grid | None = None,
    *,
    stride: int = 1,
    batch: int = 1,
    trace: bool = True,
    timing: Any = None,
    progress: Progress | None = None,
    **values: tuple[int, ...],
) -> SweepResult:
    """Compare standard, separable (and grouped) variants at every point of ``grid`` (or of
    ``Grid(**values)``).

    >>> r = sweep(k=(3,), cout=(64, 256), size=(14,), trace=False)
    >>> [round(p.comparisons[0].macs_ratio, 4) for p in r.points]
    [0.1267, 0.115]
    """
    grid = grid or Grid(**values)
    layers = grid.layers(stride, batch)
    tick = progress(f"sweeping {len(layers)} points", len(layers)) if progress else None
    points = []
    for layer in layers:
        points.append(
            compare(layer, grid.variants(layer), trace=trace, timing=timing, stages=False)
        )
        if tick:
            tick()
    env = dict(points[0].environment) if points else environment()
    notes = sorted({n for p in points for n in p.notes} | set(grid.left_out(layers)))
    grid_dict = {
        "k": list(grid.k),
        "cout": list(grid.cout),
        "cin": list(grid.cin),
        "size": list(grid.size),
        "groups": list(grid.groups),
    }
    return SweepResult(env, grid_dict, tuple(points), tuple(notes), theory_curves(points))


def theory_curves(points: list[CompareResult]) -> dict[int, tuple[tuple[float, float], ...]]:
    """Per kernel size with a separable variant, 1 / (1/Cout + 1/k²) at 61 Couts spaced evenly on
    a log axis over the swept range (the chart's theory line)."""
    couts: dict[int, list[int]] = {}
    for p in points:
        if any(c.variant == "separable" for c in p.comparisons):
            couts.setdefault(p.spec["k"], []).append(p.spec["cout"])
    curves = {}
    for k, cs in couts.items():
        lo, hi = min(cs), max(cs)
        xs = [lo * (hi / lo) ** (i / 60) for i in range(61)] if hi > lo else [float(lo)]
        curves[k] = tuple((x, 1 / separable_theory_ratio(x, k)) for x in xs)
    return curves
