"""The Keras callback of a training session: it turns logs into records, nothing more."""

from __future__ import annotations


def make_callback(session):
    """A ``keras.callbacks.Callback`` that feeds ``session`` (Keras imported lazily)."""
    import keras

    class SessionCallback(keras.callbacks.Callback):
        """Turns Keras logs into :class:`~nnwidgets.training.TrainingSession` records."""

        def on_train_begin(self, logs=None):
            session.begin(self.params, self.model)

        def on_epoch_begin(self, epoch, logs=None):
            session.begin_epoch(epoch)

        def on_train_batch_end(self, batch, logs=None):
            session.record_batch(batch, logs or {})

        def on_epoch_end(self, epoch, logs=None):
            session.record_epoch(epoch, logs or {})

        def on_train_end(self, logs=None):
            session.end()

    return SessionCallback()
