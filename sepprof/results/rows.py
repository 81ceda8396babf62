"""Rows: the costs and measurements of a stage, a variant or a network layer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sepprof.results.latency import Latency
from sepprof.results.shares import Part, Shares, shares_of
from sepprof.units import macs_to_flops


@dataclass(frozen=True)
class Roof:
    """Where a measured row sits under a device's roofline."""

    attainable_ms: float
    percent: float
    bound: str

    def to_dict(self) -> dict[str, Any]:
        return {"attainable_ms": self.attainable_ms, "percent": self.percent, "bound": self.bound}


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


@dataclass(frozen=True)
class Row:
    """Costs and measurements of a stage, a variant or a network layer."""

    name: str
    kind: str
    params: int
    norm_params: int
    macs_analytic: int | None  # None: "n/a", nothing in the row could be counted
    elementwise_ops: int | None
    bytes: int
    shape: str = ""
    detail: str = ""
    macs_traced: int | None = None
    macs_flop_counter: int | None = None
    macs_fvcore: int | None = None
    macs_backward: int | None = None  # --mode train: grad-input + grad-weight, analytic
    macs_backward_flop_counter: int | None = None  # torch's, less its grouped-conv excess
    macs_backward_flop_counter_excess: int | None = None
    params_traced: int | None = None
    elementwise_traced: int | None = None
    uncounted_ops: dict[str, int] = field(default_factory=dict)
    # False: an op with no counting rule ran in the row's counts (or, for totals, in any row, or
    # a row was n/a), so its MACs and elementwise ops are what was counted: a lower bound
    complete: bool = True
    latency_ms: dict[str, Latency] = field(default_factory=dict)
    roofline: dict[str, Roof] = field(default_factory=dict)
    stages: tuple[Row, ...] = ()

    @property
    def flops(self) -> int | None:
        return None if self.macs_analytic is None else macs_to_flops(self.macs_analytic)

    @property
    def macs_train(self) -> int | None:
        """MACs of one training step (forward + backward), where the backward was counted."""
        if self.macs_backward is None or self.macs_analytic is None:
            return None
        return self.macs_analytic + self.macs_backward

    @property
    def intensity(self) -> float:
        """Arithmetic intensity: FLOPs (2 x MACs) per byte moved."""
        return self.flops / self.bytes if self.bytes and self.flops is not None else 0.0

    def achieved(self, device: str) -> tuple[float, float] | None:
        """(GFLOP/s, GB/s) reached on ``device``: FLOPs (2 x MACs) and the minimum bytes over
        the median time; None when not timed there."""
        lat = self.latency_ms.get(device)
        if lat is None or not lat.median or self.flops is None:
            return None
        seconds = lat.median / 1e3
        return self.flops / seconds / 1e9, self.bytes / seconds / 1e9

    @property
    def traced_ok(self) -> bool | None:
        """None without a trace; else do sepprof's tracer, and the peers where they ran
        (torch.utils.flop_counter's formulas, fvcore), all agree with the analytic MACs?"""
        if self.macs_traced is None or self.macs_analytic is None:
            return None
        peers_ok = {self.macs_flop_counter, self.macs_fvcore} <= {None, self.macs_analytic}
        params_ok = self.params_traced in (None, self.params)
        return self.macs_traced == self.macs_analytic and peers_ok and params_ok

    def part(self) -> Part:
        """This row as a part of a whole: MACs, params and median time per device."""
        return self.macs_analytic, self.params, {d: v.median for d, v in self.latency_ms.items()}

    @property
    def stage_shares(self) -> tuple[Shares, ...]:
        """Each stage's share of the stages' MACs, params and time (per device)."""
        return shares_of([s.part() for s in self.stages])

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "op": self.detail,
            "output_shape": self.shape,
            "params": self.params,
            "params_batchnorm": self.norm_params,
            "macs": self.macs_analytic,
            "macs_analytic": self.macs_analytic,
            "macs_traced": self.macs_traced,
            "macs_flop_counter": self.macs_flop_counter,
            "macs_fvcore": self.macs_fvcore,
            "macs_backward": self.macs_backward,
            "macs_backward_flop_counter": self.macs_backward_flop_counter,
            "macs_backward_flop_counter_excess": self.macs_backward_flop_counter_excess,
            "macs_train": self.macs_train,
            "params_traced": self.params_traced,
            "flops": self.flops,
            "elementwise_ops": self.elementwise_ops,
            "elementwise_ops_traced": self.elementwise_traced,
            "bytes": self.bytes,
            "intensity": self.intensity,
            "uncounted_ops": dict(self.uncounted_ops),
            "complete": self.complete,
            "latency_ms": {k: v.to_dict() for k, v in self.latency_ms.items()},
            "roofline": {k: v.to_dict() for k, v in self.roofline.items()},
            "achieved": {
                d: {"gflop_s": rate[0], "gb_s": rate[1]}
                for d in self.latency_ms
                if (rate := self.achieved(d))
            },
        }
        if self.stages:
            d["stages"] = [
                {**s.to_dict(), "share": share.to_dict()}
                for s, share in zip(self.stages, self.stage_shares, strict=True)
            ]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Row:
        return cls(
            name=d["name"],
            kind=d.get("kind", ""),
            params=int(d["params"]),
            norm_params=int(d.get("params_batchnorm", 0)),
            macs_analytic=_int_or_none(d.get("macs_analytic", d.get("macs", 0))),
            elementwise_ops=_int_or_none(d.get("elementwise_ops", 0)),
            bytes=int(d.get("bytes", 0)),
            shape=d.get("output_shape", ""),
            detail=d.get("op", ""),
            macs_traced=d.get("macs_traced"),
            macs_flop_counter=d.get("macs_flop_counter"),
            macs_fvcore=d.get("macs_fvcore"),
            macs_backward=d.get("macs_backward"),
            macs_backward_flop_counter=d.get("macs_backward_flop_counter"),
            macs_backward_flop_counter_excess=d.get("macs_backward_flop_counter_excess"),
            params_traced=d.get("params_traced"),
            elementwise_traced=d.get("elementwise_ops_traced"),
            uncounted_ops=dict(d.get("uncounted_ops", {})),
            complete=bool(d.get("complete", d.get("macs_analytic", d.get("macs", 0)) is not None)),
            latency_ms={k: Latency.from_dict(v) for k, v in d.get("latency_ms", {}).items()},
            roofline={k: Roof(**v) for k, v in d.get("roofline", {}).items()},
            stages=tuple(cls.from_dict(s) for s in d.get("stages", ())),
        )
