"""sepify results: what a conversion did, layer by layer, and the whole model before/after."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sepprof.errors import UserError
from sepprof.results.latency import Speedup
from sepprof.results.ratios import Change
from sepprof.results.rows import Row

SEPIFY_SCHEMA = "sepprof.sepify/1"
# The activations sepify can insert: the values of ``spec.ops.ActKind`` (a test checks they agree;
# results sit below spec, so the literal type cannot be imported here).
ACTIVATIONS: tuple[str, ...] = ("relu", "relu6", "silu", "sigmoid", "hardswish")


@dataclass(frozen=True)
class SepifyOptions:
    """What to convert: layers not matching ``exclude`` (globs on module paths, a parent's path
    excludes its children) with at least ``min_channels`` input channels; what goes between
    depthwise and pointwise (``bn``, ``act``)."""

    exclude: tuple[str, ...] = ()
    min_channels: int = 1
    bn: bool = False
    act: str | None = None

    def check(self) -> SepifyOptions:
        if self.act == "none":
            return replace(self, act=None).check()
        if self.min_channels < 1:
            raise UserError(f"--min-channels: must be >= 1 (got {self.min_channels})")
        if self.act is not None and self.act not in ACTIVATIONS:
            raise UserError(
                f"--act: unknown activation {self.act!r} (valid: {', '.join(ACTIVATIONS)})"
            )
        if any(not p.strip() for p in self.exclude):
            raise UserError("--exclude: empty pattern")
        return self

    def to_dict(self) -> dict[str, Any]:
        return {
            "exclude": list(self.exclude),
            "min_channels": self.min_channels,
            "bn": self.bn,
            "act": self.act,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SepifyOptions:
        return cls(tuple(d.get("exclude", ())), d.get("min_channels", 1), d["bn"], d.get("act"))


@dataclass(frozen=True)
class SkippedLayer:
    """A convolution left as it was: ``code`` for grouping, ``reason`` for people."""

    name: str
    op: str
    code: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "op": self.op, "code": self.code, "reason": self.reason}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SkippedLayer:
        return cls(d["name"], d["op"], d["code"], d["reason"])


def before_after(before: Row, after: Row) -> dict[str, Any]:
    """What a rewrite changed: params (BatchNorm included) and MACs in one direction, and the
    speedup on every device where both were timed (None where either was not)."""
    pb, pa = before.params + before.norm_params, after.params + after.norm_params
    macs = (before.macs_analytic, after.macs_analytic)
    speedup = {
        d: Speedup.of(before.latency_ms[d], after.latency_ms[d])
        for d in before.latency_ms
        if d in after.latency_ms and after.latency_ms[d].median
    }
    return {
        "params": Change.of_count(pa / pb) if pb else None,
        "macs": Change.of_count(macs[1] / macs[0]) if None not in macs and macs[0] else None,
        "speedup": speedup,
        "speed": {d: Change.of_speedup(s.value, s.error) for d, s in speedup.items()},
    }


def _changes_dict(changes: dict[str, Any]) -> dict[str, Any]:
    return {
        "params_change": changes["params"].to_dict() if changes["params"] else None,
        "macs_change": changes["macs"].to_dict() if changes["macs"] else None,
        "speedup": {d: s.to_dict() for d, s in changes["speedup"].items()},
        "speed_change": {d: c.to_dict() for d, c in changes["speed"].items()},
    }


@dataclass(frozen=True)
class ConvertedLayer:
    """A converted convolution: the standard conv (``before``) and its separable replacement
    (``after``, with one stage row per module: depthwise, bn, act, pointwise)."""

    name: str
    k: int | tuple[int, ...]
    stride: int | tuple[int, ...]
    cin: int
    cout: int
    before: Row
    after: Row

    @property
    def changes(self) -> dict[str, Any]:
        return before_after(self.before, self.after)

    def to_dict(self) -> dict[str, Any]:
        return {
            **_changes_dict(self.changes),
            "name": self.name,
            "k": list(self.k) if isinstance(self.k, tuple) else self.k,
            "stride": list(self.stride) if isinstance(self.stride, tuple) else self.stride,
            "cin": self.cin,
            "cout": self.cout,
            "before": self.before.to_dict(),
            "after": self.after.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ConvertedLayer:
        before, after = Row.from_dict(d["before"]), Row.from_dict(d["after"])
        k, stride = (tuple(v) if isinstance(v, list) else v for v in (d["k"], d["stride"]))
        return cls(d["name"], k, stride, d["cin"], d["cout"], before, after)


@dataclass(frozen=True)
class SepifyReport:
    """What a conversion did: converted layers before/after, skipped layers and why, and the
    whole model before/after (``None`` when no input shape was given)."""

    environment: dict[str, Any]
    model: dict[str, Any]
    options: SepifyOptions
    converted: tuple[ConvertedLayer, ...]
    skipped: tuple[SkippedLayer, ...]
    before: Row | None = None
    after: Row | None = None
    notes: tuple[str, ...] = ()
    counting_rule: str = ""  # the rule the counts follow, as printed under them
    schema: str = SEPIFY_SCHEMA

    @property
    def changes(self) -> dict[str, Any] | None:
        """The whole model before/after (None without whole-model rows)."""
        if self.before is None or self.after is None:
            return None
        return before_after(self.before, self.after)

    @property
    def params_change(self) -> Change | None:
        """The converted layers' params, before -> after, in one direction."""
        return (
            Change.of_count(self.params_after / self.params_before) if self.params_before else None
        )

    @property
    def macs_change(self) -> Change | None:
        return Change.of_count(self.macs_after / self.macs_before) if self.macs_before else None

    @property
    def params_before(self) -> int:
        return sum(c.before.params + c.before.norm_params for c in self.converted)

    @property
    def params_after(self) -> int:
        """Parameters of the replacements, their BatchNorms included."""
        return sum(c.after.params + c.after.norm_params for c in self.converted)

    @property
    def macs_before(self) -> int:
        return sum(c.before.macs_analytic for c in self.converted)

    @property
    def macs_after(self) -> int:
        return sum(c.after.macs_analytic for c in self.converted)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "sepprof_version": self.environment.get("sepprof", ""),
            "environment": self.environment,
            "model": self.model,
            "options": self.options.to_dict(),
            "converted": [c.to_dict() for c in self.converted],
            "skipped": [s.to_dict() for s in self.skipped],
            "converted_totals": {
                "layers": len(self.converted),
                "params_before": self.params_before,
                "params_after": self.params_after,
                "macs_before": self.macs_before,
                "macs_after": self.macs_after,
                "params_change": self.params_change.to_dict() if self.params_change else None,
                "macs_change": self.macs_change.to_dict() if self.macs_change else None,
            },
            "before": self.before.to_dict() if self.before else None,
            "after": self.after.to_dict() if self.after else None,
            "model_change": _changes_dict(self.changes) if self.changes else None,
            "notes": list(self.notes),
            "counting_rule": self.counting_rule,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SepifyReport:
        return cls(
            d["environment"],
            d["model"],
            SepifyOptions.from_dict(d["options"]),
            tuple(ConvertedLayer.from_dict(c) for c in d["converted"]),
            tuple(SkippedLayer.from_dict(s) for s in d["skipped"]),
            Row.from_dict(d["before"]) if d.get("before") else None,
            Row.from_dict(d["after"]) if d.get("after") else None,
            tuple(d.get("notes", ())),
            d.get("counting_rule", ""),
        )
