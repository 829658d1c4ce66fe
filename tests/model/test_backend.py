"""model.runtime.backend: Keras is imported once, and no thread is handed it half made."""

from __future__ import annotations

from tests.helpers import run_python

#: A second thread asks for Keras while the first is importing it (seconds): the moment
#: "keras" and "tensorflow" are both in sys.modules, half made.
RACE = """
import sys, threading, time
from model.runtime.backend import import_keras
first = threading.Thread(target=import_keras)
first.start()
while not ("keras" in sys.modules and "tensorflow" in sys.modules):
    time.sleep(0.0005)
keras = import_keras()
print("saving" if hasattr(keras, "saving") else "half made")
first.join()
"""


def test_a_thread_asking_for_keras_during_its_import_waits_for_it_whole():
    """The app's warm-up thread imported Keras while the Upload page asked for its first
    map: "partially initialized module 'keras' has no attribute 'saving'" (a user test)."""
    done = run_python(RACE, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["saving"], done.stdout
