"""Exceptions whose message is meant for the user: they name the file and the problem."""


class MolError(Exception):
    """Base class: a problem with the user's input or configuration, not a bug."""


class DataError(MolError):
    """A dataset file or folder is missing, unreadable or inconsistent."""


class NoFaceError(DataError):
    """No face was found in a video; the video is skipped, the run goes on."""


class ConfigError(MolError, ValueError):
    """The workflow's configuration is wrong; the message names the key (``experiments.x.init``)."""
