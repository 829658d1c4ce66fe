"""The compiled searches behind counterfactuals and their adversarial twins.

The latent walk (and optional Adam steps) in a prior's code space, and targeted PGD in
pixel space, each one `tf.function` per (network, prior) with a fixed input signature,
cached here; their settings (`SearchConfig`, `AttackConfig`) are the measured choice.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import Any, Literal

from model.runtime.backend import compiled, import_keras
from model.why.prior import Prior

# -------------------------------------------------------------------- numbers

#: A counterfactual is valid when the model gives the target at least this probability.
P_VALID = 0.9
#: The search aims a little higher, so rounding between Keras (search) and ONNX (the
#: verdict) never drops a found edit just under P_VALID.
P_AIM = 0.95


@dataclass(frozen=True)
class SearchConfig:
    """The latent search's settings; the defaults are the measured choice
    (benchmarks/counterfactuals.py, docs/why/counterfactuals.md): the walk to the
    prototypes alone. Adam steps after it shrink the edit by about a third in L2 but
    leave it just over this model's boundary, where an independent classifier mostly
    does not read the target (31-35 % against 83 % on 300 edits): the smaller edit is
    less real.
    """

    #: The probability the search aims for: above P_VALID, because an edit that only just
    #: crosses this model's boundary is often not read as the target by another model.
    aim: float = P_AIM
    #: When the edit found is valid but our verdict is not sure it is a digit, the search
    #: runs once more aiming this high: further along the walk to the prototypes, towards a
    #: more typical digit (None: never). Kept only if the verdict then says `digit`.
    typical_aim: float | None = 0.999
    #: Points on each straight walk from the input's code to a prototype of the target.
    line_points: int = 12
    #: Adam steps after the walk (0: the walk alone), and their learning rate (latent units).
    steps: int = 0
    learning_rate: float = 0.08
    #: Loss weights: relu(log P_AIM - log p_target), sum |x' - x|, sum (x' - x)^2, and the
    #: pull towards the target's prototypes (CFProto's theta) of the rows that start at z0.
    class_weight: float = 30.0
    l1_weight: float = 0.1
    l2_weight: float = 1.0
    proto_weight: float = 0.3
    #: Decoder changes smaller than this (in ink, 0-1) are dropped (soft threshold): the
    #: decoder moves every pixel a little; an edit should touch only the strokes that matter.
    shrink: float = 0.05
    #: How a decoder change becomes an edit: "shift" adds it (x + D(z) - D(z0)); "ratio"
    #: adds new ink but takes ink away in proportion to what the decoder had there, so a
    #: stroke the decoder drew thinner than the user still goes.
    edit: Literal["shift", "ratio"] = "ratio"
    #: Keeps the ratio finite where the decoder drew nothing; lower removes more of a
    #: stroke the decoder drew faintly (0.05 against 0.1: valid 99.7 % against 97.0 %,
    #: independent judge 88 % against 84 %, on 300 edits of other digits than the
    #: benchmark's, seed 1).
    ratio_floor: float = 0.05


@dataclass(frozen=True)
class AttackConfig:
    """The adversarial twin: targeted PGD at several L-infinity budgets, all in one batch;
    the smallest budget that works wins. 0.3 is the classic MNIST budget (Madry et al.
    2018); each step moves step_fraction x epsilon (their 2.5 epsilon / steps)."""

    epsilons: tuple[float, ...] = (0.02, 0.05, 0.1, 0.15, 0.2, 0.3)
    steps: int = 30
    step_fraction: float = 2.5 / 30


LATENT = SearchConfig()
PGD = AttackConfig()
#: A change below this (in ink, 0-1) counts as no change in `.added`, `.removed`, `changed`.
CHANGE_FLOOR = 0.02
#: An input with less total ink than this (sum of 0-1 values) is blank: nothing to edit.
MIN_INK = 1.0

#: Probabilities are floored here before their log: a confident softmax gives the other
#: classes 1e-12 and less, and `log(p + 1e-9)` would have no gradient there.
TINY = 1e-30


# -------------------------------------------------------------------- the compiled searches


#: The compiled searches of each network, by (prior, settings): built once.
_SEARCHES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_SEARCH_LOCK = threading.Lock()


class _Search:
    """The compiled searches of one network (and one prior): built once, thread-safe."""

    def __init__(self, net: Any, prior: Prior | None, cfg: SearchConfig, atk: AttackConfig):
        import_keras()
        import tensorflow as tf

        self.shape = tuple(int(d) for d in net.inputs[0].shape[1:])  # (H, W, C)
        x_spec = tf.TensorSpec(self.shape, tf.float32)
        t_spec = tf.TensorSpec([], tf.int32)
        self._net, self._prior, self.cfg, self.atk = net, prior, cfg, atk
        # (`compiled`: one trace per network is not "retracing" in the logs)
        self.pgd = compiled(
            self._pgd,
            input_signature=[x_spec, t_spec, tf.TensorSpec([None], tf.float32)],
        )
        if prior is not None:
            d = prior.card.latent_dim
            self.latent = compiled(
                self._latent,
                input_signature=[x_spec, t_spec, tf.TensorSpec([None, d], tf.float32)],
            )

    def _track(self, tf, xs, p_t, dist, best_x, best_d, top_x, top_p, aim=P_VALID):
        """Keep, per batch row, the closest candidate read as the target with p >= aim,
        and the most convincing one."""
        valid = p_t >= aim
        better = valid & (dist < best_d)
        best_x = tf.where(better[:, None, None, None], xs, best_x)
        best_d = tf.where(better, dist, best_d)
        higher = p_t > top_p
        top_x = tf.where(higher[:, None, None, None], xs, top_x)
        top_p = tf.where(higher, p_t, top_p)
        return best_x, best_d, top_x, top_p

    def _latent(self, x, target, protos):
        import tensorflow as tf

        net, enc, dec, cfg = self._net, self._prior.encoder, self._prior.decoder, self.cfg
        k = tf.shape(protos)[0]  # (k, D): the target class's prototypes
        x1 = x[None]  # (1, H, W, 1)
        z0 = enc(x1, training=False)  # (1, D)
        d0 = dec(z0, training=False)  # (1, H, W, 1)

        def edit(z):
            """(B, D) codes -> (B, H, W, 1) edited inputs."""
            delta = dec(z, training=False) - d0
            delta = tf.sign(delta) * tf.nn.relu(tf.abs(delta) - cfg.shrink)
            if cfg.edit == "ratio":
                # Ink the decoder takes away goes in proportion: where it halves a stroke,
                # the user's stroke is halved too, even where the decoder drew it thinner.
                keep = 1.0 + tf.minimum(delta, 0.0) / (d0 + cfg.ratio_floor)
                return tf.clip_by_value(x1 * tf.nn.relu(keep) + tf.nn.relu(delta), 0.0, 1.0)
            return tf.clip_by_value(x1 + delta, 0.0, 1.0)

        def target_p(xs):
            return tf.gather(net(xs, training=False), target, axis=1)

        def dist(xs):
            return tf.sqrt(tf.reduce_sum((xs - x1) ** 2, [1, 2, 3]))

        # 1. Walk from z0 towards each prototype (forward passes only, one batch of k x T):
        #    the first point read as the target starts a gradient search of that row.
        ts = tf.linspace(1.0 / cfg.line_points, 1.0, cfg.line_points)  # (T,)
        line = z0[:, None, :] + ts[None, :, None] * (protos[:, None, :] - z0[:, None, :])
        line = tf.reshape(line, [-1, tf.shape(z0)[1]])  # (k * T, D)
        line_x = edit(line)
        line_p = tf.reshape(target_p(line_x), [k, cfg.line_points])
        first = tf.argmax(tf.cast(line_p >= cfg.aim, tf.int32), axis=1, output_type=tf.int32)
        first = tf.where(tf.reduce_any(line_p >= cfg.aim, 1), first, cfg.line_points - 1)
        starts = tf.gather(tf.reshape(line, [k, cfg.line_points, -1]), first, batch_dims=1)
        # 2. Rows 0..k-1 start there and shrink the edit; rows k..2k-1 start at z0 and
        #    follow the gradient, pulled towards the prototypes (CFProto's prototype loss).
        z = tf.concat([starts, tf.tile(z0, [k, 1])], 0)  # (2k, D)
        anchor = tf.concat([protos, protos], 0)
        pull = tf.concat([tf.zeros([k]), tf.fill([k], cfg.proto_weight)], 0)
        b = 2 * k
        xs0 = edit(z)
        best_x, best_d = tf.tile(x1, [b, 1, 1, 1]), tf.fill([b], float("inf"))
        top_x, top_p = xs0, tf.fill([b], -1.0)
        # The line's points join the candidates (each row keeps its own best).
        line_d = tf.reshape(dist(line_x), [k, cfg.line_points])
        line_d = tf.where(line_p >= cfg.aim, line_d, float("inf"))
        pick = tf.argmin(line_d, axis=1, output_type=tf.int32)
        row_x = tf.gather(tf.reshape(line_x, [k, cfg.line_points, *self.shape]), pick, batch_dims=1)
        best_x, best_d, top_x, top_p = self._track(
            tf,
            tf.concat([row_x, row_x], 0),
            tf.concat([tf.reduce_max(line_p, 1)] * 2, 0),
            tf.concat([tf.reduce_min(line_d, 1)] * 2, 0),
            best_x,
            best_d,
            top_x,
            top_p,
            cfg.aim,
        )
        m = tf.zeros_like(z)
        v = tf.zeros_like(z)
        beta1, beta2 = 0.9, 0.999
        for i in tf.range(cfg.steps):
            with tf.GradientTape() as tape:
                tape.watch(z)
                xs = edit(z)
                p_t = target_p(xs)
                d = xs - x1
                l1 = tf.reduce_sum(tf.abs(d), [1, 2, 3])
                l2 = tf.reduce_sum(d * d, [1, 2, 3])
                cls = tf.nn.relu(tf.math.log(cfg.aim) - tf.math.log(tf.maximum(p_t, TINY)))
                proto = tf.reduce_sum((z - anchor) ** 2, 1)
                loss = tf.reduce_sum(
                    cfg.class_weight * cls + cfg.l1_weight * l1 + cfg.l2_weight * l2 + pull * proto
                )
            best_x, best_d, top_x, top_p = self._track(
                tf, xs, p_t, tf.sqrt(l2), best_x, best_d, top_x, top_p, cfg.aim
            )
            g = tape.gradient(loss, z)
            step = tf.cast(i + 1, tf.float32)
            m = beta1 * m + (1 - beta1) * g
            v = beta2 * v + (1 - beta2) * g * g
            m_hat = m / (1 - beta1**step)
            v_hat = v / (1 - beta2**step)
            z = z - cfg.learning_rate * m_hat / (tf.sqrt(v_hat) + 1e-8)
        xs = edit(z)
        return self._track(tf, xs, target_p(xs), dist(xs), best_x, best_d, top_x, top_p, cfg.aim)

    def _pgd(self, x, target, eps):
        import tensorflow as tf

        net, atk = self._net, self.atk
        b = tf.shape(eps)[0]
        x1 = tf.tile(x[None], [b, 1, 1, 1])
        e = eps[:, None, None, None]
        delta = tf.zeros_like(x1)
        best_x, best_d = x1, tf.fill([b], float("inf"))
        top_x, top_p = x1, tf.fill([b], -1.0)
        for _ in tf.range(atk.steps):
            with tf.GradientTape() as tape:
                tape.watch(delta)
                xs = tf.clip_by_value(x1 + delta, 0.0, 1.0)
                p_t = tf.gather(net(xs, training=False), target, axis=1)
                loss = -tf.reduce_sum(tf.math.log(tf.maximum(p_t, TINY)))
            dist = tf.sqrt(tf.reduce_sum((xs - x1) ** 2, [1, 2, 3]))
            best_x, best_d, top_x, top_p = self._track(
                tf, xs, p_t, dist, best_x, best_d, top_x, top_p
            )
            g = tape.gradient(loss, delta)
            delta = tf.clip_by_value(delta - atk.step_fraction * e * tf.sign(g), -e, e)
        xs = tf.clip_by_value(x1 + delta, 0.0, 1.0)
        p_t = tf.gather(net(xs, training=False), target, axis=1)
        dist = tf.sqrt(tf.reduce_sum((xs - x1) ** 2, [1, 2, 3]))
        return self._track(tf, xs, p_t, dist, best_x, best_d, top_x, top_p)


def search_for(
    net: Any, prior: Prior | None, cfg: SearchConfig = LATENT, atk: AttackConfig = PGD
) -> _Search:
    """The compiled searches of `net`, built once per (network, prior, settings)."""
    key = (None if prior is None else prior.path, cfg, atk)
    with _SEARCH_LOCK:
        per_net = _SEARCHES.setdefault(net, {})
        search = per_net.get(key)
        if search is None:
            search = per_net[key] = _Search(net, prior, cfg, atk)
        return search
