"""Errors a user can cause. The CLI prints them as one line and exits non-zero; tracebacks only with --debug."""

from __future__ import annotations


class SeambenchError(Exception):
    """A mistake the user can fix: the message names the thing and the fix."""


class SpecError(SeambenchError):
    """A component spec string that does not parse, names an unknown component or a bad option."""


class ProtocolError(SeambenchError):
    """The held-out protocol cannot be applied to this data (unknown setting, empty test set, ...)."""


class LeakageError(SeambenchError):
    """An image meant for testing (or a held-out / FAIL image) reached a training set."""


class PluginError(SeambenchError):
    """Two plugins register the same component, or a plugin registers something malformed."""


class WeightsUnavailable(SeambenchError):
    """A backbone's weights cannot be had here: its cells become `skipped` with this message."""
