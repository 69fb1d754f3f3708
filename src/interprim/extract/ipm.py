"""A certified interior-point method for the sparse AND-OR problem (SPEC §3.3): one game, or a few.

**The LP.** With the interactions split into positive and negative parts (``a = M u_and``,
``b = M F u_or``, as in :mod:`interprim.extract.lp` for one model), the sparse problem reads::

    minimise   Σ_{T≠∅} a⁺[T] + a⁻[T] + b⁺[T] + b⁻[T]
    such that  Z(a⁺ − a⁻) + F Z(b⁺ − b⁻) − q = v,   a±, b± ≥ 0,   |q| ≤ ζ

where ``Z = M⁻¹`` is the zeta transform and ``F`` reverses the bitmask order. The entries ``∅`` of
``a``, ``b`` add the same constant ``c`` to every ``S``; it is kept as one variable ``a⁺[∅] = c``
in the box ``|c| ≤ R`` (``a⁻[∅] = b±[∅] = 0``). The box never binds at an optimum: the row ``S = ∅``
reads ``c = v[∅] + q[∅] − Σ_T b[T]``, so ``|c| ≤ |v[∅]| + ζ + optimum``, and ``R`` is that with the
objective ``P₀ ≥ optimum`` of the fixed split ``u_and = u_or = v/2`` in place of the optimum, plus 1.
With ``ζ = 0`` (no noise) ``q`` is fixed at zero.

**Algorithm.** Mehrotra's predictor-corrector primal-dual method for an LP with bounded variables,
with Gondzio's multiple centrality correctors (:data:`CORRECTORS`). Each iteration solves the
normal equations ``K Δy = r`` two to four times with one factorisation, where
``K = A Θ Aᵀ = Z D_a Zᵀ + F Z D_b Zᵀ F + D_q`` (``Θ`` the diagonal scaling of the iterate,
``D_a = Θ_{a⁺} + Θ_{a⁻}``, ``D_b`` likewise, ``D_q = Θ_q``). The structure of the transforms makes
``K`` cheap to build: ``(Z D Zᵀ)[S, S'] = Σ_{T ⊆ S ∩ S'} D[T] = (Z D)[S ∩ S']``, so ``K`` is two
zeta transforms and a gather by ``S ∩ S'`` (``O(4**n)``; :func:`_normal_matrix`), and
``F Z D_b Zᵀ F`` is the same matrix of ``D_b`` indexed by ``N \\ (S ∪ S')``. ``K`` is factorised by
a dense Cholesky (``O(8**n / 3)``: LAPACK's ``dpotrf``, about 11 ms at ``n = 10`` on one CPU core
with the MKL inside torch: :func:`_cholesky`);
everything else is a fast transform or element-wise. The entry ``c = a⁺[∅]`` is free in all but
name (no optimum reaches its box), so its scaling grows without bound, and with it a column of ones
enters every entry of ``K`` (in a real pair at ``n = 10``, 1e5 times every other scaling: the
factorisation failed; with one model, 26 of 32 real games at ``n = 10`` stalled above ``tol = 1e-6``).
``K`` is therefore factorised with the free variables' scaling capped at the largest other one
(``K₀``), and the excess ``E`` is added back by Woodbury's identity, ``K⁻¹ = K₀⁻¹ − W(E⁻¹ + UᵀW)⁻¹Wᵀ``
with ``W = K₀⁻¹U`` (:attr:`_Problem.free`, :class:`_Newton`): a few more columns in the first solve of
an iteration, once the excess appears. Real games need 5-12 iterations to a
certified gap of 1e-3. The LP solvers of HiGHS do not see this structure: on games at ``n = 10``
its interior-point method takes 20-30 iterations of about 60 ms, its dual simplex 1000-8000
(``benchmarks/README.md``). The games of a batch are solved together, in chunks of at most
:data:`CHUNK_BYTES` of normal matrices (:data:`CHUNK_BYTES_GPU` on a GPU). The time per game falls
little with the batch size, but on a CPU it stayed below the batched ADMM's at every batch measured
up to ``n = 10``, and for a few games at ``n = 11, 12``: ``interprim.sparse_and_or(...,
solver="auto")`` chooses it there (:data:`interprim.extract._driver.IPM_MAX_BATCH`).

**Certificate.** As in :mod:`interprim.extract.admm`: every iterate gives a feasible point
(``u_and = Z(a⁺ − a⁻)``, ``q`` clipped to its box, ``u_or = v + q − u_and``) whose objective ``P``
is an upper bound on the optimum, and the multipliers ``y`` of the matching rows give the lower
bound :func:`~interprim.extract.admm.dual_bound` ``D`` (made dual feasible by centring and scaling).
A sample stops when ``P − D ≤ tol · P`` (or ``≤ atol``); its best point and best bound are kept, so
the gap is certified whatever the accuracy of the linear algebra. A sample whose iterates stall
(a failed factorisation, no progress) stops unconverged with its certified gap.

**Other LPs.** The iteration (:func:`_mehrotra`) takes any LP given as a :class:`_Problem`: its
bounds, costs, the maps ``A`` and ``Aᵀ``, its normal matrix, a start and a certificate. The sparse
problem is :class:`_Sparse`; the generalizable problem of two models is
:class:`interprim.extract.ipm_pair._Pair`.

On a CPU every torch operation of the method runs on one thread (set for the call and restored
after: :func:`_one_thread`), and a batch is cut into as many parts as torch had threads, solved side
by side in Python threads: the games are independent, so each part runs alone on its core without
waiting for the others (on 2 cores, 128 games at ``n = 10`` take about half the time of one thread).
The factorisations run on one thread each as well (:func:`_cholesky`, :func:`_blas_threads`), except
for one game alone, which may use all of torch's threads.
"""

from __future__ import annotations

import ctypes
import functools
import glob
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy.linalg import cython_lapack
from threadpoolctl import threadpool_limits

from .admm import Solution, _flat_games, dual_bound, mobius, objective, zeta, zeta_t

#: the most bytes of normal matrices ``K`` (``8·4**n`` each) factorised at once on a CPU; more games go
#: in chunks
CHUNK_BYTES = 2**27
#: the same on a GPU, where a batched factorisation gains from many matrices at once (4 GiB: 512 games
#: at ``n = 10``; a guess, not a measurement: no GPU has been lent yet)
CHUNK_BYTES_GPU = 2**32
#: iteration limit (an interior-point method needs 10-20 iterations here; more means it stalled)
MAX_ITER = 100
#: a game stops unconverged when its certified gap has not halved in this many iterations
STALL = 6
#: fraction of the step to the boundary of the positive orthant
STEP = 0.99
#: how far the starting point is pushed into the interior (scaled units)
PUSH = 0.01
#: the diagonal of every normal matrix is raised by this fraction of its mean before the factorisation
#: (a guard against exact singularity). 1e-13 limited the certified gaps: with it 4 of 32 real games at
#: ``n = 10`` stalled above ``tol = 1e-4`` and pairs at ``n = 10`` at 2e-4 to 8e-4; with 1e-15 every game
#: reached 1e-4 (10.0 iterations on average instead of 10.7) and the pairs 4e-5 to 2e-4; 1e-11 and more
#: left gaps of 1e-3 and more
REGULARIZE = 1e-15
#: the directions are refined (:meth:`_Newton.refined`) for ``tol`` below this. With the free variable
#: kept out of the factor, 32 real games at ``n = 10`` certified 1e-5 and 1e-6 without refinement in
#: the same iterations, but 1e-7 only 27 of them (32 with it) and 1e-8 only 4 (31 with it); pairs
#: (16 at ``n = 8``, 4 at ``n = 10``) certified 1e-3 to 1e-6 in the same iterations without it, and at
#: ``n = 8`` 9 % faster at 1e-3
REFINE_BELOW = 1e-4
#: Gondzio's multiple centrality correctors per iteration (each one more solve with the same factor;
#: two cut the iterations to a certified 1e-3 on real games at ``n = 10`` from 11.3 to 8.6 on average)
CORRECTORS = 2


def solve(
    v: torch.Tensor,
    zeta_bound: torch.Tensor,
    n: int,
    tol: float = 1e-3,
    max_iter: int = MAX_ITER,
    atol: torch.Tensor | float = 0.0,
    progress: Any = None,
) -> Solution:
    """Solve the sparse problem for ``v`` ``(1, B, 2**n)`` float64 with noise bounds ``zeta_bound`` ``(1, B)``.

    ``v`` should be centred and scaled as for :func:`interprim.extract.admm.solve` (the callers do
    that), though the method does not rely on it. A sample stops when its certified gap ``P − D``
    is at most ``tol·P`` or ``atol`` (a number or one per sample), at once when its optimum is zero,
    or unconverged after ``max_iter`` iterations or when its iterates stall. Returns
    :class:`~interprim.extract.admm.Solution` (no shared part); ``progress``, if given, is called
    with the number of samples that finished.
    """
    m, _, size = v.shape
    if m != 1:
        raise ValueError(f"the interior-point method solves the sparse problem of one model, got {m} models.")

    def chunk(idx: torch.Tensor, atol: torch.Tensor, threads: int) -> tuple[torch.Tensor | None, ...]:
        u, q, p, d, iterations, done = _solve_chunk(v[0, idx], zeta_bound[0, idx], n, tol, max_iter, atol, progress, threads)
        return u[None], q[None], None, p, d, iterations, done

    return _solve_samples(v, zeta_bound, n, 1.0, atol, progress, 8 * size * size, chunk)


def _solve_samples(
    v: torch.Tensor,
    zeta_bound: torch.Tensor,
    n: int,
    alpha: float,
    atol: torch.Tensor | float,
    progress: Any,
    matrix_bytes: int,
    chunk: Callable[..., tuple[torch.Tensor | None, ...]],
) -> Solution:
    """What :func:`solve` and :func:`interprim.extract.ipm_pair.solve` share: the samples ``v`` ``(m, B, 2**n)``
    whose optimum is zero are solved at once (``u_and_i = c_i/2``, ``q_i = c_i − v_i``: no interaction,
    ``γ_i = 0``), the others by ``chunk(indices, atol, threads)`` (:func:`_in_parts`), which returns
    their ``u_and``, ``q`` ``(m, b, 2**n)``, shared part ``(b, 2**n)`` (or ``None``), best objective and
    bound, iterations and convergence."""
    m, batch, size = v.shape
    atol = torch.broadcast_to(torch.as_tensor(atol, dtype=v.dtype, device=v.device), (batch,)).clone()
    u_and, q, g = v / 2, torch.zeros_like(v), torch.zeros_like(v[0])
    best_p = objective(u_and, v - u_and, n, alpha)
    best_d = torch.zeros_like(best_p)
    iterations = torch.zeros(batch, dtype=torch.int64, device=v.device)
    converged = torch.zeros(batch, dtype=torch.bool, device=v.device)
    flat, level = _flat_games(v, zeta_bound)
    if bool(flat.any()):
        u_and[:, flat], q[:, flat] = level[:, flat, None] / 2, level[:, flat, None] - v[:, flat]
        best_p[flat] = 0.0
        converged[flat] = True
        if progress is not None:
            progress(int(flat.sum()))

    def solve_chunk(idx: torch.Tensor, threads: int) -> None:
        u, qq, gg, p, d, its, done = chunk(idx, atol[idx], threads)
        u_and[:, idx], q[:, idx], best_p[idx], best_d[idx], iterations[idx], converged[idx] = u, qq, p, d, its, done
        if gg is not None:
            g[idx] = gg

    _in_parts(torch.nonzero(~flat).flatten(), matrix_bytes, v.device, solve_chunk)
    return Solution(u_and, q, g if m > 1 else None, best_p, torch.minimum(best_d, best_p), iterations, converged)


def _in_parts(todo: torch.Tensor, matrix_bytes: int, device: torch.device, chunk: Callable[[torch.Tensor, int], None]) -> None:
    """Call ``chunk(games, threads)`` on the samples ``todo``: in one part per torch thread, side by side
    (module doc), each in chunks of at most :data:`CHUNK_BYTES` of normal matrices (``matrix_bytes`` per
    sample; :data:`CHUNK_BYTES_GPU` on a GPU); ``threads``: the factorisation's threads (:func:`_cholesky`)."""
    workers = min(torch.get_num_threads(), todo.numel()) if device.type == "cpu" else 1
    # one sample alone may factorise on all of torch's threads; otherwise each part on one thread
    factor_threads = torch.get_num_threads() if workers == 1 else 1
    lapack = _lapack()
    per_thread = lapack is not None and lapack.threads is not None  # MKL: set by _cholesky, not process-wide
    blas = None if factor_threads > 1 or per_thread else 1
    chunk_bytes = CHUNK_BYTES if device.type == "cpu" else CHUNK_BYTES_GPU
    per_chunk = max(1, chunk_bytes // matrix_bytes // max(workers, 1))

    def part(games: torch.Tensor) -> None:
        for start in range(0, games.numel(), per_chunk):
            chunk(games[start : start + per_chunk], factor_threads)

    with _one_thread(device), _blas_threads(blas):
        if workers > 1:  # one part of the samples per core, each on one torch thread (module doc)
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(part, todo.tensor_split(workers)))
        else:
            part(todo)


@contextmanager
def _one_thread(device: torch.device) -> Iterator[None]:
    """One torch thread on a CPU for the duration (restored after), as every measurement here.

    The method's gathers, copies and triangular solves are small parallel operations: on a CPU that
    other jobs load they wait for descheduled threads (3 games at ``n = 10`` took 22 s with two
    threads at load 4 on two cores, 0.5 s with one). Only the Cholesky factorisation of a large
    ``K`` would gain from more threads on an idle machine.
    """
    previous = torch.get_num_threads()
    if device.type != "cpu" or previous == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@dataclass(frozen=True)
class _Lapack:
    """A LAPACK ``dpotrf`` callable from any thread without the GIL, and how to hold its threads.

    ``potrf(uplo, n, a, lda, info)`` takes every argument by reference (Fortran). The integers are
    passed as 64-bit: on a little-endian machine an LP64 LAPACK reads the low half of the same
    value and an ILP64 one the whole of it. ``threads(k)`` sets the calling thread's number of
    threads (``0``: the library's default) and returns the previous setting; ``None`` where the
    threads are process-wide (SciPy's BLAS: :func:`_blas_threads`).
    """

    potrf: Callable[..., None]
    threads: Callable[[int], int] | None
    source: str


@functools.lru_cache(maxsize=1)
def _lapack() -> _Lapack | None:
    """The fastest LAPACK at hand: Intel MKL inside torch's own library where it exports it (x86
    Linux wheels: :func:`_mkl_lapack`), else SciPy's (:func:`_scipy_lapack`), else ``None``.

    Measured at ``n = 10`` (1024 × 1024, in place): one core, MKL 11 ms, SciPy's OpenBLAS 12-17 ms;
    two games side by side on two cores, 9-13 ms each with MKL against 18-31 ms with OpenBLAS, whose
    concurrent calls wait for each other; one game on two threads, 6-7 ms against 12 ms.
    """
    return _mkl_lapack() or _scipy_lapack()


#: ``dpotrf(uplo, n, a, lda, info)``, every argument by reference; 64-bit integers (:class:`_Lapack`)
_POTRF = ctypes.CFUNCTYPE(
    None, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int64), ctypes.c_void_p, *[ctypes.POINTER(ctypes.c_int64)] * 2
)


def _mkl_lapack() -> _Lapack | None:
    """MKL's ``dpotrf`` and per-thread thread count from torch's CPU library, if it exports them and they
    factorise correctly (:func:`_factors_correctly`), else ``None``."""
    mkl = _torch_mkl()
    if mkl is None:
        return None
    threads = mkl.MKL_Set_Num_Threads_Local
    threads.restype, threads.argtypes = ctypes.c_int, [ctypes.c_int]
    lapack = _Lapack(_POTRF(("dpotrf_", mkl)), threads, "mkl")
    return lapack if _factors_correctly(lapack) else None


def _scipy_lapack() -> _Lapack | None:
    """The ``dpotrf`` of SciPy's BLAS (``scipy.linalg.cython_lapack``), or ``None`` where SciPy does not export it."""
    try:
        capsule = cython_lapack.__pyx_capi__["dpotrf"]
        # local prototypes of the C API: ctypes.pythonapi's own are shared by the whole process
        get_name = ctypes.PYFUNCTYPE(ctypes.c_char_p, ctypes.py_object)(("PyCapsule_GetName", ctypes.pythonapi))
        get_pointer = ctypes.PYFUNCTYPE(ctypes.c_void_p, ctypes.py_object, ctypes.c_char_p)(
            ("PyCapsule_GetPointer", ctypes.pythonapi)
        )
        address = get_pointer(capsule, get_name(capsule))
    except (AttributeError, KeyError, ValueError):  # pragma: no cover - every SciPy ≥ 1.10 exports it
        return None
    return _Lapack(_POTRF(address), None, "scipy")


def _torch_mkl() -> ctypes.CDLL | None:
    """torch's CPU library when it exports MKL's ``dpotrf_`` and thread control, else ``None``."""
    if not torch.backends.mkl.is_available():
        return None
    for path in sorted(glob.glob(os.path.join(os.path.dirname(torch.__file__), "lib", "libtorch_cpu.*"))):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        if hasattr(lib, "dpotrf_") and hasattr(lib, "MKL_Set_Num_Threads_Local"):
            return lib
    return None


def _factors_correctly(lapack: _Lapack) -> bool:
    """Whether ``lapack`` factorises ``[[4, 2], [2, 10]]`` into ``[[2, 0], [1, 3]]`` (a check of the calling
    convention of a library found in torch's internals)."""
    a = np.array([[4.0, 0.0], [2.0, 10.0]])  # row-major lower triangle = column-major upper
    size, info = ctypes.c_int64(2), ctypes.c_int64(0)
    lapack.potrf(b"U", ctypes.byref(size), a.ctypes.data, ctypes.byref(size), ctypes.byref(info))
    return info.value == 0 and np.array_equal(np.tril(a), [[2.0, 0.0], [1.0, 3.0]])


def _cholesky(k: torch.Tensor, threads: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """The lower Cholesky factors of the matrices ``k`` ``(B, N, N)`` (given by their lower triangles) and
    the ``info`` of LAPACK per matrix (``0``: success). Only the lower triangles of the factors are set.

    On a CPU in float64: LAPACK's ``dpotrf`` (:func:`_lapack`) in place, one matrix at a time;
    elsewhere ``torch.linalg.cholesky_ex``, which at ``n = 10`` on one core took 24 ms per matrix,
    two thirds of it zeroing the upper triangle (nothing reads it). Because the call releases the
    GIL, the parts of a batch factorise side by side on their cores. MKL factorises on ``threads``
    threads (set for the calling thread only, and restored after); SciPy's BLAS on those that
    :func:`_blas_threads` sets for the process.
    """
    lapack = _lapack()
    if k.device.type != "cpu" or k.dtype != torch.float64 or lapack is None:
        return torch.linalg.cholesky_ex(k)
    info = torch.zeros(k.shape[0], dtype=torch.int32)
    size, status = ctypes.c_int64(k.shape[-1]), ctypes.c_int64(0)
    previous = lapack.threads(threads) if lapack.threads is not None else None
    try:
        for i, a in enumerate(k.numpy()):
            status.value = 0  # an LP64 LAPACK writes only its low half
            # the lower triangle of a row-major matrix is the upper one of its column-major transpose
            lapack.potrf(b"U", ctypes.byref(size), a.ctypes.data, ctypes.byref(size), ctypes.byref(status))
            info[i] = ctypes.c_int32(status.value).value  # the low half, signed (LP64 or ILP64)
    finally:
        if lapack.threads is not None:
            lapack.threads(previous)
    return k, info


@contextmanager
def _blas_threads(limit: int | None) -> Iterator[None]:
    """SciPy's BLAS (and any other BLAS loaded) on at most ``limit`` threads for the duration; ``None``: as it is."""
    if limit is None:
        yield
        return
    with threadpool_limits(limits=limit, user_api="blas"):
        yield


#: the blocks of the normal matrix below this size are gathered at once (:func:`_normal_matrix`)
_LEAF = 128


def _normal_matrix(
    d_a: torch.Tensor, d_b: torch.Tensor, d_q: torch.Tensor, out: torch.Tensor | None = None
) -> torch.Tensor:
    """The lower triangle of ``K = Z D_a Zᵀ + F Z D_b Zᵀ F + D_q`` ``(B, N, N)`` from ``d_a = Z D_a``, ``d_b = Z D_b``.

    ``K[S, S'] = d_a[S ∩ S'] + d_b[N \\ (S ∪ S')] + [S = S']·D_q[S]`` (module doc; :func:`_gram`).
    ``out`` (the buffer of an earlier iteration: a new one of ``8·B·4**n`` bytes costs as much to
    fault in as to fill) receives the result when given.
    """
    size = d_a.shape[-1]
    k = torch.empty(*d_a.shape[:-1], size, size, dtype=d_a.dtype, device=d_a.device) if out is None else out
    _gram(d_a, d_b, k, lower=True)
    k.diagonal(dim1=-2, dim2=-1).add_(d_q)
    return k


def _gram(d_a: torch.Tensor, d_b: torch.Tensor | None, out: torch.Tensor, lower: bool) -> None:
    """Write ``Z D_a Zᵀ + F Z D_b Zᵀ F`` (``(B, N, N)``, from ``d_a = Z D_a`` and ``d_b = Z D_b``; ``d_b=None``:
    no second term) into ``out``: its lower triangle only (``lower``), or all of it.

    Entry ``[S, S']`` is ``d_a[S ∩ S'] + d_b[N \\ (S ∪ S')]``. Splitting on the highest player, ``K(d_a, d_b)``
    has the blocks ``[[K(a₀, b₁), K(a₀, b₀)], [K(a₀, b₀), K(a₁, b₀)]]`` (``x₀``, ``x₁``: the halves of
    ``x`` without and with that player); the recursion writes each entry of the lower triangle once,
    which is faster than a gather by ``S & S'`` (it needs no index of ``4**n`` entries). A block of
    :data:`_LEAF` rows is one ``torch.gather`` from the table ``a[i] + b[j]`` of its halves at
    ``(S ∩ S', L \\ (S ∪ S'))`` (``L`` the block's players). At ``n = 10`` on one core that takes
    1.9-2.4 ms per game, against 3.4-4.1 ms for a gather from each vector and a sum, and 7.9 ms for
    gathers by ``S & S'`` over the whole matrix. With ``lower``, only the lower triangle is written
    (and the diagonal blocks of :data:`_LEAF` rows): the Cholesky factorisation and the triangular
    solves read no other.
    """
    s = torch.arange(min(d_a.shape[-1], _LEAF), device=d_a.device)
    index = {}
    while s.numel() >= 1:
        meet, join = s[:, None] & s[None, :], (s.numel() - 1) ^ (s[:, None] | s[None, :])
        index[s.numel()] = (meet, meet * s.numel() + join)
        s = s[: s.numel() // 2]

    def fill(a: torch.Tensor, b: torch.Tensor | None, out: torch.Tensor, lower: bool) -> None:
        width = a.shape[-1]
        if width <= _LEAF:
            meet, both = index[width]
            shape = (*a.shape[:-1], width, width)
            if b is None:
                torch.gather(a[..., None, :].expand(shape), -1, meet.expand(shape), out=out)
            else:
                table = (a[..., :, None] + b[..., None, :]).flatten(-2)
                torch.gather(table[..., None, :].expand(*shape[:-1], width * width), -1, both.expand(shape), out=out)
            return
        h = width // 2
        fill(a[..., :h], None if b is None else b[..., h:], out[..., :h, :h], lower)
        fill(a[..., :h], None if b is None else b[..., :h], out[..., h:, :h], False)
        if not lower:
            out[..., :h, h:] = out[..., h:, :h]
        fill(a[..., h:], None if b is None else b[..., :h], out[..., h:, h:], lower)

    fill(d_a, d_b, out, lower)


def _ratio(x: torch.Tensor, dx: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
    """Per sample, the largest ``α ≤ 1`` with ``x + α·dx ≥ 0`` on the entries ``where`` (``(B, 5, N)`` → ``(B,)``)."""
    rate = torch.where(where & (dx < 0), dx / x, 0.0).flatten(1).amin(1)  # the fastest relative decrease
    return 1.0 / (-rate).clamp(min=1.0)


@dataclass
class _Newton:
    """The Newton system of one iteration for the active games (``(B, 5, N)`` unless noted): the lower
    and upper slacks ``s``, ``w`` and their multipliers ``z``, ``t``, the masks of the variables that
    move and of those with an upper bound, the scaling ``theta``, the Cholesky factor of ``K``
    ``(B, N, N)``, the residuals ``r_p`` ``(B, N)`` and ``r_d``, and the maps ``A``, ``Aᵀ``."""

    s: torch.Tensor
    w: torch.Tensor
    z: torch.Tensor
    t: torch.Tensor
    moves: torch.Tensor
    bounded: torch.Tensor
    theta: torch.Tensor
    chol: torch.Tensor
    r_p: torch.Tensor
    r_d: torch.Tensor
    apply_a: Callable[[torch.Tensor], torch.Tensor]
    apply_at: Callable[[torch.Tensor], torch.Tensor]
    refine: bool = False
    #: the columns ``U`` ``(R, f)`` of ``A`` of the free variables (:attr:`_Problem.free`) and, per game
    #: ``(B, f)``, the part ``E`` of their scaling left out of the factorised matrix: ``K = K₀ + U E Uᵀ``
    free_columns: torch.Tensor | None = None
    excess: torch.Tensor | None = None

    def __post_init__(self) -> None:
        """:meth:`solve` uses Woodbury's identity, ``K⁻¹ = K₀⁻¹ − W (E⁻¹ + Uᵀ W)⁻¹ Wᵀ`` with ``W = K₀⁻¹ U``, where
        some game has an excess; ``W`` comes with the iteration's first solve, in the same triangular
        solves (which are bound by reading the factor, so the extra columns cost little)."""
        self.woodbury = None
        self.pending = self.excess is not None and bool((self.excess > 0).any())
        self.failed = torch.zeros(self.chol.shape[0], dtype=torch.bool, device=self.chol.device)

    def _solve_factor(self, rhs: torch.Tensor) -> torch.Tensor:
        """``K₀⁻¹ rhs`` ``(B, R, k)`` by the Cholesky factor: two triangular solves (``torch.cholesky_solve``
        is 4-10× slower on a CPU)."""
        half = torch.linalg.solve_triangular(self.chol, rhs, upper=False)
        return torch.linalg.solve_triangular(self.chol.mT, half, upper=True)

    def solve(self, rhs: torch.Tensor) -> torch.Tensor:
        """``K⁻¹ rhs`` ``(B, R)``: by the factor of ``K₀``, corrected for the free variables' excess (a free
        variable without one gets a zero column of ``W``)."""
        if self.pending:
            columns = self.free_columns.expand(self.chol.shape[0], *self.free_columns.shape)
            both = self._solve_factor(torch.cat((rhs[..., None], columns), -1))
            y, some = both[..., :1], self.excess > 0
            w = both[..., 1:] * some[:, None, :]
            inverse = torch.where(some, 1.0 / torch.where(some, self.excess, 1.0), 1.0)
            capacitance, info = torch.linalg.cholesky_ex(self.free_columns.mT @ w + torch.diag_embed(inverse))
            self.failed = info != 0  # (after a failed factorisation of K₀): the game stalls
            self.woodbury = (w, capacitance)
            self.pending = False
        else:
            y = self._solve_factor(rhs[..., None])
        if self.woodbury is not None:
            w, capacitance = self.woodbury
            y = y - w @ torch.cholesky_solve(self.free_columns.mT @ y, capacitance)
        return y[..., 0]

    def refined(self, dx: torch.Tensor, dy: torch.Tensor, dz: torch.Tensor, dt: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The direction corrected by one step of iterative refinement so that ``A Δx = r_p`` holds to the
        accuracy of the transforms: ``δy = K⁻¹(r_p − A Δx)``, ``Δx += Θ Aᵀ δy`` (``A Δx`` then changes by
        ``K δy``), and ``Δz``, ``Δt`` follow ``Δx`` (the factor of an ill-conditioned ``K`` alone is not
        accurate enough for the primal residual of the two-model problem to stay small)."""
        ey = self.solve(self.r_p - self.apply_a(dx))
        ex = self.theta * self.apply_at(ey)
        dz = dz - torch.where(self.moves, self.z * ex / self.s, 0.0)
        dt = dt + torch.where(self.bounded, self.t * ex / self.w, 0.0)
        return dx + ex, dy + ey, dz, dt

    def direction(self, rc_l: torch.Tensor, rc_u: torch.Tensor, residuals: bool = True) -> tuple[torch.Tensor, ...]:
        """The Newton step ``(Δx, Δy, Δz, Δt)`` for the complementarity targets ``rc_l``, ``rc_u``, with the
        primal and dual residuals (or without: a corrector)."""
        mv, bd, s, w = self.moves, self.bounded, self.s, self.w
        g = torch.where(mv, rc_l / s - torch.where(bd, rc_u / w, 0.0) - (self.r_d if residuals else 0.0), 0.0)
        dy = self.solve((self.r_p if residuals else 0.0) - self.apply_a(self.theta * g))
        dx = self.theta * (self.apply_at(dy) + g)
        dz = torch.where(mv, (rc_l - self.z * dx) / s, 0.0)
        dt = torch.where(bd, (rc_u + self.t * dx) / w, 0.0)
        return dx, dy, dz, dt

    def steps(self, dx: torch.Tensor, dz: torch.Tensor, dt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The longest primal and dual steps ``≤ 1`` that keep the slacks and multipliers ``≥ 0``, per game."""
        primal = torch.minimum(_ratio(self.s, dx, self.moves), _ratio(self.w, -dx, self.bounded))
        dual = torch.minimum(_ratio(self.z, dz, self.moves), _ratio(self.t, dt, self.bounded))
        return primal, dual

    def search(self, mu: torch.Tensor, count: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Mehrotra's predictor-corrector direction, improved by Gondzio's centrality correctors, and its
        primal and dual step lengths (to the boundary): ``(Δx, Δy, Δz, Δt, α_p, α_d)``."""
        mv, bd, s, w, z, t = self.moves, self.bounded, self.s, self.w, self.z, self.t
        dx, dy, dz, dt = self.direction(-s * z, -w * t)
        ap, ad = self.steps(dx, dz, dt)
        ap3, ad3 = ap[:, None, None], ad[:, None, None]
        mu_aff = (((s + ap3 * dx) * (z + ad3 * dz)).sum((1, 2)) + ((w - ap3 * dx) * (t + ad3 * dt)).sum((1, 2))) / count
        target = ((mu_aff / mu).clamp(max=1.0) ** 3 * mu)[:, None, None]
        dx, dy, dz, dt = self.direction(
            torch.where(mv, target - s * z - dx * dz, 0.0), torch.where(bd, target - w * t + dx * dt, 0.0)
        )
        ap, ad = self.steps(dx, dz, dt)
        low, high = 0.1 * target, 10.0 * target
        for _ in range(CORRECTORS):  # each: one more solve with the same factor, for a longer step
            shortest = torch.minimum(ap, ad)
            goal = torch.clamp(1.5 * shortest + 0.1, max=1.0)
            g3 = goal[:, None, None]
            prod_l, prod_u = (s + g3 * dx) * (z + g3 * dz), (w - g3 * dx) * (t + g3 * dt)
            c_l = torch.where(mv, (prod_l.clamp(min=low, max=high) - prod_l).clamp(min=-high), 0.0)
            c_u = torch.where(bd, (prod_u.clamp(min=low, max=high) - prod_u).clamp(min=-high), 0.0)
            ex, ey, ez, et = self.direction(c_l, c_u, residuals=False)
            nx, ny, nz, nt = dx + ex, dy + ey, dz + ez, dt + et
            bp, bdd = self.steps(nx, nz, nt)
            better = torch.minimum(bp, bdd) >= shortest + 0.1 * (goal - shortest)
            if not bool(better.any()):
                break
            b3 = better[:, None, None]
            dx, dz, dt = torch.where(b3, nx, dx), torch.where(b3, nz, dz), torch.where(b3, nt, dt)
            dy = torch.where(better[:, None], ny, dy)
            ap, ad = torch.where(better, bp, ap), torch.where(better, bdd, ad)
        if self.refine:
            dx, dy, dz, dt = self.refined(dx, dy, dz, dt)
            ap, ad = self.steps(dx, dz, dt)
        return dx, dy, dz, dt, ap, ad


class _Problem:
    """An LP ``min cᵀx, A x = rhs, lower ≤ x ≤ upper`` for a chunk of samples, in the form :func:`_mehrotra`
    solves: the variables ``(B, K, N)`` (``K`` blocks of ``N = 2**n`` entries) with their bounds
    ``lower``, ``upper``, the masks ``moves`` (variables fixed at zero do not) and ``bounded`` (finite
    upper bound), the cost ``(K, N)``, ``count`` (the complementarity pairs per sample) and ``rhs``
    ``(B, R)``; the maps ``apply_a`` and ``apply_at``, the normal matrix ``A Θ Aᵀ`` (:meth:`normal`),
    the starting point, and the certificate (:meth:`offer`), which keeps each sample's best feasible
    point and bound (``best_p``, ``best_d``).
    """

    lower: torch.Tensor
    upper: torch.Tensor
    moves: torch.Tensor
    bounded: torch.Tensor
    cost: torch.Tensor
    count: torch.Tensor
    rhs: torch.Tensor
    best_p: torch.Tensor
    best_d: torch.Tensor
    #: the variables ``(block, entry)`` in artificial boxes that no optimum reaches (the entries ``∅``):
    #: their scaling grows without bound (pairs at ``n = 10``: 2e11 against at most 2e6 for any other
    #: variable), and the factorisation takes of it only as much as the largest other scaling,
    #: the rest by Woodbury's identity (:class:`_Newton`)
    free: tuple[tuple[int, int], ...] = ()

    def free_columns(self) -> torch.Tensor:
        """The columns of ``A`` of the :attr:`free` variables, ``(R, f)``."""
        unit = torch.zeros(len(self.free), *self.lower.shape[1:], dtype=self.lower.dtype, device=self.lower.device)
        for j, (block, entry) in enumerate(self.free):
            unit[j, block, entry] = 1.0
        return self.apply_a(unit).mT

    def apply_a(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def apply_at(self, y: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def normal(self, theta: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """The lower triangle of ``A Θ Aᵀ`` ``(B, R, R)`` for the scaling ``theta`` ``(B, K, N)``, in ``out``."""
        raise NotImplementedError

    def start(self) -> torch.Tensor:
        raise NotImplementedError

    def offer(self, x: torch.Tensor, y: torch.Tensor, active: torch.Tensor) -> None:
        """Certify the point ``x`` and the multipliers ``y`` of the samples ``active``; keep the best."""
        raise NotImplementedError


class _Sparse(_Problem):
    """The sparse problem of one model (module doc): the blocks ``x = (a⁺, a⁻, b⁺, b⁻, q)``, ``R = N`` rows."""

    free = ((0, 0),)  # a⁺[∅] = c

    def __init__(self, v: torch.Tensor, zeta_bound: torch.Tensor, n: int):
        batch, size = v.shape
        dev, dt = v.device, v.dtype
        self.v, self.zeta_bound, self.n = v, zeta_bound, n
        # bounds, costs and which variables move (a⁻[∅], b±[∅] and the noise of a noise-free game do not)
        self.half = v / 2
        p0 = objective(self.half[None], self.half[None], n, 1.0)
        radius = v[:, 0].abs() + zeta_bound + p0 + 1.0
        self.lower = torch.zeros(batch, 5, size, dtype=dt, device=dev)
        self.upper = torch.full_like(self.lower, float("inf"))
        self.lower[:, 0, 0], self.upper[:, 0, 0] = -radius, radius
        self.lower[:, 4], self.upper[:, 4] = -zeta_bound[:, None], zeta_bound[:, None]
        self.moves = torch.ones_like(self.lower, dtype=torch.bool)
        self.moves[:, 1:4, 0] = False
        self.moves[:, 4] &= (zeta_bound > 0)[:, None]
        self.bounded = self.moves & torch.isfinite(self.upper)
        self.cost = torch.ones(5, size, dtype=dt, device=dev)
        self.cost[:, 0] = 0.0
        self.cost[4] = 0.0
        self.count = (self.moves.sum((1, 2)) + self.bounded.sum((1, 2))).to(dt)
        self.rhs = v
        self.best_u, self.best_q = self.half.clone(), torch.zeros_like(v)
        self.best_p = p0.clone()
        self.best_d = torch.zeros_like(p0)

    def apply_a(self, x: torch.Tensor) -> torch.Tensor:
        """``A x`` for the blocks ``x = (a⁺, a⁻, b⁺, b⁻, q)`` ``(B, 5, N)``."""
        n = self.n
        return zeta(x[:, 0] - x[:, 1], n) + zeta(x[:, 2] - x[:, 3], n).flip(-1) - x[:, 4]

    def apply_at(self, y: torch.Tensor) -> torch.Tensor:
        """``Aᵀ y`` ``(B, N)`` → ``(B, 5, N)``."""
        ya, yb = zeta_t(y, self.n), zeta_t(y.flip(-1), self.n)
        return torch.stack((ya, -ya, yb, -yb, -y), 1)

    def normal(self, theta: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        d_a, d_b = zeta(theta[:, 0] + theta[:, 1], self.n), zeta(theta[:, 2] + theta[:, 3], self.n)
        return _normal_matrix(d_a, d_b, theta[:, 4], out=out)

    def start(self) -> torch.Tensor:
        """The fixed split's interactions, pushed into the interior."""
        a0, b0 = mobius(self.half, self.n), mobius(self.half.flip(-1), self.n)
        x = torch.stack((a0.clamp(min=0), (-a0).clamp(min=0), b0.clamp(min=0), (-b0).clamp(min=0), torch.zeros_like(a0)), 1)
        x[:, :4] += PUSH
        x[:, 0, 0] = 0.0
        return torch.where(self.moves, x, torch.zeros_like(x))

    def offer(self, x: torch.Tensor, y: torch.Tensor, active: torch.Tensor) -> None:
        """Any ``a⁺ − a⁻`` gives a feasible point (``q`` clipped to its box, ``u_or = v + q − u_and``)
        and any ``y`` a bound. The matching rows hold only up to the residual ``r``, which
        ``u_or`` takes up and the Möbius transform amplifies (by up to ``3**n`` in ℓ₁); a second
        point moves ``r`` into the noise where the box leaves room (``q = clip(Z a + F Z b − v)``)
        and keeps the better. (Offering the full Newton steps as well was tried: they never
        improved on the iterates.)
        """
        n = self.n
        vv, zz = self.v[active], self.zeta_bound[active]
        box = zz[:, None]
        u = zeta(x[:, 0] - x[:, 1], n)
        qq = torch.minimum(torch.maximum(x[:, 4], -box), box)
        p = objective(u[None], (vv + qq - u)[None], n, 1.0)
        q2 = u + zeta(x[:, 2] - x[:, 3], n).flip(-1) - vv
        q2 = torch.minimum(torch.maximum(q2, -box), box)
        p2 = objective(u[None], (vv + q2 - u)[None], n, 1.0)
        second = p2 < p
        qq, p = torch.where(second[:, None], q2, qq), torch.where(second, p2, p)
        d = dual_bound(y[None], None, vv[None], zz[None], None, n, 1.0)
        better = p < self.best_p[active]
        self.best_u[active[better]], self.best_q[active[better]] = u[better], qq[better]
        self.best_p[active] = torch.minimum(self.best_p[active], p)
        self.best_d[active] = torch.maximum(self.best_d[active], d)


def _solve_chunk(
    v: torch.Tensor,
    zeta_bound: torch.Tensor,
    n: int,
    tol: float,
    max_iter: int,
    atol: torch.Tensor,
    progress: Any,
    threads: int = 1,
) -> tuple[torch.Tensor, ...]:
    """The sparse problem of the games ``v`` ``(B, 2**n)`` (module doc): the best point and bound per game,
    the iterations and whether each converged; the factorisations on ``threads`` threads (:func:`_cholesky`)."""
    problem = _Sparse(v, zeta_bound, n)
    iterations, done = _mehrotra(problem, tol, max_iter, atol, progress, threads)
    return problem.best_u, problem.best_q, problem.best_p, problem.best_d, iterations, done


def _without_excess(theta: torch.Tensor, free: tuple[tuple[int, int], ...]) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The scaling ``theta`` ``(B, K, N)`` with each free variable's capped at the largest other one of its
    sample (what the factorised ``K₀`` takes), and the excess ``(B, f)`` over the cap (:class:`_Newton`)."""
    if not free:
        return theta, None
    blocks, entries = (list(index) for index in zip(*free))
    own = theta[:, blocks, entries]
    factored = theta.clone()
    factored[:, blocks, entries] = 0.0
    kept = torch.minimum(own, factored.flatten(1).amax(1, keepdim=True))
    factored[:, blocks, entries] = kept
    return factored, own - kept


def _mehrotra(
    problem: _Problem, tol: float, max_iter: int, atol: torch.Tensor, progress: Any, threads: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mehrotra's method on the samples of ``problem`` (module doc), each until its certified gap
    ``best_p − best_d`` is at most ``tol·best_p`` or ``atol``, or it stalls; returns the iterations and
    whether each sample converged. The best point and bound stay in ``problem``."""
    lower, upper, moves, bounded, cost, count = (
        problem.lower, problem.upper, problem.moves, problem.bounded, problem.cost, problem.count
    )
    batch, dev, dt = lower.shape[0], lower.device, lower.dtype
    rows = problem.rhs.shape[-1]
    columns = problem.free_columns() if problem.free else None
    buffer = None  # the normal matrices, reused from one iteration to the next
    x = problem.start()
    y = torch.zeros_like(problem.rhs)
    # the multipliers start at 1, those of a boxed variable at most at PUSH / (its larger slack): a wide box
    # (the pair's r, the entries ∅) would otherwise start with products far above the others', which the
    # first iterations spend themselves on (pairs at n = 10: 9.6 instead of 10.6 iterations to 0.1 %)
    start = torch.where(bounded, (PUSH / torch.maximum(x - lower, upper - x)).clamp(max=1.0), 1.0)
    z = moves.to(dt) * start
    t = bounded.to(dt) * start
    best_p, best_d = problem.best_p, problem.best_d
    iterations = torch.zeros(batch, dtype=torch.int64, device=dev)
    done = torch.zeros(batch, dtype=torch.bool, device=dev)
    active = torch.arange(batch, device=dev)
    one = torch.ones((), dtype=dt, device=dev)
    ref_gap = best_p.clone()
    since = torch.zeros(batch, dtype=torch.int64, device=dev)

    def certify() -> tuple[torch.Tensor, torch.Tensor]:
        """The masks of the active samples that are certified, and of those whose certified gap has not
        halved in :data:`STALL` iterations."""
        gap = best_p[active] - best_d[active]
        halved = gap <= ref_gap[active] / 2
        ref_gap[active] = torch.where(halved, gap, ref_gap[active])
        since[active] = torch.where(halved, 0, since[active] + 1)
        return (gap <= tol * best_p[active]) | (gap <= atol[active]), since[active] >= STALL

    for it in range(max_iter + 1):
        problem.offer(x, y, active)
        finished, stalled = certify()
        stalled = (stalled | (it == max_iter)) & ~finished
        if not bool((finished | stalled).all()):
            low, up, mv, bd, cnt = lower[active], upper[active], moves[active], bounded[active], count[active]
            s = torch.where(mv, x - low, one)
            w = torch.where(bd, up - x, one)
            r_p = problem.rhs[active] - problem.apply_a(x)
            r_d = torch.where(mv, cost - problem.apply_at(y) - z + t, 0.0)
            mu = ((s * z).sum((1, 2)) + (w * t).sum((1, 2))) / cnt
            theta = torch.where(mv, 1.0 / (z / s + t / w), 0.0)
            if buffer is None:  # the active samples only ever shrink
                buffer = torch.empty(active.numel(), rows, rows, dtype=dt, device=dev)
            factored, excess = _without_excess(theta, problem.free)
            k = problem.normal(factored, buffer[: active.numel()])
            diag = k.diagonal(dim1=-2, dim2=-1)
            diag += REGULARIZE * diag.mean(-1, keepdim=True)
            chol, info = _cholesky(k, threads)
            del k
            stalled = stalled | (info != 0)
            newton = _Newton(
                s, w, z, t, mv, bd, theta, chol, r_p, r_d, problem.apply_a, problem.apply_at, tol < REFINE_BELOW, columns, excess
            )
            dx, dy, dz, dtt, ap, ad = newton.search(mu, cnt)
            stalled = stalled | newton.failed
            ap, ad = STEP * ap, STEP * ad
            ok = torch.isfinite(dx).flatten(1).all(1) & torch.isfinite(dy).all(1) & (ap > 1e-10) & (ad > 1e-10)
            stalled = stalled | ~ok
            ap = torch.where(ok, ap, 0.0)
            ad = torch.where(ok, ad, 0.0)
            dx, dy = torch.nan_to_num(dx), torch.nan_to_num(dy)
            dz, dtt = torch.nan_to_num(dz), torch.nan_to_num(dtt)
            x = x + ap[:, None, None] * dx
            y = y + ad[:, None] * dy
            z = z + ad[:, None, None] * dz
            t = t + ad[:, None, None] * dtt
        iterations[active] = it
        stop = finished | stalled
        if bool(stop.any()):
            done[active[finished]] = True
            if progress is not None:
                progress(int(stop.sum()))
            keep = ~stop
            active = active[keep]
            x, y, z, t = x[keep], y[keep], z[keep], t[keep]
        if not active.numel():
            break
    return iterations, done
