"""Where the time of one restore goes: weight generation, intensity conversion, tiling, the network.

One gray uint16 plane (default 2048×2048, skimage's camera tiled and noised at σ 25),
restored by ``denoise.lite`` on the CPU. Each stage is timed alone (median of ``--repeat``):

- **generate**: ``Restorer.network_for`` at a level never seen before (k = c·w + b);
- **to unit / back**: the intensity map (uint16 → float32 [0, 1] → uint16);
- **network, whole plane**: the generated network on the plane as one tensor (3 channels);
- **network, tiled**: the engine's tiles (512, overlap = receptive field) on the same plane;
- **engine restore**: ``Restorer.restore`` end to end (tiled), the sum of the above in practice.

    python benchmarks/bench_profile.py [--quick] [--size 2048] [--repeat 3]
"""

from __future__ import annotations

import common
import numpy as np


def main() -> None:
    parser = common.base_parser(__doc__, "bench_profile")
    parser.add_argument("--size", type=int, default=None, help="plane edge (default 2048; 256 with --quick)")
    parser.add_argument("--repeat", type=int, default=None, help="timed repeats per stage (default 3; 1 with --quick)")
    args = parser.parse_args()
    common.setup_threads(args.threads)
    import torch
    from skimage import data

    from napari_hyperres.core.intensity import intensity_map_for
    from napari_hyperres.engine import DEFAULT_TILE, Restorer

    size = args.size or (256 if args.quick else 2048)
    repeat = args.repeat or (1 if args.quick else 3)
    weights = common.require_weights(["denoise.lite"], args.weights_dir)["denoise.lite"]
    camera = np.tile(data.camera().astype(np.float32) / 255.0, (size // 512 + 1, size // 512 + 1))[:size, :size]
    noisy = common.add_noise(camera, 25.0, seed=0)
    plane = np.clip(np.rint(np.clip(noisy, 0, 1) * 65535), 0, 65535).astype(np.uint16)

    restorer = Restorer("denoise", weights=str(weights), device=args.device)
    levels = iter(np.linspace(5.0, 95.0, 200))
    generate = common.timed(lambda: restorer.network_for(float(next(levels))), repeat)
    mapping = intensity_map_for(plane)
    unit = mapping.to_unit(plane)
    to_unit = common.timed(lambda: mapping.to_unit(plane), repeat)
    back = common.timed(lambda: mapping.from_unit(unit), repeat)
    net = restorer.network_for(25.0)
    x = torch.from_numpy(unit)[None, None].expand(-1, 3, -1, -1).contiguous()

    def whole() -> None:
        with torch.inference_mode():
            net(x)

    def tiled() -> None:
        for _ in restorer._run_tiles(net, torch.from_numpy(unit)[None, None], DEFAULT_TILE):
            pass

    whole_s = common.timed(whole, repeat)
    tiled_s = common.timed(tiled, repeat)
    total = common.timed(lambda: restorer.restore(plane, 25.0, tile=DEFAULT_TILE), repeat)

    report = common.Report(
        "Profile: where one restore's time goes",
        f"denoise.lite on one {size}×{size} uint16 plane (gray, widened to the RGB network per tile), "
        f"device {args.device}, median of {repeat}.",
        device=args.device,
    )
    rows = []
    end_to_end = common.median(total)
    for name, times in [
        ("generate the level's network (new level)", generate),
        ("intensity: uint16 → float [0, 1]", to_unit),
        ("intensity: float → uint16", back),
        ("network, whole plane as one tensor", whole_s),
        (f"network, {DEFAULT_TILE}² tiles with overlap {restorer.overlap}", tiled_s),
        ("engine restore end to end (tiled)", total),
    ]:
        seconds = common.median(times)
        rows.append([name, f"{seconds * 1000:.1f}", f"{100 * seconds / end_to_end:.1f} %"])
    report.table(["stage", "ms", "share of end to end"], rows)
    report.notes([
        f"Tiling overhead: tiled network / whole-plane network = {common.median(tiled_s) / common.median(whole_s):.2f}× "
        f"(the overlap recomputes a border of {restorer.overlap} px around every tile).",
        f"Weights: {common.weights_description(weights)}.",
    ])
    report.emit(args)


if __name__ == "__main__":
    main()
