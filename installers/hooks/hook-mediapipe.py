"""mediapipe 1.x: the Tasks C library (loaded by ctypes from ``mediapipe/tasks/c``) and any data files.

pyinstaller-hooks-contrib has no hook for it, so PyInstaller would miss the library (it is
found through importlib.resources, not imported) and the import of ``sounddevice`` that only
the audio recorder makes is left out (it would bring PortAudio).
"""

from PyInstaller.utils.hooks import collect_data_files, collect_dynamic_libs

binaries = collect_dynamic_libs("mediapipe")
datas = collect_data_files("mediapipe", excludes=["**/test/**", "**/testdata/**"])
hiddenimports = ["mediapipe.tasks.c"]
excludedimports = ["sounddevice", "mediapipe.tasks.python.test"]
