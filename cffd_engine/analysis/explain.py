"""Why a face was judged as it was: Grad-CAM on the spatial branch, drawn on the crop and on the frame.

``Explainer`` holds its own copy of the model (hooks never touch the instance
that runs batched inference, nor any trainer's) and one Grad-CAM object for
all the faces it explains. Heatmaps answer "which pixels pushed the score
towards fake" at the chosen level of the spatial backbone (level 3, stride 16,
by default the deepest level whose map has at least 8 cells a side, as
``model.backbones.cam_level_for`` picks it: a coarser map cannot say where in
the face the evidence lies).
"""

from __future__ import annotations

import copy

import cv2
import numpy as np
import torch

from cffd_engine.media.crops import CropGeometry
from cffd_engine.media.video import jpeg_picture
from cffd_engine.model import FAKE, RSIANet
from cffd_engine.model.backbones import LEVEL_STRIDES, cam_level_for

HEATMAP_GRID = 16
MAX_FRAME_SIDE = 960
PEAK_SHARE = 0.05


def to_tensor(crops: np.ndarray) -> torch.Tensor:
    """(N, S, S, 3) RGB uint8 -> (N, 3, S, S) float in [0, 1] (the model's input contract)."""
    return torch.from_numpy(np.ascontiguousarray(crops)).permute(0, 3, 1, 2).float().div_(255.0)


def default_cam_level(model: RSIANet) -> int:
    """The deepest spatial level (1..4) whose feature map is fine enough at the input size (``cam_level_for``)."""
    return cam_level_for(model.config.input_size)


def level_module(model: RSIANet, level: int) -> tuple[str, torch.nn.Module]:
    """(name, module) of the spatial backbone's layer that outputs pyramid level ``level`` (1..4)."""
    info = model.spatial_backbone.body.feature_info
    stride = LEVEL_STRIDES[level - 1]
    index = max(i for i, reduction in enumerate(info.reduction()) if reduction == stride)
    name = info.module_name()[index]
    body = model.spatial_backbone.body
    try:
        return name, body.get_submodule(name)
    except AttributeError:  # timm's FeatureListNet flattens "blocks.1" to "blocks_1"
        return name, body.get_submodule(name.replace(".", "_"))


class Explainer:
    """Grad-CAM heatmaps for P(fake) of one model; make one per model and reuse it for every face.

    The target is the spatial backbone's output at pyramid ``level`` (what the analysis shows), or,
    with ``fused=True``, the RSIA output at that level: the fused photo-and-band features FAF weighs
    (measured as an alternative, ``analysis/heatmap_check.py``).
    """

    def __init__(
        self,
        model: RSIANet,
        level: int | None = None,
        device: torch.device | str = "cpu",
        fused: bool = False,
    ):
        level = level or default_cam_level(model)
        self.model = copy.deepcopy(model).float().to(device).eval()
        # Frozen weights: the gradient Grad-CAM needs flows from the input, not into the parameters.
        for parameter in self.model.parameters():
            parameter.requires_grad_(False)
        if fused:
            name, layer = f"rsia.{level - 1}", self.model.rsia[level - 1]
        else:
            name, layer = level_module(self.model, level)
            name = f"spatial_backbone.{name}"
        self.level = level
        self.layer_name = f"{name} (level {level}, stride {LEVEL_STRIDES[level - 1]})"
        self.device = torch.device(device)
        self._layer = layer

    def heatmaps(self, crops: np.ndarray, batch_size: int = 8) -> np.ndarray:
        """(N, S, S) float32 in [0, 1]: where each crop's evidence for "fake" lies (each map scaled to its max)."""
        out = [
            self._grad_cam(to_tensor(crops[start : start + batch_size]).to(self.device))
            for start in range(0, len(crops), batch_size)
        ]
        if not out:
            return np.zeros((0, *crops.shape[1:3]), np.float32)
        return np.concatenate(out)

    def _grad_cam(self, batch: torch.Tensor) -> np.ndarray:
        """Grad-CAM (Selvaraju et al. 2017) of the "fake" logit at the target layer, as pytorch-grad-cam's
        ``GradCAM`` computes it: channel weights are the gradients' spatial means; the weighted sum of the
        activations, rectified, is scaled to [0, 1], resized to the crop (bilinear) and scaled again.

        Written here rather than imported: that package loads scikit-learn and matplotlib (280 MB of memory
        and a second of start-up) for these few lines.
        """
        captured: list[torch.Tensor] = []
        hook = self._layer.register_forward_hook(lambda _module, _inputs, output: captured.append(output))
        try:
            with torch.enable_grad():
                logits = self.model(batch.requires_grad_(True)).logits
                (gradients,) = torch.autograd.grad(logits[:, FAKE].sum(), captured[0])
        finally:
            hook.remove()
        activations = captured[0].detach()
        weights = gradients.mean(dim=(2, 3), keepdim=True)
        cams = torch.relu((weights * activations).sum(dim=1)).cpu().numpy().astype(np.float32)
        size = (batch.shape[3], batch.shape[2])
        return np.stack([_scaled(cv2.resize(_scaled(cam), size)) for cam in cams])

    def close(self) -> None:
        """Nothing to release: the hook lives only while a batch is explained."""

    def __enter__(self) -> Explainer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _scaled(cam: np.ndarray) -> np.ndarray:
    cam = cam - cam.min()
    return cam / (1e-7 + cam.max())


def coarse_grid(heatmap: np.ndarray, grid: int = HEATMAP_GRID) -> list[list[float]]:
    """The heatmap averaged down to ``grid`` x ``grid`` cells, rounded: what the JSON keeps."""
    small = cv2.resize(heatmap.astype(np.float32), (grid, grid), interpolation=cv2.INTER_AREA)
    return np.round(small, 3).tolist()


def peak_on_frame(heatmap: np.ndarray, geometry: CropGeometry) -> tuple[float, float]:
    """The (x, y) frame pixel the heatmap points at: the centre of its hottest ``PEAK_SHARE`` of pixels.

    A Grad-CAM map is a few cells upsampled; its single hottest pixel is an
    artefact of the interpolation, the centre of its hottest region is not.
    """
    top = heatmap >= np.quantile(heatmap, 1.0 - PEAK_SHARE)
    ys, xs = np.nonzero(top)
    point = geometry.to_frame(np.array([[xs.mean(), ys.mean()]]))[0]
    return float(point[0]), float(point[1])


def box_contains(box: list[float] | tuple[float, ...], point: tuple[float, float]) -> bool:
    x, y, w, h = box
    return x <= point[0] <= x + w and y <= point[1] <= y + h


def encode_png(rgb: np.ndarray) -> bytes:
    # zlib level 1: several times faster than 6 on these pictures, for files about a fifth larger.
    ok, data = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return data.tobytes()


def _heat_colours(heat: np.ndarray) -> np.ndarray:
    coloured = cv2.applyColorMap(np.clip(heat * 255, 0, 255).astype(np.uint8), cv2.COLORMAP_JET)
    return cv2.cvtColor(coloured, cv2.COLOR_BGR2RGB).astype(np.float32)


def blend_heat(rgb: np.ndarray, heat: np.ndarray, strength: float = 0.55) -> np.ndarray:
    """``rgb`` with the heatmap laid over it, opaque where the heat is high and clear where it is 0."""
    alpha = (strength * np.clip(heat, 0, 1))[..., None]
    return np.clip(rgb * (1 - alpha) + _heat_colours(heat) * alpha, 0, 255).astype(np.uint8)


def frame_picture(rgb: np.ndarray) -> bytes:
    """A frame as the report pictures it, kept small while the video streams past: the longer side at most
    ``MAX_FRAME_SIDE``, JPEG at quality 95 (a picture of the scene; the model judged the original pixels)."""
    return jpeg_picture(rgb, MAX_FRAME_SIDE, 95)


def decode_picture(data: bytes) -> np.ndarray:
    return cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def frame_overlay(
    frame: np.ndarray,
    heatmap: np.ndarray,
    geometry: CropGeometry,
    box: list[float],
    label: str,
    colour: tuple[int, int, int] = (0, 255, 255),
) -> np.ndarray:
    """The whole frame with the heatmap mapped back through the crop geometry, the face box and a label.

    ``frame`` is the frame or a reduced copy of it (``frame_picture``); the picture's longer side is
    at most ``MAX_FRAME_SIDE``: a picture for the report.
    """
    heat = geometry.heatmap_to_frame(heatmap)
    full_width, full_height = geometry.frame_size
    scale = min(1.0, MAX_FRAME_SIDE / max(frame.shape[:2])) * frame.shape[1] / full_width
    size = (round(full_width * scale), round(full_height * scale))
    if (frame.shape[1], frame.shape[0]) != size:
        frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
    if scale != 1.0:
        heat = cv2.resize(heat, size, interpolation=cv2.INTER_AREA)
    image = blend_heat(frame, heat)
    x, y, w, h = (v * scale for v in box)
    thickness = max(2, round(max(image.shape[:2]) / 320))
    cv2.rectangle(image, (round(x), round(y)), (round(x + w), round(y + h)), colour, thickness)
    font_scale = max(0.5, max(image.shape[:2]) / 1200)
    (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, font_scale, thickness)
    ty = round(y) - 6 if y - th - base - 6 > 0 else round(y + h) + th + 6
    tx = int(np.clip(round(x), 0, max(0, image.shape[1] - tw)))
    cv2.rectangle(image, (tx, ty - th - base), (tx + tw, ty + base), (0, 0, 0), -1)
    cv2.putText(image, label, (tx, ty), cv2.FONT_HERSHEY_SIMPLEX, font_scale, colour, thickness, cv2.LINE_AA)
    return image


def crop_overlay(crop: np.ndarray, heatmap: np.ndarray, size: int = 256) -> np.ndarray:
    """The face crop with its heatmap, enlarged to ``size`` pixels for print."""
    image = blend_heat(crop, heatmap)
    return cv2.resize(image, (size, size), interpolation=cv2.INTER_CUBIC)


def spectrum_picture(log_magnitude: np.ndarray, size: int = 256) -> np.ndarray:
    """The 2-D log-magnitude spectrum as a colour picture (viridis), DC in the middle, enlarged for print."""
    low, high = np.percentile(log_magnitude, [1, 99.9])
    scaled = np.clip((log_magnitude - low) / max(high - low, 1e-6), 0, 1)
    coloured = cv2.applyColorMap((scaled * 255).astype(np.uint8), cv2.COLORMAP_VIRIDIS)
    coloured = cv2.resize(coloured, (size, size), interpolation=cv2.INTER_NEAREST)
    return cv2.cvtColor(coloured, cv2.COLOR_BGR2RGB)
