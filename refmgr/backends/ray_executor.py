"""The Ray executor: an engine that spreads a render's lines over workers of a Ray cluster.

It stands in for the engine on the driver (it implements ``BatchEngine``): the runner
plans, writes every output and keeps the lock as for a local render, so the bytes are the
same. Each worker is a Ray actor (one per GPU, or per CPU slot for a CPU engine) that
builds the engine once from the same recipe (``registry.load_engine`` with the same
spec, settings and checkpoint) and renders small batches of lines pulled from the driver:
a worker gets its next batch when it gives one back, so a slow worker gets fewer lines.

A worker that dies (its process killed, its node gone) loses only the lines it had:
they go to another worker, one at a time, and a fresh worker takes the dead one's place.
Stopping early (Ctrl-C) kills the workers that were busy; ``close`` kills the rest and
shuts down a cluster the executor started. Ray is imported only here, and only when a
render asks for this executor (``pip install 'refmgr[ray]'``).
"""

from __future__ import annotations

import collections
import contextlib
import importlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from refmgr.backends.base import (
    Engine,
    EngineSpec,
    LineRequest,
    LineResult,
    Synthesis,
    VoiceReference,
    synthesize_many,
)
from refmgr.errors import BackendError, RefmgrError, UsageError
from refmgr.params import SynthesisParams

RAY_INSTALL = "pip install 'refmgr[ray]'"
NAMESPACE_PREFIX = "refmgr-"  # each render's actors live in a namespace of their own
# Batches handed to a worker before it gives one back: one to render, one queued, so it
# never waits for the driver, and no more, so that what is left goes to whoever is free.
DEPTH = 2
# Lines in one call to a worker whose engine does not batch (the draft engine): a call
# costs the driver and Ray a few milliseconds, a draft line about 30 ms; a few lines a call
# keep that small and still leave the lines to whichever worker is free.
LINES_PER_CALL = 8
# A line whose worker died this many times fails (it may be what kills them).
MAX_TRIES = 3
# No worker ready in this time: the cluster cannot place one (no GPU, no free CPU).
START_TIMEOUT_S = 120.0
PROBE_TIMEOUT_S = 5.0


def check_address(address: str) -> None:
    """Refuse an address that is not a Ray cluster's ``host:port`` (or ``auto``): a usage
    error, before anything is read or written."""
    if address == "auto":
        return
    if address.startswith("ray://"):
        raise UsageError(
            f"--address {address}: Ray Client addresses are not supported; run refmgr on a "
            "node of the cluster and give its head's host:port (ray start prints it)"
        )
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--address {address}: expected HOST:PORT of a Ray head node, or auto")


@dataclass(frozen=True)
class EngineRecipe:
    """What builds the engine again in a worker: ``registry.load_engine``'s arguments
    (plain data, pickled to the workers; the checkpoint must be at the same path there)."""

    engine_id: str
    device: str | None = None
    settings: Any = None
    checkpoint: Any = None
    max_batch: int | None = None  # set on an engine that batches (--batch)

    def build(self) -> Engine:
        from refmgr.backends.registry import load_engine

        engine = load_engine(
            self.engine_id, device=self.device, settings=self.settings, checkpoint=self.checkpoint
        )
        if self.max_batch is not None and hasattr(engine, "max_batch"):
            engine.max_batch = self.max_batch
        return engine

    @property
    def wants_gpu(self) -> bool:
        """One GPU per worker: an engine with weights not told to run on the CPU."""
        if self.checkpoint is None:
            return False
        device = self.device or getattr(self.checkpoint, "device", None)
        return device not in ("cpu",)


@dataclass(frozen=True)
class _Failed:
    """A line's failure, as it travels back from a worker: exceptions of other libraries
    may not unpickle on the driver, and a RefmgrError would lose its path."""

    type_name: str
    message: str
    refmgr: bool
    path: str | None

    @classmethod
    def of(cls, e: Exception) -> _Failed:
        if isinstance(e, RefmgrError):
            return cls(type(e).__name__, e.message, True, None if e.path is None else str(e.path))
        return cls(type(e).__name__, str(e), False, None)

    def error(self, engine_id: str) -> Exception:
        if self.refmgr:
            return BackendError(self.message, self.path)
        # The words the runner gives an engine's own failure in a local render.
        return BackendError(f"engine '{engine_id}' failed: {self.type_name}: {self.message}")


class Worker:
    """A Ray actor's body: one engine, loaded once, rendering the batches it is given."""

    def __init__(self, recipe: EngineRecipe) -> None:
        self.engine = recipe.build()

    def ready(self) -> tuple[int, dict[str, Any], int]:
        """Its process id, the engine's pins (checked against the driver's) and how many
        lines it takes at once (an engine that batches: its max_batch; else LINES_PER_CALL)."""
        batch = getattr(self.engine, "max_batch", None)
        return os.getpid(), self.engine.pins(), batch if isinstance(batch, int) else LINES_PER_CALL

    def pid(self) -> int:
        return os.getpid()

    def render(self, requests: Sequence[LineRequest]) -> list[Synthesis | _Failed]:
        results: list[Synthesis | _Failed | None] = [None] * len(requests)
        for index, outcome in synthesize_many(self.engine, requests):
            results[index] = _Failed.of(outcome) if isinstance(outcome, Exception) else outcome
        missing = _Failed("BackendError", "the engine gave no result for this line", True, None)
        return [missing if r is None else r for r in results]


@dataclass(eq=False)
class _Slot:
    """One worker: its actor, and whether it has answered ``ready``."""

    number: int
    actor: Any
    starting: Any  # the ObjectRef of its ``ready`` call, until it answers
    pid: int | None = None
    batch: int = 1  # lines in a batch it is handed
    busy: int = 0  # batches handed to it and not given back


@dataclass
class _Round:
    """One ``synthesize_many`` call's bookkeeping."""

    todo: collections.deque[int]
    alone: set[int] = field(default_factory=set)  # lines a dead worker had: sent one by one
    tries: collections.Counter[int] = field(default_factory=collections.Counter)
    out: dict[Any, tuple[_Slot, list[int]]] = field(default_factory=dict)  # ref -> batch


class RayExecutor:
    """An engine for the runner whose lines render on the workers of a Ray cluster."""

    def __init__(
        self,
        spec: EngineSpec,
        recipe: EngineRecipe,
        pins: dict[str, Any],
        *,
        address: str | None = None,
        workers: int | None = None,
    ) -> None:
        self.spec, self.recipe, self.expected_pins = spec, recipe, pins
        self.address, self.workers = address, workers
        self.namespace = f"{NAMESPACE_PREFIX}{uuid.uuid4().hex[:12]}"
        self.wanted = 0  # workers to keep: --workers, or the cluster's GPUs (CPUs)
        self.slots: list[_Slot] = []
        self.restarts_left = 0
        self.last_death = ""
        self._ray: Any = None
        self._actor_class: Any = None
        self._actor_options: dict[str, Any] = {}
        self._numbers = 0

    # -- the Engine protocol --------------------------------------------------------------

    def pins(self) -> dict[str, Any]:
        return self.expected_pins

    def synthesize(
        self, reference: VoiceReference, text: str, params: SynthesisParams
    ) -> Synthesis:
        for _, outcome in self.synthesize_many([LineRequest(reference, text, params)]):
            if isinstance(outcome, Exception):
                raise outcome
            return outcome
        raise BackendError("the Ray executor gave no result")

    def synthesize_many(self, requests: Sequence[LineRequest]) -> Iterator[LineResult]:
        if self._ray is None:
            self.start()
        while len(self.slots) < self.wanted:  # those killed when a call was stopped early
            self.slots.append(self._new_slot())
        round_ = _Round(collections.deque(range(len(requests))))
        try:
            while round_.todo or round_.out:
                self._hand_out(round_, requests)
                yield from self._take_back(round_)
        finally:
            # Stopped early (Ctrl-C, the runner's own failure): what is still out is not
            # wanted, and the workers rendering it are killed (a later call starts others).
            for slot in {slot for slot, _ in round_.out.values()}:
                if self._ray is not None:
                    self._kill(slot)
            round_.out.clear()

    def close(self) -> None:
        ray = self._ray
        if ray is None:
            return
        for slot in list(self.slots):
            self._kill(slot)
        self._ray = None
        # Our actors die with our connection; a cluster we started goes with it.
        ray.shutdown()

    # -- the cluster -------------------------------------------------------------------

    def where(self) -> str:
        return self.address or "a local Ray cluster"

    def start(self) -> None:
        """Join (or start) the cluster and ask for the workers; raises a BackendError naming
        the address if that cannot be done."""
        try:
            ray: Any = importlib.import_module("ray")
        except ImportError:
            raise BackendError(
                f"--executor ray needs Ray, which is not installed; install it with: {RAY_INSTALL}"
            ) from None
        options: dict[str, Any] = {
            "namespace": self.namespace,
            "log_to_driver": False,  # workers' chatter stays in the cluster's logs
            # Ray's warnings (a token written to ~/.ray, ...) are not the user's business
            # here; what fails still raises.
            "logging_level": logging.ERROR,
        }
        if ray.is_initialized():
            raise BackendError("Ray is already initialized in this process")
        if self.address is not None:
            check_address(self.address)
            _probe(self.address)
            options["address"] = self.address
        else:
            options["include_dashboard"] = False
            if self.workers is not None and not self.recipe.wants_gpu:
                options["num_cpus"] = self.workers
        try:
            ray.init(**options)
        except Exception as e:
            raise BackendError(
                f"cannot start or join the cluster: {_first_line(e)}", self.where()
            ) from None
        self._ray = ray
        try:
            count = self.wanted = self.workers or self._slots_available()
            gpu = self._uses_gpu()
            self._actor_class = ray.remote(Worker)
            self._actor_options = {"num_cpus": 1, "num_gpus": 1 if gpu else 0, "max_restarts": 0}
            for _ in range(count):
                self.slots.append(self._new_slot())
            self.restarts_left = max(MAX_TRIES, 2 * count)
        except BaseException:
            self.close()
            raise

    def _uses_gpu(self) -> bool:
        gpus = int(self._ray.cluster_resources().get("GPU", 0))
        if not self.recipe.wants_gpu:
            return False
        if gpus == 0:
            if (self.recipe.device or "").startswith("cuda"):
                raise BackendError(
                    f"--device {self.recipe.device}: the cluster has no GPU", self.where()
                )
            return False  # device auto on a cluster without GPUs: CPU workers
        return True

    def _slots_available(self) -> int:
        resources = self._ray.cluster_resources()
        kind = "GPU" if self._uses_gpu() else "CPU"
        count = int(resources.get(kind, 0))
        if count < 1:
            raise BackendError(f"the cluster has no {kind} for a worker", self.where())
        return count

    def _new_slot(self) -> _Slot:
        self._numbers += 1
        options = {**self._actor_options, "name": f"worker-{self._numbers}"}
        actor = self._actor_class.options(**options).remote(self.recipe)
        return _Slot(self._numbers, actor, actor.ready.remote())

    def _kill(self, slot: _Slot) -> None:
        if slot in self.slots:
            self.slots.remove(slot)
        with contextlib.suppress(Exception):  # already gone
            self._ray.kill(slot.actor, no_restart=True)

    def _replace(self, slot: _Slot, why: str) -> None:
        """``slot``'s worker died: a fresh one takes its place while the budget allows."""
        self.last_death = why
        if slot not in self.slots:
            return  # replaced already (it had several batches out)
        self._kill(slot)
        if self.restarts_left > 0:
            self.restarts_left -= 1
            self.slots.append(self._new_slot())
        elif not self.slots:
            raise BackendError(f"every Ray worker died; the last: {why}", self.where())

    # -- handing lines out and taking them back -------------------------------------------

    def _hand_out(self, round_: _Round, requests: Sequence[LineRequest]) -> None:
        for slot in sorted(self.slots, key=lambda s: s.busy):
            while slot.pid is not None and slot.busy < DEPTH and round_.todo:
                batch = [round_.todo.popleft()]
                if batch[0] not in round_.alone:
                    while len(batch) < slot.batch and round_.todo:
                        if round_.todo[0] in round_.alone:
                            break
                        batch.append(round_.todo.popleft())
                ref = slot.actor.render.remote([requests[i] for i in batch])
                round_.out[ref] = (slot, batch)
                slot.busy += 1

    def _take_back(self, round_: _Round) -> Iterator[LineResult]:
        ray = self._ray
        starting = {slot.starting: slot for slot in self.slots if slot.pid is None}
        refs = [*round_.out, *starting]
        if not refs:
            raise BackendError(f"no Ray worker left (last: {self.last_death})", self.where())
        waited = time.monotonic()
        while True:
            # In short waits: Ctrl-C gets through between them.
            done, _ = ray.wait(refs, num_returns=1, timeout=1.0)
            if done:
                break
            idle = not any(slot.pid is not None for slot in self.slots)
            if idle and time.monotonic() - waited > START_TIMEOUT_S:
                raise BackendError(
                    f"no Ray worker started in {START_TIMEOUT_S:.0f} s (the cluster has "
                    f"{_resources(ray)}): free a GPU or CPU, or ask for fewer --workers",
                    self.where(),
                )
        ref = done[0]
        if ref in starting:
            self._started(starting[ref], ref)
            return
        slot, batch = round_.out.pop(ref)
        slot.busy -= 1
        try:
            results = ray.get(ref)
        except ray.exceptions.RayError as e:
            # The worker's process died, or its engine raised what ends a run (a dead
            # device): its lines go to the others, one at a time.
            self._replace(slot, _first_line(e))
            for index in reversed(batch):
                round_.tries[index] += 1
                if round_.tries[index] >= MAX_TRIES:
                    yield (
                        index,
                        BackendError(
                            f"a Ray worker died rendering it {MAX_TRIES} times; the last: "
                            f"{_first_line(e)}"
                        ),
                    )
                else:
                    round_.alone.add(index)
                    round_.todo.appendleft(index)
            return
        for index, outcome in zip(batch, results, strict=True):
            if isinstance(outcome, _Failed):
                yield index, outcome.error(self.spec.id)
            else:
                yield index, outcome

    def _started(self, slot: _Slot, ref: Any) -> None:
        try:
            pid, pins, batch = self._ray.get(ref)
        except self._ray.exceptions.RayError as e:
            self._replace(slot, _first_line(e))
            return
        if pins != self.expected_pins:
            raise BackendError(
                f"a Ray worker's {self.spec.id} engine differs from this machine's "
                f"(pins {pins} != {self.expected_pins}): install the same versions and "
                "checkpoint on every node",
                self.where(),
            )
        slot.pid, slot.batch = pid, max(1, batch)


def _probe(address: str) -> None:
    """Fail fast, and by name, on an address nothing listens at (Ray itself retries for
    a minute before it gives up)."""
    if address == "auto":
        return
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=PROBE_TIMEOUT_S):
            pass
    except OSError as e:
        reason = e.strerror or type(e).__name__
        raise BackendError(
            f"no Ray cluster answers there ({reason}); start one with `ray start --head` "
            "on that machine, or leave out --address to start a local one",
            address,
        ) from None


def _resources(ray: Any) -> str:
    resources = ray.cluster_resources()
    return ", ".join(f"{resources.get(k, 0):g} {k}" for k in ("GPU", "CPU"))


def _first_line(e: BaseException) -> str:
    lines = [line for line in str(e).splitlines() if line.strip()]
    return lines[0].strip() if lines else type(e).__name__


def worker_pids(namespace: str) -> list[int]:
    """The process ids of the workers in ``namespace`` (what a test kills)."""
    ray: Any = importlib.import_module("ray")

    pids = []
    for actor in ray.util.list_named_actors(all_namespaces=True):
        if actor["namespace"] == namespace:
            handle = ray.get_actor(actor["name"], namespace=namespace)
            pids.append(int(ray.get(handle.pid.remote())))
    return pids
