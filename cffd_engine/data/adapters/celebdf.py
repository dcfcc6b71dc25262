"""Celeb-DF v2: Celeb-real, Celeb-synthesis and YouTube-real (or Youtube-real), and the official test list.

```
<root>/Celeb-real/id0_0000.mp4            (or <root>/Celeb-real/videos/id0_0000.mp4)
<root>/Celeb-synthesis/id0_id16_0000.mp4
<root>/YouTube-real/00000.mp4             (either spelling: YouTube-real, Youtube-real)
<root>/List_of_testing_videos.txt         lines "1 YouTube-real/00170.mp4": 1 = real, 0 = fake
```
Videos on the test list form the test split; the others are train, except a
``val_fraction`` of identities (hashed, the same everywhere) kept for validation.
"""

from __future__ import annotations

from pathlib import Path

from cffd_engine.data.adapters.common import check_root, hashed_split, videos_in
from cffd_engine.data.manifest import FAKE, REAL, DatasetLayoutError, Manifest, ManifestEntry

TEST_LIST = "List_of_testing_videos.txt"
FOLDERS = {"Celeb-real": REAL, "Celeb-synthesis": FAKE, "YouTube-real": REAL}
SPELLINGS = {"YouTube-real": ("YouTube-real", "Youtube-real", "youtube-real")}
FIX = (
    "Point to the Celeb-DF-v2 folder that holds Celeb-real, Celeb-synthesis, YouTube-real and "
    f"{TEST_LIST}, as the dataset's archive unpacks"
)


def _folder(root: Path, name: str) -> Path | None:
    for spelling in SPELLINGS.get(name, (name,)):
        for candidate in (root / spelling / "videos", root / spelling):
            if videos_in(candidate):
                return candidate
    return None


def _read_test_list(root: Path) -> dict[tuple[str, str], int]:
    """(folder in canonical spelling, file name) -> label in our convention (0 real, 1 fake)."""
    path = root / TEST_LIST
    if not path.is_file():
        raise DatasetLayoutError(root, [f"{TEST_LIST} (the official test split)"], FIX)
    listed = {}
    canonical = {s.lower(): name for name, spellings in SPELLINGS.items() for s in spellings}
    canonical.update({name.lower(): name for name in FOLDERS})
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DatasetLayoutError(
            root, [f"{TEST_LIST} as UTF-8 text ({exc})"], "Use the official list from the Celeb-DF v2 archive"
        ) from exc
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        relative = Path(parts[-1])
        if len(parts) != 2 or parts[0] not in ("0", "1") or len(relative.parts) < 2:
            raise DatasetLayoutError(
                root,
                [
                    f"{TEST_LIST} line {number}: expected '<1 real | 0 fake> <folder>/<file>', got {line.strip()!r}"
                ],
                "Use the official list from the Celeb-DF v2 archive",
            )
        folder = canonical.get(relative.parts[0].lower(), relative.parts[0])
        label = REAL if parts[0] == "1" else FAKE  # Celeb-DF's list says 1 for real
        if folder in FOLDERS and FOLDERS[folder] != label:
            raise DatasetLayoutError(
                root,
                [f"{TEST_LIST} line {number}: label {parts[0]} contradicts folder {relative.parts[0]}"],
                "The list's convention is 1 = real, 0 = fake; use the official list from the archive",
            )
        listed[(folder, relative.name)] = label
    return listed


def _identity(video: Path) -> str:
    return video.stem.split("_")[0]


def load_celebdf(root: Path | str, val_fraction: float = 0.1) -> Manifest:
    """Celeb-DF v2 with its official test list; raises DatasetLayoutError naming missing folders or the list."""
    root = check_root(root, FIX)
    folders = {name: _folder(root, name) for name in FOLDERS}
    missing = [
        f"{' or '.join(SPELLINGS.get(name, (name,))[:2])}/ with videos"
        for name, found in folders.items()
        if not found
    ]
    if not (root / TEST_LIST).is_file():
        missing.append(f"{TEST_LIST} (the official test split)")
    if missing:
        raise DatasetLayoutError(root, missing, FIX)
    listed = _read_test_list(root)
    manifest = Manifest()
    present = set()
    for name, folder in folders.items():
        method = "real" if FOLDERS[name] == REAL else "Celeb-synthesis"
        for video in videos_in(folder):
            key = (name, video.name)
            present.add(key)
            if key in listed:
                split = "test"
            else:
                split = hashed_split(f"celeb-df-{name}-{_identity(video)}", val_fraction)
            manifest.entries.append(
                ManifestEntry(str(video), FOLDERS[name], split, method, "celeb-df-v2", None, video.stem)
            )
    absent = [key for key in listed if key not in present]
    if absent:
        manifest.notes.append(
            f"{len(absent)} video(s) of {TEST_LIST} are not on disk, e.g. {absent[0][0]}/{absent[0][1]}"
        )
    return manifest
