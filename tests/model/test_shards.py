"""A batch cut into shards run at once on the single-threaded session (`OnnxRuntime._run`)
answers exactly as the batch run whole, and is cut only where a shard is worth a thread."""

import numpy as np
import pytest

from model import load_classifier
from model.runtime.artifacts import WEIGHTS_DIR
from model.runtime.runtimes import PIECE_MIN, SHARD_MIN_MS, THREADS_ENV, OnnxRuntime


def batch(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, 28, 28, 1), np.float32)


@pytest.mark.parametrize("file", ["mnist-cnn.onnx", "mnist-cnn.int8.onnx", "mnist-mlp.onnx"])
@pytest.mark.parametrize("n", [5, 33, 64])
def test_shards_answer_as_one_call(file, n):
    x = batch(n)
    rt = OnnxRuntime(WEIGHTS_DIR / file, threads=3)
    whole = rt(x)  # the first batch: one call, timed
    assert rt.shard_count(id(rt._small), n) >= 1
    rt._cost[id(rt._small)] = 10 * SHARD_MIN_MS  # every input worth a shard of its own
    assert rt.shard_count(id(rt._small), n) == 3
    np.testing.assert_array_equal(rt(x), whole)


def test_the_fused_graph_answers_both_outputs_in_shards(monkeypatch):
    monkeypatch.setenv(THREADS_ENV, "3")
    clf = load_classifier("mnist-cnn", runtime="onnx")
    rt = clf.runtime
    assert clf.fused
    x = batch(40, seed=1)
    probs, logodds = (a.copy() for a in rt.predict_and_detect(x))
    small = id(rt._fused[0])
    rt._cost[small] = 10 * SHARD_MIN_MS
    assert rt.shard_count(small, len(x)) == 3
    got_probs, got_logodds = rt.predict_and_detect(x)
    np.testing.assert_array_equal(got_probs, probs)
    np.testing.assert_array_equal(got_logodds, logodds)


def test_a_batch_is_cut_only_where_each_shard_is_worth_a_thread():
    rt = OnnxRuntime(WEIGHTS_DIR / "mnist-mlp.onnx", threads=4)
    key = id(rt._small)
    assert rt.shard_count(key, 1000) == 1  # nothing measured yet
    rt._cost[key] = SHARD_MIN_MS / 100  # a tiny model: 100 inputs make a shard
    assert [rt.shard_count(key, n) for n in (50, 150, 250, 1000)] == [1, 1, 2, 4]
    many = OnnxRuntime(WEIGHTS_DIR / "mnist-cnn.onnx", threads=8)
    many._cost[id(many._small)] = 10 * SHARD_MIN_MS  # a large model: one input a shard
    assert many.shard_count(id(many._small), 5) == 5  # never an empty shard
    x = batch(5)
    np.testing.assert_array_equal(many(x), many._small.run(None, {many._input: x})[0])
    one = OnnxRuntime(WEIGHTS_DIR / "mnist-mlp.onnx", threads=1)
    one._cost[id(one._small)] = SHARD_MIN_MS
    assert one.shard_count(id(one._small), 1000) == 1  # one thread: never cut


def _sharded_in_child(rt: OnnxRuntime, x: np.ndarray, queue) -> None:
    queue.put(rt(x))


def test_a_forked_process_starts_shard_threads_of_its_own():
    """A process forked after batches were cut has the runtime but not its threads: it
    starts its own instead of queueing work for threads that are not there (a hang)."""
    import multiprocessing as mp

    rt = OnnxRuntime(WEIGHTS_DIR / "mnist-cnn.onnx", threads=2)
    x = batch(16)
    whole = rt(x)
    rt._cost[id(rt._small)] = 10 * SHARD_MIN_MS
    np.testing.assert_array_equal(rt(x), whole)  # the parent's shard thread now exists
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_sharded_in_child, args=(rt, x, queue))
    child.start()
    child.join(timeout=60)
    hung = child.is_alive()
    if hung:
        child.kill()
    assert not hung, "the forked process waited for shard threads it does not have"
    np.testing.assert_array_equal(queue.get(timeout=5), whole)


class CountingSession:
    """A session that records the batch size of every call it answers."""

    def __init__(self, session) -> None:
        self.session, self.sizes = session, []

    def run(self, names, feeds):
        (x,) = feeds.values()
        self.sizes.append(len(x))
        return self.session.run(names, feeds)


@pytest.mark.parametrize("threads", [1, 2])
def test_a_large_batch_is_read_in_pieces_that_answer_as_one_call(threads):
    """Within a shard a batch is read a few inputs a call (`piece_size`): a whole batch's
    tensors outgrow the cache. Bit for bit what one call gives, one thread or two."""
    rt = OnnxRuntime(WEIGHTS_DIR / "mnist-cnn.onnx", threads=threads)
    x = batch(100, seed=2)
    whole = rt(x)  # the first batch: one call, timed
    counted = CountingSession(rt._small)
    rt._small = counted
    rt._cost[id(counted)] = SHARD_MIN_MS / 10  # 10 inputs are worth a call
    assert rt.piece_size(SHARD_MIN_MS / 10) == 10
    np.testing.assert_array_equal(rt(x), whole)
    assert sorted(counted.sizes) == [10] * 10, counted.sizes
    assert rt.piece_size(SHARD_MIN_MS) == PIECE_MIN  # never fewer than PIECE_MIN a call


def test_a_tiny_models_small_batch_stays_one_call():
    rt = OnnxRuntime(WEIGHTS_DIR / "mnist-mlp.onnx", threads=1)
    x = batch(100, seed=3)
    whole = rt(x)
    counted = CountingSession(rt._small)
    rt._small = rt._batch = counted  # (one thread: one session)
    rt._cost[id(counted)] = SHARD_MIN_MS / 200  # 200 inputs to a call
    np.testing.assert_array_equal(rt(x), whole)
    assert counted.sizes == [100] and rt.piece_size(SHARD_MIN_MS / 200) == 200
