"""TensorBoard logs, read and written without TensorFlow or a TensorBoard server.

:func:`read_scalars` and :func:`read_hparams` read a whole folder once;
:class:`LogReader` follows it, each poll reading only what was appended.
"""

from .reader import LogReader, Poll, read_hparams, read_scalars
from .writer import write_hparams, write_scalars

__all__ = ["LogReader", "Poll", "read_scalars", "read_hparams", "write_scalars", "write_hparams"]
