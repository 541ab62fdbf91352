"""Re-create docs/screenshot.png: the Restore widget on a sample image, input and preview side by side.

Needs a display with OpenGL; on a headless Linux machine run it under Xvfb:

    apt-get install -y xvfb libxcb-cursor0        # Debian/Ubuntu, once
    xvfb-run -a -s "-screen 0 1600x1000x24" python docs/make_screenshot.py
    xvfb-run -a -s "-screen 0 1600x1000x24" python docs/make_screenshot.py --weights denoise.lite

(``QT_QPA_PLATFORM=offscreen`` does not work here: Qt's offscreen platform has no
OpenGL, so napari's canvas cannot draw.) Without shipped or given weights the script
uses a randomly initialised network, whose "restoration" is close to the input:
re-take the screenshot once trained weights ship.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def weights_for(task_name: str, given: str | None, folder: Path) -> tuple[str, bool]:
    """``(weights, trained)``: the given/shipped weights, else random lite weights (placeholder)."""
    import torch

    from napari_hyperres.core.models.hyperres import HyperResNet, architecture_for
    from napari_hyperres.core.plugins import get_task
    from napari_hyperres.core.weights import WeightsInfo, resolve_weights, save_weights
    from napari_hyperres.errors import WeightsError

    task = get_task(task_name)
    for name in (given, task.weights):
        if name:
            try:
                return str(resolve_weights(name)), True
            except WeightsError:
                if name == given:
                    raise
    torch.manual_seed(0)
    model = HyperResNet(architecture_for("lite", task.in_channels))
    info = WeightsInfo(name=f"{task_name}.untrained", task=task_name, architecture=model.arch.to_dict(), preset="lite")
    return str(save_weights(folder / f"{task_name}.untrained.safetensors", model.state_dict(), info)), False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", default="noisy_nuclei", help="napari-hyperres sample key")
    parser.add_argument("--weights", default=None, help="weights for the sample's task (default: shipped, else untrained)")
    parser.add_argument("--out", type=Path, default=HERE / "screenshot.png")
    parser.add_argument("--size", default="1400x820", help="window size WxH")
    args = parser.parse_args()

    import napari
    from qtpy.QtWidgets import QApplication

    from napari_hyperres.ui.widget import PREVIEW_KEY

    viewer = napari.Viewer(title="napari-hyperres", show=True)
    width, height = (int(v) for v in args.size.split("x"))
    viewer.window.resize(width, height)
    viewer.open_sample("napari-hyperres", args.sample)
    source = viewer.layers[-1]
    task_name = source.metadata["degradation"]["task"]
    _dock, widget = viewer.window.add_plugin_dock_widget("napari-hyperres", "Restore")

    with tempfile.TemporaryDirectory() as tmp:
        weights, trained = weights_for(task_name, args.weights, Path(tmp))
        widget.layer_combo.value = source  # presets task and level from the sample's metadata
        widget.weights_file.value = weights
        widget.preview()
        deadline = time.time() + 300
        while time.time() < deadline:
            QApplication.processEvents()
            previews = [layer for layer in viewer.layers if PREVIEW_KEY in layer.metadata]
            if previews and not widget._preview_queue.running:
                break
            time.sleep(0.02)
        else:
            raise TimeoutError(f"no preview after 300 s: {widget.status.value}")
        grid = viewer.canvas.grid if hasattr(viewer, "canvas") else viewer.grid  # napari ≥ 0.9 moved it; we allow ≥ 0.5
        grid.enabled = True
        grid.shape = (1, 2)
        viewer.layers.selection.active = source
        viewer.reset_view()
        for _ in range(20):
            QApplication.processEvents()
            time.sleep(0.05)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        viewer.screenshot(str(args.out), canvas_only=False)
        widget.close()
    viewer.close()
    note = "" if trained else " (UNTRAINED placeholder network: re-take once trained weights ship)"
    print(f"wrote {args.out}{note}")


if __name__ == "__main__":
    main()
