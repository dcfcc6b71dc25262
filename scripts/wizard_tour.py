"""Drive the "learn new forgery" wizard as an analyst would on a fresh install, saving every page as a PNG.

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python scripts/wizard_tour.py \
        --fake FORGED_VIDEOS --genuine GENUINE_VIDEOS --own-faces PHOTOS --out SHOTS

Run it with its own data and settings folders (XDG_DATA_HOME, XDG_CONFIG_HOME) for a fresh install: the
window installs the shipped default as v1, which carries no faces to rehearse. The tour first offers the
wizard ``--too-few`` (a folder too small to rebuild from, if given), then rebuilds from ``--own-faces``,
adds the examples, names the type, gathers the faces, sets ``--epochs``, trains, and accepts or
discards (``--discard``). Look at the pictures afterwards; the tour asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--fake", type=Path, required=True, help="videos or pictures of the new forgery")
    parser.add_argument("--genuine", type=Path, help="genuine examples (optional)")
    parser.add_argument(
        "--own-faces", type=Path, required=True, help="genuine faces to rebuild the memory from"
    )
    parser.add_argument(
        "--too-few", type=Path, help="a folder with too few faces, to see what the wizard says"
    )
    parser.add_argument("--name", default="morph")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--discard", action="store_true")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from app.main_window import MainWindow
    from cffd_engine.store import DEFAULT_BUNDLE

    app = QApplication(sys.argv[:1])
    window = MainWindow(default_bundle=DEFAULT_BUNDLE)
    window.resize(1400, 900)
    window.show()
    began = time.perf_counter()

    def spin(seconds: float) -> None:
        loop = QEventLoop()
        QTimer.singleShot(int(seconds * 1000), loop.quit)
        loop.exec()

    def wait(done, timeout_s: float, what: str) -> None:
        end = time.perf_counter() + timeout_s
        while not done():
            if time.perf_counter() > end:
                raise SystemExit(f"waited {timeout_s:.0f} s for {what}")
            spin(0.2)

    def shot(widget, name: str) -> None:
        spin(0.3)
        widget.grab().save(str(args.out / f"{name}.png"))
        print(f"{time.perf_counter() - began:7.1f} s  {name}.png", flush=True)

    wait(lambda: window.store.active_version() is not None, 120, "the default model")
    spin(2)
    shot(window, "00_window")
    wizard = window.open_learn_wizard()
    spin(1)
    shot(wizard, "01_intro")
    intro = wizard.intro_page
    if args.too_few is not None:
        intro.rebuild_from(args.too_few)
        wait(lambda: not intro.rebuilding, 900, "the rebuild from too few faces")
        shot(wizard, "02_intro_too_few")
    intro.rebuild_from(args.own_faces)
    spin(3)
    shot(wizard, "03_intro_rebuilding")
    wait(lambda: not intro.rebuilding, 1800, "the rebuild")
    shot(wizard, "04_intro_rebuilt")
    if not intro.isComplete():
        raise SystemExit("the rebuild did not make a model that can learn: see 04_intro_rebuilt.png")
    wizard.next()
    shot(wizard, "05_examples_empty")
    wizard.examples_page.fake_sources.add_paths([args.fake])
    if args.genuine is not None:
        wizard.examples_page.real_sources.add_paths([args.genuine])
    shot(wizard, "06_examples")
    wizard.next()
    wizard.name_page.name.setText(args.name)
    shot(wizard, "07_name")
    gathered = []
    wizard.faces_ready.connect(gathered.append)
    wizard.next()
    spin(2)
    shot(wizard, "08_faces_gathering")
    wait(lambda: gathered, 1800, "the faces")
    shot(wizard, "09_faces")
    wizard.next()
    shot(wizard, "10_settings")
    wizard.settings_page.show_advanced.setChecked(True)
    wizard.settings_page.epochs.setValue(args.epochs)
    shot(wizard, "11_settings_advanced")
    ended = []
    wizard.training_finished.connect(ended.append)
    wizard.training_failed.connect(ended.append)
    wizard.next()
    spin(20)
    shot(wizard, "12_training")
    wait(lambda: ended, 7200, "the update")
    spin(1)
    shot(wizard, "13_results")
    if args.discard:
        wizard.results_page.discard_update()
    else:
        wizard.results_page.accept_update()
    spin(5)  # the wizard closes itself once the choice is made
    shot(window, "14_window_after")
    print("versions:", window.store.versions(), "active:", window.store.active_version())
    app.quit()


if __name__ == "__main__":  # spawned worker processes import this file again
    main()
