"""The errors fmnist_edu raises for user mistakes and bad input.

Every error a user can cause (a missing folder, a corrupt file, an impossible model
configuration) is one of these, with a message that names the file or field and says
what is wrong. The command line prints the message on one line and exits with 1.
"""

from __future__ import annotations


class FmnistEduError(Exception):
    """Base class: a problem the user can fix, explained in the message."""


class DataError(FmnistEduError):
    """The dataset files are missing, incomplete or malformed."""


class DownloadError(FmnistEduError):
    """The official release could not be fetched or failed its checksum."""


class ConfigError(FmnistEduError, ValueError):
    """A model or experiment setting is out of range or inconsistent."""


class StoreError(FmnistEduError):
    """The results store cannot be created or written."""
