"""Export the network of one level as a bioimage.io model package (model spec 0.5, TorchScript).

At a fixed level a HyperRes network is an ordinary CNN
(:meth:`napari_hyperres.engine.Restorer.network_for`); :func:`export_bioimageio` writes it
as a zip that any bioimage.io consumer (bioimageio.core, deepImageJ, ilastik, ...) can run
without napari-hyperres. The package holds:

- ``weights.pt``: TorchScript of the plain network at that level, with the engine's own
  even-size padding (any height and width >= 16 work, odd sizes included);
- ``test_input.npy`` / ``test_output.npy`` (and the same as ``sample_*.tif``): a real photo (the shipped
  ``_samples/astronaut_x2.png``, 256×256) degraded by the task's own ``degrade`` at that level
  (seed 0) and clipped to [0, 1], and the TorchScript's output for it;
- ``cover.png`` (test input | test output), ``README.md`` (what the level means, how the
  weights were trained, their validation table), ``hyperres_weights_info.json`` (the
  weights file's metadata as stored), and ``rdf.yaml``.

The tensors are ``(batch, channel, y, x)`` float32 in [0, 1] — an 8-bit image divided by 255 —
with 3 channels (RGB) for RGB tasks (``denoise``) and 1 channel for gray tasks (``dejpeg``:
a gray image, or the luma Y of a colour one). No pre- or postprocessing: the output equals
``Restorer.restore(image, level, value_range=(0, 1))`` for such an input (float rounding
aside), and like it is not clipped (a few values may fall slightly outside [0, 1]).

Not exportable: image-conditioned tasks (``auto``: no level), tasks that resample or prepare
the input (``sr``) and photon-limited tasks (``microscopy``: a noise model fitted per image).

Requires the optional ``bioimageio.core`` (``pip install "napari-hyperres[bioimageio]"``),
imported only when a package is written.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import tempfile
import warnings
from pathlib import Path

import numpy as np

from ..core.images import to_batch
from ..errors import HyperResError, ShapeError

MIN_SIZE = 16
"""Smallest height and width the exported model declares (it runs on anything from 2 up)."""

TEST_IMAGE = "astronaut_x2.png"
"""The shipped sample the test tensors are made from (a 256×256 crop of it)."""

TEST_SIZE = 256

PAPER = {
    "text": "Aharon, S. and Ben-Artzi, G. Hypernetwork-based adaptive image restoration. ICASSP 2023.",
    "url": "https://arxiv.org/abs/2206.05970",
}
LICENSE = "BSD-3-Clause"

MISSING = 'exporting to bioimage.io needs the optional bioimageio.core: pip install "napari-hyperres[bioimageio]"'


def _check_bioimageio() -> None:
    """Raise :class:`HyperResError` if bioimageio.spec is missing or cannot write packages with this pydantic.

    bioimageio.spec before 0.5.14 (bioimageio.core 0.11.0 pins 0.5.12) calls pydantic's serializer
    handler in a way pydantic 2.14 refuses (``'index_key' is expected to be an integer or a string``).
    """
    from importlib.metadata import PackageNotFoundError, version

    try:
        import bioimageio.spec  # noqa: F401

        spec_version, pydantic_version = version("bioimageio.spec"), version("pydantic")
    except (ImportError, PackageNotFoundError):
        raise HyperResError(MISSING) from None

    def release(text: str) -> tuple[int, ...]:
        return tuple(int(part) for part in text.split("+")[0].split(".")[:3] if part.isdigit())

    if release(spec_version) < (0, 5, 14) and release(pydantic_version) >= (2, 14):
        raise HyperResError(
            f"bioimageio.spec {spec_version} cannot write packages with pydantic {pydantic_version}; "
            'pip install "pydantic<2.14" (or a bioimageio.core that allows bioimageio.spec>=0.5.14)'
        )


def check_exportable(task) -> None:
    """Raise :class:`ShapeError` if ``task``'s network at a level is not a plain image-to-image CNN."""
    if task.conditioning == "image":
        raise ShapeError(
            f"task {task.name!r} picks its network from each image (no level), so there is no one network to export; "
            "export a level-conditioned task at the level you need, e.g. --task denoise --level 25 or --task dejpeg --level 30"
        )
    if task.noise_parameters:
        raise ShapeError(
            f"task {task.name!r} fits a Poisson–Gaussian noise model to each image and stabilises its variance "
            "(generalized Anscombe transform) before the network, which a bioimage.io model cannot do; "
            "stabilise the data yourself and export the Gaussian denoiser at the stabilised σ instead "
            "(--task denoise --level SIGMA)"
        )
    if task.resamples or task.prepare is not None:
        raise ShapeError(
            f"task {task.name!r} resamples its input before the network (output size differs from the input's), "
            "which this exporter does not describe; restore it with napari-hyperres, or export denoise or dejpeg"
        )


def export_bioimageio(task, level: float, out_path: str | os.PathLike, *, weights: str | None = None) -> Path:
    """Write the network of ``task`` at ``level`` as a bioimage.io model package (zip).

    Args:
        task: task name or :class:`~napari_hyperres.core.tasks.Task` (``denoise``, ``dejpeg``, a plugin's).
        level: degradation level in the task's unit (e.g. σ = 25, JPEG quality 30); fixed in the package.
        out_path: the ``.zip`` to write; replaced atomically (never left half-written).
        weights: weights name or path (default: the task's shipped weights).

    Returns:
        ``out_path`` as a :class:`Path`.

    Raises:
        UnknownTaskError, WeightsError; ShapeError: the task cannot be exported (see
        :func:`check_exportable`) or ``out_path`` is not a ``.zip``; LevelRangeError: ``level``
        outside the task's range; HyperResError: bioimageio.core is not installed.
    """
    from ..core.plugins import get_task

    task = get_task(task)
    check_exportable(task)
    level = task.check_level(level)
    out_path = Path(out_path)
    if out_path.suffix.lower() != ".zip":
        raise ShapeError(f"expected an output file ending in .zip (a bioimage.io package), got {out_path}")
    _check_bioimageio()
    from bioimageio.spec import save_bioimageio_package

    from ..core.atomic import atomic_write

    with tempfile.TemporaryDirectory(prefix="hyperres-bioimageio-") as folder:
        descr = build_description(task, level, Path(folder), weights=weights)
        atomic_write(out_path, lambda tmp: save_bioimageio_package(descr, output_path=Path(tmp)))
    return out_path


# --- the network ---------------------------------------------------------------------------------
def scripted_network(net):
    """TorchScript of a :class:`GeneratedNet` (or an :class:`OpponentNet` of them): the traced
    networks behind the engine's even-size padding.

    The network's stride-2 head needs an even height and width; :class:`GeneratedNet` pads the
    bottom/right edge by reflection and crops back. A trace would freeze that branch for the
    traced size, so the padding is scripted around traces made at an even size. An
    :class:`OpponentNet` is scripted around its traced plane and joint networks (its clipped-pixel
    branch depends on the data).
    """
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    from ..core.models.opponent import OpponentNet

    def traced(inner, channels: int):
        inner = inner.eval().requires_grad_(False)  # a consumer's output needs no .detach()
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", torch.jit.TracerWarning)  # the even-size branch, frozen on purpose
            return torch.jit.trace(inner, torch.rand(1, channels, 64, 64, generator=torch.Generator().manual_seed(0)))

    if isinstance(net, OpponentNet):
        inner = OpponentNet([traced(plane, 1) for plane in net.planes], traced(net.joint, 3)).eval()
    else:
        inner = traced(net, net.arch.in_channels)

    class EvenPadded(nn.Module):
        def __init__(self, inner: torch.jit.ScriptModule) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h, w = x.shape[-2], x.shape[-1]
            ph, pw = h % 2, w % 2
            if ph != 0 or pw != 0:
                if h > 1 and w > 1:
                    x = F.pad(x, [0, pw, 0, ph], mode="reflect")
                else:
                    x = F.pad(x, [0, pw, 0, ph], mode="replicate")
            return self.inner(x)[:, :, :h, :w]

    return torch.jit.script(EvenPadded(inner))


def test_input(task, level: float) -> np.ndarray:
    """``(1, C, 256, 256)`` float32 in [0, 1]: the shipped photo (luma for gray tasks) degraded at ``level``, seed 0."""
    import torch

    from ..core.color import rgb_to_ycbcr
    from .files import read_image

    photo = read_image(Path(__file__).parents[1] / "_samples" / TEST_IMAGE)[:TEST_SIZE, :TEST_SIZE, :3]
    clean = photo.astype(np.float32) / 255.0
    if task.in_channels == 1:
        clean = rgb_to_ycbcr(clean)[..., :1]
    x = to_batch(clean)
    degraded = task.degraded(x, level, torch.Generator().manual_seed(0))
    return degraded.clamp(0.0, 1.0).numpy().astype(np.float32)


def _cover(x: np.ndarray, y: np.ndarray, path: Path) -> None:
    """``input | output`` side by side as an 8-bit PNG (2:1)."""
    from .files import write_image

    def to_image(t: np.ndarray) -> np.ndarray:
        plane = t[0].transpose(1, 2, 0)
        plane = plane[..., 0] if plane.shape[-1] == 1 else plane
        return np.rint(np.clip(plane, 0.0, 1.0) * 255.0).astype(np.uint8)

    write_image(path, np.concatenate([to_image(x), to_image(y)], axis=1), overwrite=True)  # the package's own cover


# --- the description -------------------------------------------------------------------------------
def _cell(row: dict, key: str, fmt: str = ".2f") -> str:
    return format(row[key], fmt) if key in row else "—"


def _validation_table(info) -> str:
    """The weights file's validation table in markdown, one row per dataset and level."""
    rows = ["| dataset | level | PSNR (dB) | SSIM | input PSNR (dB) | images |", "|---|---|---|---|---|---|"]
    for dataset, table in info.validation.items():
        for lv, row in table.items():
            row = row if isinstance(row, dict) else {"psnr": row}
            cells = [_cell(row, "psnr"), _cell(row, "ssim", ".4f"), _cell(row, "psnr_input"), str(row.get("images", "—"))]
            rows.append(f"| {dataset} | {lv} | " + " | ".join(cells) + " |")
    return "\n".join(rows) if len(rows) > 2 else "(no validation table in the weights file)"


def _readme(task, level: float, info, channels: int, max_out_of_range: float, radius: int) -> str:
    from .. import __version__

    low, high = task.level_range
    axes = "RGB (3 channels)" if channels == 3 else "gray (1 channel)"
    if channels == 3 and task.colour == "opponent":
        other = (
            "Colour only: the model restores the opponent planes (mean, R-B, R+B-2G) one by one, which assumes "
            "independent noise in R, G and B. A gray image repeated into 3 channels has the same noise in all three "
            "and would be under-restored; napari-hyperres restores gray images with the network's gray path."
        )
    elif channels == 3:
        other = (
            "Gray images: repeat the plane into the 3 channels and average the 3 output channels "
            "(napari-hyperres does exactly this, folded into the network)."
        )
    else:
        chroma = {
            "subsampled": "napari-hyperres also restores Cb/Cr on their 4:2:0 grid, which this package does not.",
            "full": "napari-hyperres also restores Cb/Cr at full resolution, which this package does not.",
            "keep": "napari-hyperres does the same, passing Cb/Cr through unchanged.",
        }[task.chroma]  # a plugin author's review: every gray task's package claimed dejpeg's 4:2:0 chroma
        other = (
            "Colour images: convert to full-range YCbCr (BT.601, as JPEG does), restore the luma Y with this "
            f"model and convert back; {chroma}"
        )
    hours = info.training_time_s / 3600
    checked = {float(lv) for table in info.validation.values() for lv in table}
    validated = f"the exported level {level:g} is one of them" if level in checked else f"the exported level {level:g} is not among them"
    return f"""# HyperRes {task.name} at {task.unit} = {level:g}

{task.description}

This is the network of the level-conditioned hypernetwork **HyperRes** (Aharon & Ben-Artzi, ICASSP 2023)
from napari-hyperres {__version__} (weights `{info.name}`), generated for one level:
**{task.unit} = {level:g}** (the task's range is {low:g}–{high:g}; control value
c = {info.normalization} = {task.normalize(level):.6g}). At a fixed level it is an ordinary CNN
(stride-2 head, {info.architecture.get('blocks', '?')} residual blocks of {info.architecture.get('features', '?')} features,
pixel-shuffle ×2, global residual). For another level, export again:
`napari-hyperres export-bioimageio --task {task.name} --level LEVEL OUT.zip`, or use the napari plugin's slider.

## Input and output

- Input `input`: `(batch, channel, y, x)` float32, {axes}, **values in [0, 1]** (an 8-bit image divided by 255;
  other data: map its black and white points to 0 and 1 first). No preprocessing is applied.
  Height and width: any size from {MIN_SIZE} up (odd sizes are padded by reflection inside the model and cropped back).
- Output `output`: the restored image, same shape, same scale. It is not clipped (as in napari-hyperres for float
  data): clip to [0, 1] before converting to 8 bits (on the test image at most {max_out_of_range:.3g} outside [0, 1]).
- {other}
- Tiling: each output pixel depends on {radius} input pixels on each side
  (receptive radius); tiles that overlap by that much and start on even coordinates give the whole-image result.

The output equals `napari_hyperres.Restorer("{task.name}", precision="float32").restore(image, {level:g}, value_range=(0, 1))`
for a float32 image in [0, 1] (to float rounding).

## Test data

`test_input.npy`: `skimage.data.astronaut()` shrunk ×2 (the package's `astronaut_x2.png`), {'luma Y, ' if channels == 1 else ''}256×256,
degraded by the task's own degradation at {task.unit} = {level:g} (torch seed 0) and clipped to [0, 1]
({task.eval_protocol or task.description}). `test_output.npy`: this model's output for it. Cover: input | output.

## Training

- Weights `{info.name}` ({info.kind}, preset `{info.preset}`), architecture `{json.dumps(info.architecture)}`.
- Trained jointly on the levels {', '.join(f'{v:g}' for v in info.train_levels) or '—'} ({task.unit}), with the level
  normalised as c = {info.normalization}; levels in between come from the hypernetwork.
- Training data: {', '.join(info.training_data) or '—'} (clean crops, degraded on the fly by the task's degradation).
- {info.steps} optimiser steps, {hours:.2f} h on {info.device or 'unknown device'}; batch {info.extra.get('batch', '—')},
  patch {info.extra.get('patch', '—')}, learning rate {info.extra.get('lr', '—')}.
- Everything the weights file records is in `hyperres_weights_info.json` and in the RDF's `config.hyperres`.

## Validation

PSNR/SSIM from the weights file's own validation, at the levels it was checked at
({validated}). Protocol: {task.eval_protocol or '—'}.

{_validation_table(info)}

## Licence and citation

{_licence_text(task, info)} Please cite the HyperRes paper:
{PAPER['text']} {PAPER['url']}
"""


def _licence_text(task, info) -> str:
    """Whose the package is: a built-in task's network code is napari-hyperres's and its weights are under the
    licence the file records; a plugin's task and the weights trained for it are its plugin's."""
    from ..core.plugins import task_origin

    origin = task_origin(task.name)
    if origin is None:
        return f"Code: {LICENSE} (napari-hyperres); weights: {info.license or LICENSE}."
    where = f"plugin {origin.plugin!r} ({origin.label})"
    return f"Task and weights: {where}, weights licence as recorded: {info.license or 'not recorded'}; the network code: {LICENSE} (napari-hyperres)."


def _authors(task) -> list[str]:
    """The package's authors: napari-hyperres's maintainers for a built-in task, else the plugin
    distribution's authors as its metadata names them."""
    from importlib.metadata import PackageNotFoundError, metadata

    from ..core.plugins import task_origin

    origin = task_origin(task.name)
    if origin is None:
        return ["napari-hyperres maintainers"]
    author = None
    if origin.distribution is not None:
        try:
            found = metadata(origin.distribution)
            author = found.get("Author") or (found.get("Author-email") or "").split("<")[0].strip(' "') or None
        except PackageNotFoundError:
            author = None
    return [author or f"the authors of plugin {origin.plugin!r}"]


def build_description(task, level: float, folder: Path, *, weights: str | None = None):
    """Write the package's files into ``folder`` and return the validated ``ModelDescr`` (spec 0.5)."""
    import torch
    from bioimageio.spec.model import v0_5 as spec

    from ..engine.restorer import Restorer

    restorer = Restorer(task, weights=weights, device="cpu", precision="float32")
    info = restorer.info
    arch = restorer.model.arch
    opponent = task.colour == "opponent"
    net = restorer.opponent_network(level) if opponent else restorer.network_for(level)
    channels = arch.in_channels
    scripted = scripted_network(net)
    scripted.save(str(folder / "weights.pt"))

    x = test_input(task, level)
    with torch.no_grad():
        y = scripted(torch.from_numpy(x)).numpy().astype(np.float32)
    np.save(folder / "test_input.npy", x)
    np.save(folder / "test_output.npy", y)
    import tifffile

    tifffile.imwrite(folder / "sample_input.tif", x[0])  # (channel, y, x) float32: the sample for people
    tifffile.imwrite(folder / "sample_output.tif", y[0])
    _cover(x, y, folder / "cover.png")
    outside = float(max(0.0, -y.min(), y.max() - 1.0))

    info_dict = dataclasses.asdict(info)
    (folder / "hyperres_weights_info.json").write_text(json.dumps(info_dict, indent=1, ensure_ascii=False), encoding="utf-8")
    readme = _readme(task, level, info, channels, outside, restorer.overlap)
    (folder / "README.md").write_text(readme, encoding="utf-8")

    names = ["r", "g", "b"] if channels == 3 else ["gray"]
    size = spec.ParameterizedSize(min=MIN_SIZE, step=1)
    input_axes = [
        spec.BatchAxis(),
        spec.ChannelAxis(channel_names=[spec.Identifier(n) for n in names]),
        spec.SpaceInputAxis(id=spec.AxisId("y"), size=size),
        spec.SpaceInputAxis(id=spec.AxisId("x"), size=size),
    ]
    output_axes = [
        spec.BatchAxis(),
        spec.ChannelAxis(channel_names=[spec.Identifier(n) for n in names]),
        spec.SpaceOutputAxis(id=spec.AxisId("y"), size=spec.SizeReference(tensor_id=spec.TensorId("input"), axis_id=spec.AxisId("y"))),
        spec.SpaceOutputAxis(id=spec.AxisId("x"), size=spec.SizeReference(tensor_id=spec.TensorId("input"), axis_id=spec.AxisId("x"))),
    ]
    kind = "RGB" if channels == 3 else "gray"
    low, high = task.level_range
    level_text = f"{task.unit} = {level:g}".replace("σ", "sigma")
    config = {
        "bioimageio": {
            "architecture_type": "HyperRes (generated CNN)",
            "architecture_description": (
                f"Plain CNN generated by a level-conditioned hypernetwork at c = {task.normalize(level):.6g}: stride-2 head, "
                f"{arch.blocks} residual blocks x {arch.features} features, pixel shuffle x2, global residual."
                + (
                    " Colour is restored as opponent planes (mean, R-B, R+B-2G), each by the network's gray path at its own "
                    "noise level, with the RGB network blended in where pixels are clipped at 0 or 1."
                    if opponent
                    else ""
                )
            ),
            "task": task.name,
            "model_parameter_count": int(sum(p.numel() for p in net.parameters())),
            "training": {
                "training_preprocessing": f"clean crops degraded on the fly; levels {list(info.train_levels)} ({task.unit})",
                "training_batch_size": info.extra.get("batch"),
                "initial_learning_rate": info.extra.get("lr"),
                "training_duration": round(info.training_time_s / 3600, 3),
            },
        },
        "hyperres": {
            "task": task.name,
            "level": level,
            "unit": task.unit,
            "level_range": [low, high],
            "control_value": float(task.normalize(level)),
            "input_range": [0.0, 1.0],
            "equals": f"napari_hyperres.Restorer({task.name!r}, precision='float32').restore(image, {level:g}, value_range=(0, 1))",
            "weights": info_dict,
        },
    }
    return spec.ModelDescr(
        name=model_name(task.name, level),
        description=(
            f"{task.title} ({kind}) at {level_text}: the HyperRes network of napari-hyperres ({info.name}) generated "
            f"for that level. Input float32 in [0, 1] (8-bit / 255); output on the same scale, not clipped."
        )[:1024],
        authors=[spec.Author(name=author) for author in _authors(task)],
        cite=[spec.CiteEntry(text=PAPER["text"], url=spec.HttpUrl(PAPER["url"]))],
        license=info.license or LICENSE,
        documentation=spec.FileDescr(source=folder / "README.md"),
        covers=[spec.FileDescr(source=folder / "cover.png")],
        attachments=[spec.FileDescr(source=folder / "hyperres_weights_info.json")],
        tags=["image-restoration", "hypernetwork", "hyperres", "napari-hyperres", "2d", "pytorch", "torchscript",
              "denoising" if task.name == "denoise" else task.name, kind.lower()],
        inputs=[
            spec.InputTensorDescr(
                id=spec.TensorId("input"),
                description=f"{kind} image, float32 in [0, 1] (8-bit / 255), degraded at {level_text}"[:128],
                axes=input_axes,
                test_tensor=spec.FileDescr(source=folder / "test_input.npy"),
                sample_tensor=spec.FileDescr(source=folder / "sample_input.tif"),
                data=spec.IntervalOrRatioDataDescr(type="float32", range=(0.0, 1.0)),
            )
        ],
        outputs=[
            spec.OutputTensorDescr(
                id=spec.TensorId("output"),
                description=f"restored {kind} image, same scale as the input (not clipped)"[:128],
                axes=output_axes,
                test_tensor=spec.FileDescr(source=folder / "test_output.npy"),
                sample_tensor=spec.FileDescr(source=folder / "sample_output.tif"),
                data=spec.IntervalOrRatioDataDescr(type="float32"),
            )
        ],
        weights=spec.WeightsDescr(
            torchscript=spec.TorchscriptWeightsDescr(
                source=folder / "weights.pt", pytorch_version=spec.Version(torch.__version__.split("+")[0])
            )
        ),
        config=config,
    )


def model_name(task_name: str, level: float) -> str:
    """The package's ``name``, in the characters bioimage.io allows (letters, digits, ``_+- ()``):
    ``HyperRes denoise at level 25p5`` for 25.5 (a decimal point was refused, so any level from
    the slider failed), a task name's dots as ``_``."""
    level_text = f"{level:g}".replace(".", "p")
    return re.sub(r"[^A-Za-z0-9_+\- ()]", "_", f"HyperRes {task_name} at level {level_text}")
