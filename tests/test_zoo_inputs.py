"""Detection and segmentation models take their natural inputs (#24): ``--inputs '[3,H,W ...]'``
is one positional argument, a list of 3-D images (what torchvision's detectors take), and a
``--inputs FILE.py:fn`` that returns a list passes it as that one argument. Small modules written
here stand in for torchvision's (which the test environment does not have); one test uses a real
detector where torchvision is installed."""

from __future__ import annotations

import pytest
import torch

from sepprof.commands.model_profile import profile_model
from sepprof.errors import UserError
from sepprof.models.model import ModelInputs, parse_inputs

MODELS = '''
import torch
from torch import nn


class Detector(nn.Module):
    """A detector's calling convention: a list of 3-D images of any sizes, one 3x3 conv of
    8 filters over each (no bias), a list of dicts out."""

    def __init__(self):
        super().__init__()
        self.backbone = nn.Conv2d(3, 8, 3, padding=1, bias=False)

    def forward(self, images):
        if not isinstance(images, list) or any(i.dim() != 3 for i in images):
            raise ValueError("images is expected to be a list of 3d tensors")
        return [{"boxes": self.backbone(i[None]).amax((2, 3))} for i in images]


class Segmenter(nn.Module):
    """A segmentation model's: a 4-D batch in, a dict with the per-pixel classes out."""

    def __init__(self):
        super().__init__()
        self.classifier = nn.Conv2d(3, 5, 1)

    def forward(self, x):
        return {"out": self.classifier(x)}


def images():
    return [torch.rand(3, 8, 8), torch.rand(3, 6, 10)]
'''


@pytest.fixture
def models(tmp_path):
    path = tmp_path / "models.py"
    path.write_text(MODELS)
    return path


DETECTOR_MACS = (8 * 8 + 6 * 10) * 8 * 3 * 9  # positions of both images · Cout · Cin · k²


def test_a_bracketed_list_is_one_argument_of_3d_images():
    inputs = parse_inputs([], "[3,8,8 3,6,10]")
    (images,) = inputs.args
    assert isinstance(images, list) and [tuple(i.shape) for i in images] == [(3, 8, 8), (3, 6, 10)]
    assert inputs.batch == 2 and inputs.text == "[3,8,8 3,6,10]"
    assert inputs.to_dict()["shapes"] == [[3, 8, 8], [3, 6, 10]]
    assert [tuple(i.shape) for i in parse_inputs([], "[3,4,4; 3,5,5]").args[0]] == [
        (3, 4, 4),
        (3, 5, 5),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[]", "--inputs []: an empty list; expected shapes, e.g. [3,800,800 3,600,800]"),
        ("[3,a,8]", "--inputs 3,a,8: expected a shape of positive integers"),
        ("[3,8,8:int65]", "--inputs 3,8,8:int65: unknown dtype 'int65'"),
    ],
)
def test_a_bad_list_names_the_flag(text, message):
    with pytest.raises(UserError) as info:
        parse_inputs([], text)
    assert str(info.value).startswith(message)


def test_a_list_in_hand_is_written_as_the_flag_takes_it():
    inputs = ModelInputs.of([torch.rand(3, 8, 8), torch.rand(3, 6, 10)])
    assert inputs.text == "[3,8,8 3,6,10]" and inputs.batch == 2


def test_a_function_returning_a_list_gives_one_argument(models):
    inputs = parse_inputs([], f"{models}:images")
    assert len(inputs.args) == 1 and len(inputs.args[0]) == 2 and inputs.batch == 2


def test_a_detector_counts_every_image(cli, models):
    run = cli(
        "profile",
        "--model",
        f"{models}:Detector",
        "--inputs",
        "[3,8,8 3,6,10]",
        "--no-time",
        "--json",
    )
    assert run.code == 0, run.err
    doc = run.json()
    assert doc["totals"]["macs"] == DETECTOR_MACS and doc["totals"]["params"] == 8 * 3 * 9
    assert doc["network"]["inputs"] == "[3,8,8 3,6,10]"
    by_function = cli(
        "profile",
        "--model",
        f"{models}:Detector",
        "--inputs",
        f"{models}:images",
        "--no-time",
        "--json",
    )
    assert by_function.code == 0, by_function.err
    assert by_function.json()["totals"]["macs"] == DETECTOR_MACS


def test_a_detector_given_a_batch_tensor_names_the_flag(cli, models):
    run = cli("profile", "--model", f"{models}:Detector", "--input", "1,3,8,8", "--no-time")
    assert run.code == 2
    assert "--input 1,3,8,8: the model's forward() raised ValueError: images is expected" in run.err


def test_a_segmenter_takes_a_batch_and_returns_a_dict(cli, models):
    run = cli(
        "profile", "--model", f"{models}:Segmenter", "--input", "2,3,6,6", "--no-time", "--json"
    )
    assert run.code == 0, run.err
    totals = run.json()["totals"]
    assert totals["macs"] == 2 * 6 * 6 * 5 * 3  # N · positions · Cout · Cin
    assert totals["params"] == 5 * 3 + 5


def test_a_torchvision_detector_has_its_published_parameters():
    models = pytest.importorskip("torchvision.models", reason="torchvision is not installed")
    name = "ssdlite320_mobilenet_v3_large"
    model = models.get_model(name, weights=None, weights_backbone=None)
    result = profile_model(model, parse_inputs([], "[3,320,320]"), trace=True)
    published = models.get_model_weights(name).DEFAULT.meta["num_params"]
    assert result.totals.params + result.totals.norm_params == published == 3_440_060
    assert result.totals.complete
