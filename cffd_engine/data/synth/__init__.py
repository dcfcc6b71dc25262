"""Forgeries made from real faces: five manipulation families, the continual task sequence, videos, the demo.

No generative model is used anywhere: each family imitates what a public
forgery method leaves in the image (a blending boundary, another person's
inner face, a changed expression, a re-rendered mouth, two faces averaged),
from real photos.
"""

from cffd_engine.data.synth.base import Compression, Face, Family, Forgery
from cffd_engine.data.synth.builder import BuildSettings, TaskSequence, build_task_sequence
from cffd_engine.data.synth.demo import DemoVideos, ensure_demo_videos, make_demo_videos
from cffd_engine.data.synth.families import FAMILIES, FAMILY_NAMES, get_family
from cffd_engine.data.synth.pool import LandmarkCache
from cffd_engine.data.synth.videos import VideoForgery, manipulate_video

__all__ = [
    "FAMILIES",
    "FAMILY_NAMES",
    "BuildSettings",
    "Compression",
    "DemoVideos",
    "Face",
    "Family",
    "Forgery",
    "LandmarkCache",
    "TaskSequence",
    "VideoForgery",
    "build_task_sequence",
    "ensure_demo_videos",
    "get_family",
    "make_demo_videos",
    "manipulate_video",
]
