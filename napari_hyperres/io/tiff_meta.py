"""What a TIFF says about its pixels besides their values, carried from input to output.

Fiji and microscope software store a stack's axes (``ZCYX``), its pixel size (the resolution
tags) and, in ImageJ files, the z-spacing, the unit and the frame interval. An output that
drops them opens in Fiji as a flat stack with no scale, and every measurement on it is wrong.
:func:`read_tiff_metadata` reads them from an input; :meth:`TiffMetadata.write_options` gives
the keyword arguments of ``tifffile.imwrite`` that write them again for an output of a given
shape (a super-resolved output has a proportionally smaller pixel size).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

IMAGEJ_KEYS = (
    "spacing", "unit", "finterval", "fps", "loop", "min", "max", "yunit", "zunit",
    "mode", "Ranges", "LUTs", "Labels", "Info", "Properties",
)
"""ImageJ entries carried over: the scale, and how Fiji shows the stack (``mode`` composite, each
channel's lookup table and display range, slice labels) and what the microscope recorded
(``Info``, ``Properties``). Without the display entries a two-colour hyperstack reopened in Fiji
as grey channels, one at a time."""

CHANNEL_KEYS = ("mode", "Ranges", "LUTs", "channels")
"""ImageJ entries that describe several channels, left out of one channel's metadata."""

OME_SIZES = ("PhysicalSizeX", "PhysicalSizeY", "PhysicalSizeZ")
"""OME-XML ``Pixels`` attributes carried over (each with its ``…Unit``): the voxel size, the time between frames
(:data:`OME_TIMING`); and the channels' names (``Channel Name="GFP"``)."""

OME_TIMING = ("TimeIncrement",)
"""OME-XML ``Pixels`` attributes of a time-lapse carried over with the voxel size (a review: a frame interval an
OME-TIFF recorded was dropped, so the output's time axis had no scale)."""

NGFF_AXES = {"T": "t", "C": "c", "Z": "z", "Y": "y", "X": "x", "S": "c"}
"""tifffile's axis letters → OME-Zarr (NGFF) axis names; other letters (``Q``, ``I``) have none."""

NGFF_UNITS = {"micrometer": "\u00b5m", "micron": "\u00b5m", "nanometer": "nm", "millimeter": "mm", "centimeter": "cm",
              "meter": "m", "\u00b5m": "\u00b5m", "\u03bcm": "\u00b5m", "um": "\u00b5m", "nm": "nm", "mm": "mm", "cm": "cm", "m": "m"}
"""OME-Zarr (NGFF, UDUNITS) length units → OME-XML's; others (time, pixel) give no voxel size."""

MICROMETRES_PER_OME_UNIT = {"\u00b5m": 1.0, "\u03bcm": 1.0, "um": 1.0, "nm": 1e-3, "mm": 1e3, "cm": 1e4, "m": 1e6}
"""OME-XML length units (``PhysicalSizeXUnit``; µm where none is given) in micrometres."""

MICRON_NAMES = ("micron", "microns", "\u00b5m", "\u03bcm", "um", "\\u00b5m", "micrometer", "micrometre")
"""ImageJ's names of the micrometre, lower case (ImageJ writes ``\\u00B5m`` escaped)."""

IMAGEJ_DTYPES = ("uint8", "uint16", "float32")
"""What an ImageJ hyperstack can hold; other dtypes are written as plain TIFF with the axes."""


@dataclass(frozen=True)
class TiffMetadata:
    """Axes, pixel size and ImageJ entries of a TIFF's first series.

    Attributes:
        axes: tifffile's axes of the series (``"ZCYX"``, ``"YXS"``, ``"QYX"`` when unknown).
        shape: the series' shape (the output is checked against it).
        resolution: pixels per unit along ``(X, Y)`` from the resolution tags, or ``None``.
        resolution_unit: the tags' unit (tifffile's ``RESUNIT`` value), or ``None``.
        imagej: the :data:`IMAGEJ_KEYS` entries of an ImageJ file, else ``None``.
        ome: an OME-TIFF's voxel size (:data:`OME_SIZES` and their units, as OME-XML names them)
            and channel names, else ``None``; the output is then an OME-TIFF with the same.
    """

    axes: str
    shape: tuple[int, ...]
    resolution: tuple[float, float] | None = None
    resolution_unit: int | None = None
    imagej: dict[str, Any] | None = field(default=None)
    ome: dict[str, Any] | None = field(default=None)

    def channel_axis(self, shape: tuple[int, ...]) -> int | None:
        """The axis of an image of ``shape`` (as :func:`~napari_hyperres.io.files.read_image` gives it)
        that holds channels (``C``, more than one), or ``None``."""
        if "C" not in self.axes or len(shape) != len(self.shape) or tuple(shape) != tuple(self.shape):
            return None
        axis = self.axes.index("C")
        return axis if shape[axis] > 1 else None

    def for_shape(self, shape: tuple[int, ...]) -> "TiffMetadata | None":
        """This metadata for an array of ``shape`` made from the file: itself for the same number of
        axes; one channel of it (``C`` dropped, with the per-channel display entries and channel
        names) where ``shape`` lacks only the channel axis (napari's ``channel_axis`` gives one layer
        per channel); else ``None``. A Level sweep's: :meth:`for_sweep`."""
        shape = tuple(shape)
        if len(shape) == len(self.shape):
            return self
        if "C" in self.axes and len(shape) == len(self.shape) - 1:
            return self._one_channel()
        return None

    def for_sweep(self, shape: tuple[int, ...]) -> "TiffMetadata | None":
        """The metadata of a level sweep (the widget's Level sweep of one plane) of ``shape``: the file's, or one
        channel's, with the levels as a leading axis (:meth:`swept`); ``None`` where ``shape`` is no sweep of either.
        Before, a sweep was saved with axes ``QQYX`` and no pixel size (a microscopy review)."""
        shape = tuple(shape)
        bases = [self] + ([self._one_channel()] if "C" in self.axes else [])
        return next((base.swept(shape) for base in bases if base._swept_by(shape)), None)

    def _one_channel(self) -> "TiffMetadata":
        c = self.axes.index("C")
        imagej = None if self.imagej is None else {k: v for k, v in self.imagej.items() if k not in CHANNEL_KEYS}
        ome = None if self.ome is None else {k: v for k, v in self.ome.items() if k != "Channel"}
        return TiffMetadata(self.axes[:c] + self.axes[c + 1 :], self.shape[:c] + self.shape[c + 1 :],
                            self.resolution, self.resolution_unit, imagej, ome)

    def _swept_by(self, shape: tuple[int, ...]) -> bool:
        """Whether ``shape`` is a level sweep of one plane of an array with this metadata: ``(N, 1, …, 1, Y', X'[, S])``."""
        if len(shape) != len(self.shape) + 1:
            return False
        lead = sum(a not in "YXS" for a in self.axes)
        colour = not self.axes.endswith("S") or shape[-1] == self.shape[-1]
        return all(n == 1 for n in shape[1 : 1 + lead]) and colour

    def swept(self, shape: tuple[int, ...]) -> "TiffMetadata":
        """The metadata of a level sweep of ``shape`` (:meth:`_swept_by`): the levels as a leading ``T`` axis (frames in
        Fiji; ``Q``, unnamed, where the file has a ``T`` axis), the pixel size, z-spacing and unit kept; the entries
        that count the file's frames, channels or slices (interval, lookup tables, labels) left out."""
        letter = "Q" if "T" in self.axes else "T"
        dropped = CHANNEL_KEYS + ("Labels", "finterval", "fps", "loop")
        imagej = None if self.imagej is None or letter == "Q" else {k: v for k, v in self.imagej.items() if k not in dropped}
        ome = None if self.ome is None or letter == "Q" else {k: v for k, v in self.ome.items() if k != "Channel"}
        return TiffMetadata(letter + self.axes, tuple(shape), self.resolution, self.resolution_unit, imagej, ome)

    @classmethod
    def from_ngff(cls, axes: list[str], scale: list[float], shape: tuple[int, ...], units: list | None = None) -> "TiffMetadata | None":
        """An OME-Zarr image's layout (:func:`~napari_hyperres.io.chunked.open_lazy`'s ``axes``, ``scale`` and axis
        ``units``) as the metadata of a TIFF written from it: its axes, and its voxel size as OME ``PhysicalSize*``
        (in micrometres where the store names no unit); ``None`` where an axis has no TIFF letter. Before, the
        panel's Save… of a restored OME-Zarr wrote axes ``QQYX`` and a pixel size of 1 (a review; the CLI kept both)."""
        letters = {name: letter for letter, name in NGFF_AXES.items() if letter != "S"}
        names = [str(a).lower() for a in axes]
        if len(names) != len(shape) or any(n not in letters for n in names) or len(set(names)) != len(names):
            return None
        letters_of = "".join(letters[n] for n in names)
        ome: dict[str, Any] = {}
        for name, size, unit in zip(names, scale if len(scale) == len(names) else [None] * len(names),
                                    units if units and len(units) == len(names) else [None] * len(names), strict=True):
            ome_unit = NGFF_UNITS.get(str(unit).lower(), None) if unit else "\u00b5m"
            if name in ("x", "y", "z") and size and ome_unit is not None:
                ome[f"PhysicalSize{name.upper()}"] = float(size)
                ome[f"PhysicalSize{name.upper()}Unit"] = ome_unit
        resolution = None  # also as resolution tags per centimetre: what ImageJ's own TIFF reader and a sweep keep
        if "PhysicalSizeX" in ome and "PhysicalSizeY" in ome:
            microns = [ome[f"PhysicalSize{a}"] * MICROMETRES_PER_OME_UNIT[ome[f"PhysicalSize{a}Unit"]] for a in "XY"]
            resolution = (1e4 / microns[0], 1e4 / microns[1])
        return cls(letters_of, tuple(shape), resolution, 3 if resolution else None, None, ome or None)

    def ngff(self) -> dict[str, list]:
        """``{"axes": [...], "scale": [...]}`` of this file's layout for an OME-Zarr output (as
        :func:`~napari_hyperres.io.chunked.open_lazy` reads them from an OME-Zarr input): NGFF axis names
        (``t, c, z, y, x``; RGB samples are ``c``) and the voxel size in micrometres where the file records
        it (OME ``PhysicalSize*`` in their unit; an ImageJ file in microns: its resolution tags and z-spacing), else 1; ``{}`` where an axis has
        no NGFF name (``Q``: unknown). Before, a TIFF's zarr output named its axes by their count: a ZCYX
        hyperstack was labelled ``c, z, y, x`` and every scale was 1 (a microscopy review)."""
        if any(a not in NGFF_AXES for a in self.axes) or ("C" in self.axes and "S" in self.axes):
            return {}
        sizes = {"X": None, "Y": None, "Z": None}
        micrometre_file = self.imagej is not None and str(self.imagej.get("unit", "")).lower() in MICRON_NAMES
        if self.resolution is not None and micrometre_file:  # a photo editor's 72 dpi is no voxel size
            sizes["X"], sizes["Y"] = 1.0 / self.resolution[0], 1.0 / self.resolution[1]
        if micrometre_file and "spacing" in self.imagej:
            sizes["Z"] = float(self.imagej["spacing"])
        for axis in "XYZ":
            if self.ome is not None and f"PhysicalSize{axis}" in self.ome:
                unit = str(self.ome.get(f"PhysicalSize{axis}Unit", "µm"))
                if unit in MICROMETRES_PER_OME_UNIT:
                    sizes[axis] = float(self.ome[f"PhysicalSize{axis}"]) * MICROMETRES_PER_OME_UNIT[unit]
        return {"axes": [NGFF_AXES[a] for a in self.axes], "scale": [sizes.get(a) or 1.0 for a in self.axes]}

    def write_options(self, shape: tuple[int, ...], dtype) -> dict[str, Any]:
        """``tifffile.imwrite`` keywords that record this metadata for an output of ``shape`` and ``dtype``.

        Only the pixel size changes with the plane size (×s for an output s times larger);
        an output whose other axes differ gets none of it (it is not the same kind of stack).
        """
        if len(shape) != len(self.shape) or "Y" not in self.axes or "X" not in self.axes:
            return {}
        y, x = self.axes.index("Y"), self.axes.index("X")
        others = [i for i in range(len(shape)) if i not in (y, x)]
        if any(shape[i] != self.shape[i] for i in others):
            return {}
        scale = (shape[x] / self.shape[x], shape[y] / self.shape[y])
        options: dict[str, Any] = {}
        if self.resolution is not None:
            options["resolution"] = (self.resolution[0] * scale[0], self.resolution[1] * scale[1])
            if self.resolution_unit is not None:
                options["resolutionunit"] = self.resolution_unit
        rgb = self.axes.endswith("S")
        if self.ome is not None and "Q" not in self.axes:  # OME-XML with the voxel size (x / y finer after sr)
            sizes = dict(self.ome)
            for key, factor in (("PhysicalSizeX", scale[0]), ("PhysicalSizeY", scale[1])):
                if key in sizes:
                    sizes[key] = sizes[key] / factor
            options["ome"] = True
            options["metadata"] = {"axes": self.axes, **sizes}
        elif self.imagej is not None and (str(dtype) == "uint8" if rgb else str(dtype) in IMAGEJ_DTYPES):  # ImageJ's own limits
            options["imagej"] = True
            options["metadata"] = {"axes": self.axes, **self.imagej}
        elif "Q" not in self.axes:
            options["metadata"] = {"axes": self.axes}
        return options


def read_tiff_metadata(path: str | os.PathLike) -> TiffMetadata | None:
    """The :class:`TiffMetadata` of ``path``'s first series, or ``None`` where it cannot be read."""
    import tifffile

    from .files import sample_axes_move, samples_are_channels

    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            page = tif.pages[0]
            tags = page.tags
            resolution = unit = None
            if "XResolution" in tags and "YResolution" in tags:
                (xn, xd), (yn, yd) = tags["XResolution"].value, tags["YResolution"].value
                if xd and yd and (xn, xd, yn, yd) != (1, 1, 1, 1):  # 1/1 is "no resolution"
                    resolution = (xn / xd, yn / yd)
                    unit = int(tags["ResolutionUnit"].value) if "ResolutionUnit" in tags else None
            imagej = None
            if tif.is_imagej and tif.imagej_metadata:
                imagej = {k: v for k, v in tif.imagej_metadata.items() if k in IMAGEJ_KEYS}
            axes, shape = series.axes, tuple(series.shape)
            move = sample_axes_move(tif)  # the samples where read_image puts them: so does the metadata
            if move is not None:
                axes, shape = "".join(_moved(axes, *move)), tuple(_moved(shape, *move))
            if samples_are_channels(tif):  # gray samples are channels, not colour
                axes = axes[:-3] + "CYX"
            return TiffMetadata(axes, shape, resolution, unit, imagej, ome_pixels(tif.ome_metadata) if tif.is_ome else None)
    except Exception:  # noqa: BLE001 — metadata is a courtesy; the pixels are read (and checked) elsewhere
        return None


def _moved(items, source: int, destination: int) -> list:
    """``items`` reordered as ``numpy.moveaxis(array, source, destination)`` reorders axes."""
    order = list(range(len(items)))
    order.insert(destination % len(items), order.pop(source % len(items)))
    return [items[i] for i in order]


def ome_pixels(ome_xml: str | None) -> dict[str, Any] | None:
    """The first image's voxel size, frame interval and channel names in OME-XML: ``{"PhysicalSizeX": 0.1,
    "PhysicalSizeXUnit": "µm", ..., "TimeIncrement": 2.0, "TimeIncrementUnit": "s", "Channel": {"Name": ["GFP", "RFP"]}}`` (tifffile's ``metadata``
    for an OME output), or ``None`` when it records none (or cannot be parsed)."""
    import xml.etree.ElementTree as ElementTree

    if not ome_xml:
        return None
    try:
        root = ElementTree.fromstring(ome_xml)
    except ElementTree.ParseError:
        return None
    pixels = next((element for element in root.iter() if element.tag.rsplit("}", 1)[-1] == "Pixels"), None)
    if pixels is None:
        return None
    sizes: dict[str, Any] = {}
    for key in OME_SIZES + OME_TIMING:
        try:
            value = float(pixels.attrib[key])
        except (KeyError, ValueError):
            continue
        sizes[key] = value
        if f"{key}Unit" in pixels.attrib:
            sizes[f"{key}Unit"] = pixels.attrib[f"{key}Unit"]
    channels = [element for element in pixels if element.tag.rsplit("}", 1)[-1] == "Channel"]
    if channels and all("Name" in channel.attrib for channel in channels):
        sizes["Channel"] = {"Name": [channel.attrib["Name"] for channel in channels]}
    return sizes or None
