"""Pack a built task sequence and the ImageNet backbone weights small enough to travel to a lent GPU.

A lent GPU machine gets the repository and at most 64 MiB in all, and has no mediapipe or PyAV
to build a sequence itself. This writes, under OUT:

    sequence.json                          the tasks and counts (read by load_synthetic_sequence)
    <task>/crops/<split>/{real,fake}/*.jpg the crops at the model's size, JPEG quality 92
    imagenet-<model>.safetensors           the backbone's ImageNet weights in float16, without the classifier

The crops are the sequence's own (already degraded like video); the extra JPEG pass is
applied to the genuine and the manipulated crop alike. File stems keep the pair key
(``blend-00001-<hash>``), so pair_by_source batches each photo with its forgery.

    python scripts/gpu_pack.py --sequence SEQ --size 128 --model tf_efficientnet_lite0 --out .gpu
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2


def pack_sequence(sequence: Path, size: int, out: Path) -> dict:
    from cffd_engine.continual.protocols import load_synthetic_sequence
    from cffd_engine.continual.samples import REAL

    tasks = load_synthetic_sequence(sequence, size)
    counts: dict[str, dict[str, int]] = {}
    for task in tasks:
        counts[task.name] = {}
        for split in ("train", "val", "test"):
            samples = getattr(task, split)
            for image, label, sample_id in zip(samples.images, samples.labels, samples.ids, strict=True):
                kind = "real" if int(label) == REAL else "fake"
                folder = out / task.name / "crops" / split / kind
                folder.mkdir(parents=True, exist_ok=True)
                rgb = image.permute(1, 2, 0).numpy()
                stem = sample_id.split("#", 1)[0]
                ok, data = cv2.imencode(
                    ".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92]
                )
                if not ok:
                    raise RuntimeError(f"cannot encode {stem}")
                (folder / f"{stem}.jpg").write_bytes(data.tobytes())
            counts[task.name][split] = len(samples)
    description = {"tasks": [t.name for t in tasks], "counts": counts, "packed_from": str(sequence.resolve())}
    (out / "sequence.json").write_text(json.dumps(description, indent=2), encoding="utf-8")
    return description


def pack_weights(model_name: str, out: Path) -> Path:
    import safetensors.torch
    import timm
    import torch

    from cffd_engine.backbone_weights import imagenet_state_dict

    with torch.device("meta"):
        wanted = set(timm.create_model(model_name, features_only=True).state_dict())
    state = {
        k: (v.half() if v.is_floating_point() else v).contiguous()
        for k, v in imagenet_state_dict(model_name).items()
        if k in wanted
    }
    path = out / f"imagenet-{model_name}.safetensors"
    safetensors.torch.save_file(state, path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sequence", type=Path, required=True)
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--model", default="tf_efficientnet_lite0")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    description = pack_sequence(args.sequence, args.size, args.out / "seq")
    print(json.dumps(description["counts"]))
    print(pack_weights(args.model, args.out))


if __name__ == "__main__":
    main()
