"""Exceptions whose message is meant for the user: they name the file and the problem."""


class MolError(Exception):
    """Base class: a problem with the user's input or configuration, not a bug."""


class DataError(MolError):
    """A dataset file or folder is missing, unreadable or inconsistent."""


class NoFaceError(DataError):
    """No face was found in a video; the video is skipped, the run goes on."""


class ConfigError(MolError, ValueError):
    """A setting, option or the workflow's configuration is wrong: an unknown name or a value
    outside what it allows; the message names the key (``experiments.x.init``). A ValueError
    too, as the checks of plain Python code raise."""


class CheckpointError(MolError):
    """A checkpoint file is missing, unreadable, of another version, or its weights do not
    fit the model its options describe."""
