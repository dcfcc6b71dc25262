"""The "learn new forgery" wizard."""

from app.wizard.wizard import LearnWizard

__all__ = ["LearnWizard"]
