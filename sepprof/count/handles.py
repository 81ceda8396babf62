"""The op table of the tracer: one small counting rule per aten op kind, fvcore-style.

Each handle takes an op's inputs (positional, then keyword values) and outputs, as PyTorch's
dispatcher sees them in eager mode, and returns a Counter of MACs and elementwise ops under
DESIGN.md's rule, with its own table and formulas (never ``costs``'), so the traced count stays
an independent check of the analytic one. Every rule is a plain module-level function (a kind
is bound with ``partial``), which tests, and mutmut, can reach. ``HANDLES`` can be overridden,
like fvcore's ``_DEFAULT_SUPPORTED_OPS``; ops in ``IGNORED`` move or reshape data and compute
nothing. Any other op is named as uncounted by the tracer, never counted as 0.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from functools import partial
from math import prod
from typing import Any

# The tracer's own table and formulas, written apart from ``costs`` on purpose: the traced count
# is an independent check of the analytic one, so a change to either rule must show up as a
# disagreement (tests compare the two), never as two sides silently moving together.
TRACED_OPS_PER_ELEMENT = {
    "batchnorm": 2,  # scale, shift
    "bias": 1,
    "relu": 1,
    "relu6": 2,  # two clamps
    "sigmoid": 3,
    "silu": 4,  # sigmoid, then a multiply
    "hardswish": 5,
    "add": 1,
    "mul": 1,
    "layernorm": 5,  # statistics and normalising; a weight and a bias add mul and bias
    "hardsigmoid": 4,
    "gelu": 5,
    "tanh": 1,
    "softmax": 3,
    "mean": 1,
    "compare": 1,  # eq, ne, lt, le, gt, ge: one comparison per output element
    "where": 1,  # a select per output element
    "neg": 1,
    "exp": 1,
    "clamp": 1,  # per bound given: clamp_min or clamp_max 1, clamp with both 2
    "norm": 2,  # vector norms: a square (or abs) and an add per input element
    "cumsum": 1,  # an add per element
    "scatter_add": 1,  # an add per source element
    "linear": 2,  # interpolation: a weighted sum of 2 neighbours per output element
    "bilinear": 4,  # of 4
    "bicubic": 16,  # of 16
    "trilinear": 8,  # of 8
    # an LSTM cell per hidden unit, as its op-by-op (decomposed) path counts: the input and
    # hidden gates' add (4), three sigmoid gates (3 x 3), two tanh (2), c = f*c + i*g (3) and
    # h = o*tanh(c) (1); biases add 2 x 4 more
    "lstm_cell": 19,
    "gru_cell": 14,  # likewise a GRU cell (biases: 2 x 3 more)
    "rnn_cell": 2,  # an Elman cell: the gates' add and tanh or ReLU (biases: 2 more)
    # what real zoos add (#24: torchvision's detectors, RAFT, video; timm)
    "unary": 1,  # log, sqrt, rsqrt, abs, pow, floor, round, sin, minimum, remainder ... (erf: no
    # rule yet, the example of an uncounted op that tests and the README use)
    "reduce": 1,  # max, min, argmax, amax, prod, any, all, nonzero: one op per input element
    "variance": 4,  # var, std (and their _mean): the mean's add, a subtract, a square, an add
    "leaky_relu": 2,  # a comparison and a multiply
    "softplus": 3,  # exp, add, log (elu likewise: a comparison, exp, multiply-subtract)
    "grid_bilinear": 4,  # grid_sample: a weighted sum of 4 neighbours per output element
    "grid_bicubic": 16,  # of 16 (nearest moves data: 0)
    "roi_sample": 5,  # roi_align: a bilinear sample (4) and its add to the bin's average (1)
    "box_area": 3,  # nms: two subtracts and a multiply per box
    "iou": 12,  # per pair of boxes: 4 max/min, 2 subtracts and 2 clamps, a multiply (the
    # intersection), 2 adds/subtracts (the union) and a divide; every pair, an upper bound
}
# cuDNN's mode number: (cell, gates G)
RNN_MODES = {0: ("rnn_cell", 1), 1: ("rnn_cell", 1), 2: ("lstm_cell", 4), 3: ("gru_cell", 3)}
ELEMENTWISE_OPS = TRACED_OPS_PER_ELEMENT  # the name the handles below use


def matmul_macs(batch: int, m: int, k: int, n: int) -> int:
    """``batch`` products of an (m x k) and a (k x n) matrix: m*n outputs of k terms each."""
    return batch * m * n * k


def attention_macs(heads: int, length: int, source: int, d_qk: int, d_v: int | None = None) -> int:
    """Scores Q·K^T (length x source, d_qk terms each) and outputs A·V (length x d_v, source
    terms each), for every head."""
    return heads * length * source * d_qk + heads * length * (d_v or d_qk) * source


MACS, ELTWISE = "macs", "eltwise"
Handle = Callable[[list, list], Counter]


def _shape(value: Any) -> tuple[int, ...]:
    return tuple(value.shape)


def _numel(value: Any) -> int:
    return prod(_shape(value))


def _present(value: Any) -> bool:
    return value is not None and hasattr(value, "shape")


def conv(inputs: list, outputs: list) -> Counter:
    """``aten::convolution``: input, weight, bias, stride, padding, dilation, transposed, ...
    MACs per output position (transposed: per input position) times the weight's size."""
    x, w, out = _shape(inputs[0]), _shape(inputs[1]), _shape(outputs[0])
    transposed = bool(inputs[6])  # both ops' schema: (input, weight, bias, ..., transposed, ...)
    positions = prod(x[2:]) if transposed else prod(out[2:])
    bias = prod(out) * ELEMENTWISE_OPS["bias"] if _present(inputs[2]) else 0
    return Counter({MACS: x[0] * positions * prod(w), ELTWISE: bias})


def mm(inputs: list, outputs: list) -> Counter:
    """``aten::mm`` and ``aten::bmm``: (b,) m x k times k x n."""
    a, b = _shape(inputs[0]), _shape(inputs[1])
    return Counter({MACS: matmul_macs(prod(a[:-2]), a[-2], a[-1], b[-1])})


def addmm(inputs: list, outputs: list) -> Counter:
    """``aten::addmm`` and ``aten::baddbmm``: a matmul plus an added tensor (a bias)."""
    a, b = _shape(inputs[1]), _shape(inputs[2])
    macs = matmul_macs(prod(a[:-2]), a[-2], a[-1], b[-1])
    return Counter({MACS: macs, ELTWISE: _numel(outputs[0]) * ELEMENTWISE_OPS["bias"]})


def sdpa(inputs: list, outputs: list) -> Counter:
    """The fused ``scaled_dot_product_attention`` kernels: QK^T + AV; per score, softmax, the
    scaling and a mask (when given) are elementwise."""
    batch, heads, length, d_qk = _shape(inputs[0])  # the fused kernels take (N, H, L, E) only
    source, d_v = _shape(inputs[1])[2], _shape(inputs[2])[3]
    macs = attention_macs(batch * heads, length, source, d_qk, d_v)
    masked = any(_present(t) and _shape(t) != () for t in inputs[3:])
    per_score = ELEMENTWISE_OPS["softmax"] + ELEMENTWISE_OPS["mul"] + int(masked)
    return Counter({MACS: macs, ELTWISE: batch * heads * length * source * per_score})


def native_mha(inputs: list, outputs: list) -> Counter:
    """``aten::_native_multi_head_attention`` (nn.MultiheadAttention's fast path): the q, k, v
    and output projections as linear layers, and the attention between them."""
    query, key = _shape(inputs[0]), _shape(inputs[1])
    embed, heads = int(inputs[3]), int(inputs[4])
    batch, length, source = prod(query[:-2]), query[-2], key[-2]
    projections = matmul_macs(batch, 2 * length + 2 * source, embed, embed)
    macs = projections + attention_macs(batch * heads, length, source, embed // heads)
    scores = batch * heads * length * source
    bias = batch * (2 * length + 2 * source) * embed * ELEMENTWISE_OPS["bias"]
    per_score = ELEMENTWISE_OPS["softmax"] + ELEMENTWISE_OPS["mul"]
    return Counter({MACS: macs, ELTWISE: bias + scores * per_score})


def per_output(kind: str, inputs: list, outputs: list) -> Counter:
    """``ELEMENTWISE_OPS[kind]`` ops per element of the first output (bound to a kind in
    ``HANDLES`` with ``partial``, so the rule is a plain function tests and mutmut can reach)."""
    return Counter({ELTWISE: _numel(outputs[0]) * ELEMENTWISE_OPS[kind]})


def per_input(inputs: list, outputs: list) -> Counter:
    """Reductions (mean, sum, global pools): one op per input element."""
    return Counter({ELTWISE: _numel(inputs[0]) * ELEMENTWISE_OPS["mean"]})


def clamp(inputs: list, outputs: list) -> Counter:
    """``aten::clamp`` (input, min, max): one comparison per output element for each bound
    given (``clamp_min`` and ``clamp_max`` take one, bound with ``partial`` as ``per_output``)."""
    bounds = sum(b is not None for b in inputs[1:3])
    return Counter({ELTWISE: _numel(outputs[0]) * ELEMENTWISE_OPS["clamp"] * bounds})


def vector_norm(inputs: list, outputs: list) -> Counter:
    """``aten::linalg_vector_norm`` and ``aten::norm``: a power and an add per input element
    (the root per output is not counted)."""
    return Counter({ELTWISE: _numel(inputs[0]) * ELEMENTWISE_OPS["norm"]})


def scatter_add(inputs: list, outputs: list) -> Counter:
    """``aten::scatter_add`` (input, dim, index, src): one add per source element."""
    return Counter({ELTWISE: _numel(inputs[3]) * ELEMENTWISE_OPS["scatter_add"]})


def lstm_layer(inputs: list, outputs: list) -> Counter:
    """``aten::mkldnn_rnn_layer`` (CPU's fused LSTM kernel, one layer and direction per call:
    input, w_ih, w_hh, b_ih, b_hh, hx, cx, reverse, batch_sizes, mode, hidden_size, num_layers,
    has_biases, ...): per step and batch element, 4·(in·H + H·H) MACs, the two weights' sizes;
    elementwise ops as the op-by-op cell counts them (``lstm_cell``, and 8 per unit for biases)."""
    tokens = prod(_shape(inputs[0])[:-1])  # steps x batch, either layout, or packed steps
    hidden, biased = int(inputs[10]), bool(inputs[12])
    macs = tokens * (_numel(inputs[1]) + _numel(inputs[2]))
    per_unit = ELEMENTWISE_OPS["lstm_cell"] + 2 * 4 * ELEMENTWISE_OPS["bias"] * biased
    return Counter({MACS: macs, ELTWISE: tokens * hidden * per_unit})


def cudnn_rnn(inputs: list, outputs: list) -> Counter:
    """``aten::_cudnn_rnn`` (input, weights, weight_stride0, weight_buf, hx, cx, mode,
    hidden_size, proj_size, num_layers, batch_first, dropout, train, bidirectional, ...): every
    layer and direction of an RNN, GRU or LSTM in one call. Per step and batch element, each
    2-D weight (w_ih, w_hh, LSTM's projection w_hr) is one MAC per entry, which is
    G·(in·H + H·H) (+ H·proj); elementwise ops per hidden unit as the op-by-op cells count."""
    tokens = prod(_shape(inputs[0])[:-1])  # steps x batch, either layout, or packed steps
    weights = [w for w in inputs[1] if _present(w)]
    macs = tokens * sum(_numel(w) for w in weights if len(_shape(w)) == 2)
    cell, gates = RNN_MODES[int(inputs[6])]
    biased = any(len(_shape(w)) == 1 for w in weights)
    per_unit = ELEMENTWISE_OPS[cell] + 2 * gates * ELEMENTWISE_OPS["bias"] * biased
    units = int(inputs[9]) * (2 if inputs[13] else 1) * int(inputs[7])
    return Counter({MACS: macs, ELTWISE: tokens * units * per_unit})


def per_larger(kind: str, inputs: list, outputs: list) -> Counter:
    """``ELEMENTWISE_OPS[kind]`` ops per element of the larger of the first input and the first
    output: a reduction reads every input element (max, argmax, any), a binary op (maximum,
    remainder, pow) writes every output element, broadcasting or not."""
    larger = max(_numel(inputs[0]), _numel(outputs[0]) if _present(outputs[0]) else 0)
    return Counter({ELTWISE: larger * ELEMENTWISE_OPS[kind]})


def sort(inputs: list, outputs: list) -> Counter:
    """``aten::sort`` (self, [stable,] dim, descending) and ``aten::argsort``: n·⌈log₂ n⌉
    comparisons for each sorted slice of n elements (a comparison sort's bound)."""
    shape = _shape(inputs[0])
    dim = next((int(a) for a in inputs[1:3] if isinstance(a, int) and not isinstance(a, bool)), -1)
    n = shape[dim] if shape else 1
    slices = prod(shape) // n if n else 0
    return Counter({ELTWISE: slices * n * max(1, (n - 1).bit_length())})


def unique(inputs: list, outputs: list) -> Counter:
    """``aten::_unique2`` and ``unique_dim`` (detectors' batched NMS): a sort of the n input
    elements, n·⌈log₂ n⌉ comparisons, then one comparison per element to find the runs."""
    n = _numel(inputs[0])
    return Counter({ELTWISE: n * max(1, (n - 1).bit_length()) + n * ELEMENTWISE_OPS["compare"]})


def topk(inputs: list, outputs: list) -> Counter:
    """``aten::topk`` (self, k, dim, ...): per input element ⌈log₂ k⌉ comparisons (at least 1),
    a selection that keeps k candidates."""
    k = int(inputs[1])
    return Counter({ELTWISE: _numel(inputs[0]) * max(1, (k - 1).bit_length())})


def nms(inputs: list, outputs: list) -> Counter:
    """``torchvision::nms`` (boxes, scores, iou_threshold): the boxes' areas, a sort of the
    scores, and one IoU per pair of boxes (an upper bound: suppressed boxes skip theirs)."""
    boxes = _shape(inputs[0])[0]
    pairs = boxes * (boxes - 1) // 2
    ordering = boxes * max(1, (boxes - 1).bit_length())
    areas = boxes * ELEMENTWISE_OPS["box_area"]
    return Counter({ELTWISE: areas + ordering + pairs * ELEMENTWISE_OPS["iou"]})


def roi_align(inputs: list, outputs: list) -> Counter:
    """``torchvision::roi_align`` (input, rois, spatial_scale, pooled_h, pooled_w,
    sampling_ratio, aligned): per output bin, sampling_ratio² bilinear samples averaged; an
    adaptive ratio (<= 0) takes ⌈roi_h/pooled_h⌉·⌈roi_w/pooled_w⌉ samples per bin, from each
    roi's own size, as the kernel does."""
    rois, scale = inputs[1], float(inputs[2])
    pooled_h, pooled_w, ratio = int(inputs[3]), int(inputs[4]), int(inputs[5])
    channels = _shape(inputs[0])[1]
    if ratio > 0:
        samples = _shape(rois)[0] * ratio * ratio
    else:
        offset = 0.5 if inputs[6] else 0.0
        sizes = rois[:, 3:5] * scale - rois[:, 1:3] * scale
        sizes = sizes if offset else sizes.clamp(min=1.0)
        grid = (sizes / sizes.new_tensor([pooled_w, pooled_h])).ceil().clamp(min=1)
        samples = int(grid.prod(dim=1).sum().item())
    per_bin = channels * pooled_h * pooled_w * ELEMENTWISE_OPS["roi_sample"]
    return Counter({ELTWISE: samples * per_bin})


def grid_sample(inputs: list, outputs: list) -> Counter:
    """``aten::grid_sampler_2d`` / ``_3d`` (input, grid, interpolation_mode, ...): mode 0
    bilinear, 4 neighbours per output element (3-D: trilinear, 8); 1 nearest, 0 (moves data);
    2 bicubic, 16."""
    mode, volumetric = int(inputs[2]), len(_shape(inputs[0])) == 5
    per = {0: ELEMENTWISE_OPS["grid_bilinear"] * (2 if volumetric else 1), 1: 0}
    return Counter({ELTWISE: _numel(outputs[0]) * per.get(mode, ELEMENTWISE_OPS["grid_bicubic"])})


def batch_norm(inputs: list, outputs: list) -> Counter:
    return Counter({ELTWISE: _numel(inputs[0]) * ELEMENTWISE_OPS["batchnorm"]})


def layer_norm(inputs: list, outputs: list) -> Counter:
    """``native_layer_norm`` (input, shape, weight, bias, eps) and ``native_group_norm``
    (input, weight, bias, ...): statistics and normalising, then a multiply per element for a
    weight and an add for a bias (either may be absent, e.g. ``LayerNorm(bias=False)``)."""
    weight, bias = inputs[2:4] if isinstance(inputs[1], list | tuple) else inputs[1:3]
    affine = ELEMENTWISE_OPS["mul"] * _present(weight) + ELEMENTWISE_OPS["bias"] * _present(bias)
    return Counter({ELTWISE: _numel(inputs[0]) * (ELEMENTWISE_OPS["layernorm"] + affine)})


def pool(fn: str, inputs: list, outputs: list) -> Counter:
    """Max pooling (``fn`` "max"): k-1 comparisons per output; average pooling: k adds (k = the
    window's size; one kernel size stands for every spatial dimension)."""
    dims = len(_shape(outputs[0])) - 2
    kernel = list(inputs[1])
    window = prod(kernel) if len(kernel) > 1 else kernel[0] ** max(dims, 1)
    return Counter({ELTWISE: _numel(outputs[0]) * (window - 1 if fn == "max" else window)})


def _each(names: str, handle: Handle) -> dict[str, Handle]:
    return {f"aten::{name}": handle for name in names.split()}


def _activations() -> dict[str, Handle]:
    kinds = {
        "relu": "relu",
        "hardtanh": "relu6",
        "sigmoid": "sigmoid",
        "silu": "silu",
        "hardswish": "hardswish",
        "hardsigmoid": "hardsigmoid",
        "gelu": "gelu",
        "tanh": "tanh",
    }
    return {
        f"aten::{op}{tail}": partial(per_output, kind)
        for op, kind in kinds.items()
        for tail in ("", "_")
    }


HANDLES: dict[str, Handle] = {
    **_each("convolution _convolution", conv),
    **_each("mm bmm", mm),
    **_each("addmm baddbmm", addmm),
    **_each(
        "_scaled_dot_product_flash_attention_for_cpu _scaled_dot_product_flash_attention "
        "_scaled_dot_product_efficient_attention _scaled_dot_product_cudnn_attention",
        sdpa,
    ),
    "aten::_native_multi_head_attention": native_mha,
    **_activations(),
    **_each(
        "add add_ sub sub_ rsub mul mul_ div div_ masked_fill masked_fill_",
        partial(per_output, "add"),
    ),
    **_each("_softmax softmax _safe_softmax", partial(per_output, "softmax")),
    **_each("native_batch_norm _native_batch_norm_legit_no_training", batch_norm),
    **_each("native_layer_norm native_group_norm", layer_norm),
    **_each("max_pool1d max_pool2d max_pool3d max_pool2d_with_indices", partial(pool, "max")),
    **_each("max_pool3d_with_indices", partial(pool, "max")),
    **_each("avg_pool1d avg_pool2d avg_pool3d", partial(pool, "avg")),
    **_each("mean sum adaptive_max_pool2d _adaptive_avg_pool2d adaptive_avg_pool2d", per_input),
    **_each(
        "eq eq_ ne ne_ lt lt_ le le_ gt gt_ ge ge_ logical_not logical_and logical_or",
        partial(per_output, "compare"),
    ),
    **_each("where", partial(per_output, "where")),
    **_each("neg neg_", partial(per_output, "neg")),
    **_each("exp exp_", partial(per_output, "exp")),
    **_each("clamp clamp_", clamp),
    **_each("clamp_min clamp_min_ clamp_max clamp_max_", partial(per_output, "clamp")),
    **_each("linalg_vector_norm norm", vector_norm),
    **_each("cumsum cumsum_", partial(per_output, "cumsum")),
    **_each("scatter_add scatter_add_", scatter_add),
    **_each("upsample_linear1d", partial(per_output, "linear")),
    **_each("upsample_bilinear2d _upsample_bilinear2d_aa", partial(per_output, "bilinear")),
    **_each("upsample_bicubic2d _upsample_bicubic2d_aa", partial(per_output, "bicubic")),
    **_each("upsample_trilinear3d", partial(per_output, "trilinear")),
    "aten::mkldnn_rnn_layer": lstm_layer,
    "aten::_cudnn_rnn": cudnn_rnn,
    **_each(
        "log log_ log2 log10 log1p sqrt sqrt_ rsqrt abs abs_ pow pow_ floor floor_ ceil ceil_ "
        "round round_ trunc frac sign reciprocal reciprocal_ sin cos exp2 expm1 "
        "minimum maximum fmin fmax floor_divide remainder fmod bitwise_and bitwise_or "
        "bitwise_not bitwise_xor logical_xor addcmul addcdiv lerp",
        partial(per_larger, "unary"),
    ),
    **_each(
        "max min amax amin argmax argmin prod any all nonzero count_nonzero",
        partial(per_larger, "reduce"),
    ),
    **_each("var std var_mean std_mean", partial(per_larger, "variance")),
    **_each(
        "_adaptive_avg_pool3d adaptive_avg_pool3d adaptive_avg_pool1d adaptive_max_pool1d "
        "adaptive_max_pool3d",
        per_input,
    ),
    **_each("leaky_relu leaky_relu_", partial(per_output, "leaky_relu")),
    **_each("softplus elu elu_", partial(per_output, "softplus")),
    **_each("sort argsort", sort),
    **_each("_unique2 unique_dim unique_consecutive", unique),
    "aten::topk": topk,
    "aten::grid_sampler_2d": grid_sample,
    "aten::grid_sampler_3d": grid_sample,
    "torchvision::nms": nms,
    "torchvision::roi_align": roi_align,
}

# Which kind of work an op's MACs are, for a row counted by the trace alone.
MAC_KINDS = {
    name: "attention" if handle in (sdpa, native_mha) else "conv" if handle is conv else "matmul"
    for name, handle in HANDLES.items()
    if handle in (conv, mm, addmm, sdpa, native_mha, lstm_layer, cudnn_rnn)
}

# Ops that only allocate, move, copy or reshape data: no arithmetic to count.
IGNORED = frozenset(
    f"aten::{name}"
    for name in [
        "view",
        "_unsafe_view",
        "reshape",
        "_reshape_alias",
        "t",
        "transpose",
        "permute",
        "expand",
        "expand_as",
        "unsqueeze",
        "squeeze",
        "select",
        "slice",
        "split",
        "split_with_sizes",
        "chunk",
        "unbind",
        "narrow",
        "cat",
        "stack",
        "clone",
        "contiguous",
        "copy_",
        "_to_copy",
        "to",
        "detach",
        "alias",
        "as_strided",
        "empty",
        "empty_like",
        "empty_strided",
        "zeros",
        "zeros_like",
        "ones",
        "ones_like",
        "full",
        "full_like",
        "fill_",
        "zero_",
        "arange",
        "lift_fresh",
        "embedding",
        "constant_pad_nd",
        "pad",
        "reflection_pad1d",
        "reflection_pad2d",
        "replication_pad1d",
        "replication_pad2d",
        "replication_pad3d",
        "roll",
        "flip",
        "repeat",
        "new_zeros",
        "new_empty",
        "new_ones",
        "new_full",
        "index_select",
        "index",
        "gather",
        "pixel_shuffle",
        "pixel_unshuffle",
        "channel_shuffle",
        "native_channel_shuffle",
        "upsample_nearest1d",
        "upsample_nearest2d",
        "upsample_nearest3d",
        "_upsample_nearest_exact1d",
        "_upsample_nearest_exact2d",
        "_upsample_nearest_exact3d",
        "scatter",
        "scatter_",
        "index_put",
        "index_put_",
        "masked_select",
        "take",
        "as_strided_",
        "_local_scalar_dense",
        "scalar_tensor",
        "dropout",
        "feature_dropout",
        "alpha_dropout",
        "identity",
        "unfold",
        "movedim",
        "flatten",
        "unflatten",
        "split_copy",
        "unsafe_split",
        "unsafe_split_with_sizes",
        "unsafe_chunk",
        "linspace",  # a filled range, like arange (RAFT's coordinate grids)
        "im2col",  # F.unfold: copies patches out (RAFT's convex upsampling)
    ]
)
