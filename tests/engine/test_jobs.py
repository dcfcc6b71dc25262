"""Progress as typed events: a step's words for a listener that shows words, its object for one that draws it."""

from __future__ import annotations

import pytest
import torch

from cffd_engine.continual import Progress, Trainer, TrainSettings, build_strategy
from cffd_engine.jobs import Cancelled, JobControl
from cffd_engine.model import RSIANet
from cffd_engine.model.device import cpu_threads
from tests.engine.continual_fixtures import make_task, tiny_config


def test_a_listener_of_words_gets_the_words_of_a_report_with_an_event():
    heard = []
    JobControl(lambda fraction, message: heard.append((fraction, message))).report(
        0.5, "step 1", event=object()
    )
    assert heard == [(0.5, "step 1")]


def test_with_events_a_typed_step_goes_to_its_listener_and_words_go_on_as_before():
    words, events = [], []
    job = JobControl(lambda fraction, message: words.append((fraction, message)), min_step=0.0)
    viewed = job.with_events(lambda fraction, event: events.append((fraction, event)))
    step = object()
    half = viewed.sub(0.5, 1.0)  # sub-jobs of it keep the routing, and map the fraction
    half.report(0.5, "epoch 1/2", event=step)
    half.report(1.0, "writing the candidate model")
    assert events == [(0.75, step)]
    assert words == [(1.0, "writing the candidate model")]
    job.cancel()  # and share the cancel flag
    with pytest.raises(Cancelled):
        half.check()


def test_every_training_step_is_reported_as_its_progress():
    words, steps = [], []
    job = JobControl(lambda fraction, message: words.append(message), min_step=0.0)
    viewed = job.with_events(lambda fraction, progress: steps.append((fraction, progress)))
    torch.manual_seed(0)
    with cpu_threads(1):
        Trainer(TrainSettings(device="cpu", epochs=2, batch_size=8), job=viewed).fit(
            RSIANet(tiny_config()), build_strategy("ft"), make_task("a", 16), 0
        )
    assert steps and all(isinstance(progress, Progress) for _, progress in steps)
    assert [(p.epoch, p.step) for _, p in steps] == [(e, s) for e in (1, 2) for s in (1, 2)]
    assert [fraction for fraction, _ in steps] == [p.fraction for _, p in steps]
    assert not any("epoch" in message for message in words)  # no step reached the words listener
