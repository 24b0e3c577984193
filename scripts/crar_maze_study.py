"""The maze transfer study of van Driessel & François-Lavet with CRAR: does the success of a
freeze-mode transfer (normal maze -> inverse maze) depend on the base model?

Run from the repository root (the study of docs/reproductions/crar.md)::

    nice -n 5 .venv/bin/python scripts/crar_maze_study.py --out runs/crar_maze_study

What it does, with the code's data regime (``specs/baselines.md``, CRAR):

1. ``--base-models`` B base models (agent seeds ``--first-seed`` + 0..B-1), each on its own
   ``--steps`` uniformly random steps of ``tlbench/Maze-v0``, trained offline from scratch:
   ``--base-epochs`` epochs of
   ``--updates-per-epoch`` updates, lr 5e-4 times 0.9 after each epoch.
2. For each base model ``--transfers`` T transfers in the paper's ``freeze`` mode (every
   component copied, only the encoder trains), each with its own agent seed and its own fresh
   random buffer of ``tlbench/InverseMaze-v0``, ``--transfer-epochs`` epochs, lr 8e-5.
3. Measures, per transfer, the embedding alignment (the paper's 5.2.2): the mean over the 31 free
   cells of ``||e_base(normal rendering) - e_transfer(inverse rendering)||`` (the same cell in
   both), divided by the base model's scale, the mean distance between its embeddings of two
   different cells (normal renderings). A transfer succeeds ("embedding not flipped") when that
   ratio is below ``--threshold`` (0.5): the transferred encoder puts each inverse cell closer to
   the base's embedding of that cell than half the typical distance between two cells. Also the
   alignment after the best orthogonal map (rotation or reflection, orthogonal Procrustes), which
   tells a mirrored embedding from a scrambled one.
4. Greedy returns: the base models on Maze-v0, the transfers on InverseMaze-v0, one episode from
   each of the 30 start cells (the maze and the greedy policy are deterministic given the start
   cell, so these 30 episodes give the exact expected return under the uniform start; the script
   checks this for the first base model with a second set of reset seeds).
5. Tests whether success depends on the base model: Fisher-Freeman-Halton's exact test on the
   B x 2 table of (successes, failures) per base model (``scipy.stats.fisher_exact``), and
   chi-square's test of homogeneity on the same table for reference.

The models are trained by :class:`baselines.crar.ensemble.CRAREnsemble` (many models in one
batched pass; the same CRAR, tested against agents trained one by one), split over ``--workers``
processes of one torch thread each. Writes ``results.json`` (everything measured, the config, the
wall times), the models (``base_<b>/``, ``transfer_<b>_<t>/``: ``crar.pt`` and ``crar.json``) and
one figure per base model (``embeddings_base_<b>.png``) into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import tlbench  # noqa: E402
from tlbench.compare import Split, split_text, two_means  # noqa: E402
from tlbench.envs.gridworld import cell_kinds  # noqa: E402
from tlbench.envs.maze import FREE_CELLS, GOAL, START_CELLS, WALLS  # noqa: E402
from tlbench.system import cpu_model  # noqa: E402
from tlbench.timing import require_positive  # noqa: E402

NORMAL_ID, INVERSE_ID = "tlbench/Maze-v0", "tlbench/InverseMaze-v0"
BASE_DATA_SEED, TRANSFER_SEED = 1_000, 10_000
ROOMS = ("left", "doorway", "right")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# ----------------------------------------------------------------------------------------------
# The maze's cells, rendered, and greedy evaluation


def room_of(cell: int) -> str:
    column = cell % 8
    return "left" if column < 4 else "right" if column > 4 else "doorway"


def render_cells(inverse: bool) -> np.ndarray:
    """The low-dimensional observation of the agent on each free cell, (31, 1, 8, 8)."""
    env = gym.make(INVERSE_ID if inverse else NORMAL_ID).unwrapped
    n = len(FREE_CELLS)
    kinds = cell_kinds(
        np.full(n, WALLS, np.uint64), np.full(n, 1 << GOAL, np.uint64), FREE_CELLS.astype(np.int64)
    )
    return env.emission_for("lowdim", inverse).render(kinds)  # type: ignore[attr-defined]


def start_seeds(offset: int = 0) -> dict[int, int]:
    """For each of the 30 start cells, a reset seed (the first from ``offset`` on) that starts
    an episode there."""
    env = gym.make(NORMAL_ID)
    found: dict[int, int] = {}
    seed = offset
    while len(found) < len(START_CELLS):
        obs, _ = env.reset(seed=seed)
        found.setdefault(int(np.flatnonzero(obs.ravel() == 0.5)[0]), seed)
        seed += 1
    return dict(sorted(found.items()))


def greedy_returns(agent: Any, env_id: str, seeds: dict[int, int]) -> list[float]:
    """The return of one greedy episode from each start cell (TimeLimit 100)."""
    env = gym.make(env_id)
    returns = []
    for seed in seeds.values():
        obs, _ = env.reset(seed=seed)
        total, done = 0.0, False
        while not done:
            action, _ = agent.predict(obs)
            obs, reward, terminated, truncated, _ = env.step(action)
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    return returns


# ----------------------------------------------------------------------------------------------
# Training (in worker processes)


def make_agent(env_id: str, seed: int, work: Path, **kwargs: Any) -> Any:
    from baselines.crar import CRAR
    from tlbench.agents import AgentContext

    env = gym.make(env_id)
    spaces = (env.observation_space, env.action_space)
    context = AgentContext(*spaces, (spaces,), spaces, seed, "cpu", work, "target", 0, 0)
    return CRAR(context, **kwargs)


def train_group(job: dict[str, Any]) -> dict[str, Any]:
    """Train one group of models as one ensemble; save them; measure them. Runs in a worker."""
    import torch

    from baselines.crar.ensemble import CRAREnsemble, collect

    torch.set_num_threads(1)
    out = Path(job["out"])
    kind, members = job["kind"], job["members"]
    env_id = NORMAL_ID if kind == "base" else INVERSE_ID
    kwargs = {
        "epochs": job["epochs"],
        "updates_per_epoch": job["updates_per_epoch"],
        "verbose": True,
    }
    start = time.perf_counter()
    agents, buffers = [], []
    for member in members:
        folder = out / member["name"]
        folder.mkdir(parents=True, exist_ok=True)
        agent = make_agent(env_id, member["seed"], folder, **kwargs, mode="freeze")
        if kind == "transfer":
            agent.load(out / f"base_{member['base']}")
        env = gym.make(env_id)
        buffers.append(collect(agent, env, job["steps"], seed=member["data_seed"]))
        agents.append(agent)
    collected, cpu = time.perf_counter(), time.process_time()
    ensemble = CRAREnsemble(agents)
    phase = agents[0].source_phase() if kind == "base" else agents[0].target_phase()
    log(f"{kind} group {[m['name'] for m in members]}: training {len(agents)} models")
    ensemble.learn_offline(buffers, phase, log_every=job["log_every"])
    ensemble.write_back()
    trained, cpu = time.perf_counter(), time.process_time() - cpu

    seeds = {int(k): v for k, v in job["start_seeds"].items()}
    results = []
    for member, agent in zip(members, agents, strict=True):
        agent.save(out / member["name"])
        history = json.dumps(agent.history, indent=1) + "\n"
        (out / member["name"] / "history.json").write_text(history, encoding="utf-8")
        results.append(
            {**member, **measure(agent, env_id, seeds), "final_losses": agent.history[-1]}
        )
    if kind == "base" and job.get("check_determinism"):
        check_determinism(agents[0], results[0], job)
    done = time.perf_counter()
    updates = sum(ensemble.agents[0].schedule(job["steps"]))
    return {
        "kind": kind,
        "members": results,
        "seconds": {
            "collect": collected - start,
            "train": trained - collected,
            "train_cpu": cpu,
            "evaluate": done - trained,
        },
        "updates": updates,
        "model_updates_per_second": updates * len(agents) / (trained - collected),
        "model_updates_per_cpu_second": updates * len(agents) / cpu,
    }


def measure(agent: Any, env_id: str, seeds: dict[int, int]) -> dict[str, Any]:
    """Greedy returns on ``env_id`` and the embeddings of every free cell, both renderings."""
    return {
        "returns": greedy_returns(agent, env_id, seeds),
        "embedding_inverse": agent.embed(render_cells(True)).tolist(),
        "embedding_normal": agent.embed(render_cells(False)).tolist(),
    }


def check_determinism(agent: Any, record: dict[str, Any], job: dict[str, Any]) -> None:
    """The returns again from the same start cells reached by other reset seeds: identical."""
    other = {int(k): v for k, v in job["start_seeds_2"].items()}
    if greedy_returns(agent, NORMAL_ID, other) != record["returns"]:
        raise RuntimeError("greedy returns differ between reset seeds of the same start cell")
    record["determinism_checked"] = True


def reuse_bases(members: list[dict[str, Any]], job: dict[str, Any]) -> list[dict[str, Any]]:
    """The base models saved in ``out`` by an earlier run, measured again (no training)."""
    out = Path(job["out"])
    seeds = {int(k): v for k, v in job["start_seeds"].items()}
    results: list[dict[str, Any]] = []
    for member in members:
        folder = out / member["name"]
        agent = make_agent(NORMAL_ID, member["seed"], folder, verbose=False)
        agent.load(folder)
        record = {**member, **measure(agent, NORMAL_ID, seeds), "reused": True}
        history = folder / "history.json"
        if history.exists():
            record["final_losses"] = json.loads(history.read_text(encoding="utf-8"))[-1]
        if not results:
            check_determinism(agent, record, job)
        results.append(record)
    return results


def run_groups(jobs: list[dict[str, Any]], workers: int) -> list[dict[str, Any]]:
    if workers == 1 or len(jobs) == 1:
        return [train_group(job) for job in jobs]
    with mp.get_context("spawn").Pool(min(workers, len(jobs))) as pool:
        return pool.map(train_group, jobs)


def split(items: Sequence[Any], parts: int) -> list[list[Any]]:
    parts = max(1, min(parts, len(items)))
    return [list(items[i::parts]) for i in range(parts)]


# ----------------------------------------------------------------------------------------------
# Analysis


def alignment(base: np.ndarray, transferred: np.ndarray) -> dict[str, float | bool]:
    """Distances between the base's embedding of the normal cells (31, d) and the transfer's of
    the inverse cells (31, d): raw, and after the best orthogonal map of the transfer's."""
    from scipy.linalg import orthogonal_procrustes

    distance = float(np.linalg.norm(base - transferred, axis=1).mean())
    rotation, _ = orthogonal_procrustes(transferred, base)
    mapped = transferred @ rotation
    return {
        "distance": distance,
        "procrustes_distance": float(np.linalg.norm(base - mapped, axis=1).mean()),
        "procrustes_is_reflection": bool(np.linalg.det(rotation) < 0),
    }


def cell_scale(embedding: np.ndarray) -> float:
    """Mean distance between the embeddings of two different cells."""
    d = np.linalg.norm(embedding[:, None] - embedding[None], axis=2)
    n = len(embedding)
    return float(d.sum() / (n * (n - 1)))


def fisher_freeman_halton(table: np.ndarray, max_tables: int = 20_000_000) -> float:
    """Exact p-value of Fisher-Freeman-Halton's test of independence on an (R, 2) table.

    Every table with the observed row sums and column sums is enumerated; under independence
    its probability is ``prod_i C(n_i, s_i) / C(N, S)`` (``s_i`` successes of row ``i``); the
    p-value is the total probability of the tables no more probable than the observed one.

    >>> f"{fisher_freeman_halton(np.array([[3, 19], [21, 1]])):.6g}"  # 2x2: Fisher's exact test
    '3.87396e-08'
    >>> round(fisher_freeman_halton(np.array([[6, 0], [0, 6], [3, 3], [2, 4]])), 6)
    0.004817
    """
    from scipy.special import gammaln

    def log_choose(n: Any, k: Any) -> Any:
        return gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1)

    rows, successes = table.sum(1), int(table[:, 0].sum())
    if np.prod(rows + 1.0) > max_tables:
        raise ValueError(f"table {table.tolist()} too large to enumerate; use a permutation test")
    sums, log_p = np.zeros(1, np.int64), np.zeros(1)
    for n in rows:
        k = np.arange(n + 1)
        sums = (sums[:, None] + k[None]).ravel()
        log_p = (log_p[:, None] + log_choose(n, k)[None]).ravel()
        keep = sums <= successes
        sums, log_p = sums[keep], log_p[keep]
    log_p = log_p[sums == successes]
    observed = float(log_choose(rows, table[:, 0]).sum())
    total = np.exp(log_p - log_p.max()).sum()
    extreme = np.exp(log_p[log_p <= observed + 1e-7] - log_p.max()).sum()
    return float(extreme / total)


def homogeneity_tests(table: np.ndarray) -> dict[str, Any]:
    """Fisher-Freeman-Halton (exact) and chi-square tests on a (B, 2) table of (successes,
    failures) per base model."""
    from scipy.stats import chi2_contingency

    if (table.sum(0) == 0).any() or len(table) < 2:
        return {
            "fisher_freeman_halton_p": 1.0,
            "chi2_p": 1.0,
            "note": "every transfer in one class: no test possible, p = 1",
        }
    chi2 = chi2_contingency(table)
    return {
        "fisher_freeman_halton_p": fisher_freeman_halton(table),
        "chi2": float(chi2.statistic),
        "chi2_dof": int(chi2.dof),
        "chi2_p": float(chi2.pvalue),
        "min_expected_count": float(chi2.expected_freq.min()),
    }


def histogram(values: Sequence[float], width: float = 0.1, top: float = 2.0) -> list[str]:
    """A text histogram of ``values`` in bins of ``width`` up to ``top``, then one overflow bin."""
    edges = np.append(np.arange(0, top + width / 2, width), np.inf)
    counts, _ = np.histogram(np.asarray(values), edges)
    return [
        f"[{lo:.1f}, {hi:.1f}) {c:>3} {'#' * c}"
        if np.isfinite(hi)
        else f">= {lo:.1f}     {c:>3} {'#' * c}"
        for lo, hi, c in zip(edges[:-1], edges[1:], counts, strict=True)
    ]


def analyse(
    bases: list[dict[str, Any]], transfers: list[dict[str, Any]], threshold: float
) -> dict[str, Any]:
    by_base = {b["base"]: b for b in bases}
    per_base: dict[int, dict[str, Any]] = {}
    for b in bases:
        emb = np.asarray(b["embedding_normal"])
        b["scale"] = cell_scale(emb)
        # where every transfer starts: the base encoder itself on the inverse renderings
        before = alignment(emb, np.asarray(b["embedding_inverse"]))
        b["ratio_before_transfer"] = before["distance"] / b["scale"]
        b["mean_return"] = float(np.mean(b["returns"]))
        per_base[b["base"]] = {"successes": 0, "failures": 0, "ratios": []}
    for t in transfers:
        base = by_base[t["base"]]
        a = alignment(np.asarray(base["embedding_normal"]), np.asarray(t["embedding_inverse"]))
        t.update(a)
        t["ratio"] = a["distance"] / base["scale"]
        t["procrustes_ratio"] = a["procrustes_distance"] / base["scale"]
        t["success"] = bool(t["ratio"] < threshold)
        t["mean_return"] = float(np.mean(t["returns"]))
        entry = per_base[t["base"]]
        entry["successes" if t["success"] else "failures"] += 1
        entry["ratios"].append(t["ratio"])
    order = sorted(per_base)
    table = np.array([[per_base[b]["successes"], per_base[b]["failures"]] for b in order])
    ok = [t["mean_return"] for t in transfers if t["success"]]
    bad = [t["mean_return"] for t in transfers if not t["success"]]
    ratios = [t["ratio"] for t in transfers]
    return {
        "threshold": threshold,
        "table": {"base_models": order, "successes_failures": table.tolist()},
        "tests": homogeneity_tests(table),
        "per_base": {
            str(b): {
                **per_base[b],
                "scale": by_base[b]["scale"],
                "ratio_before_transfer": by_base[b]["ratio_before_transfer"],
                "base_mean_return": by_base[b]["mean_return"],
            }
            for b in order
        },
        "ratios_sorted": sorted(ratios),
        "histogram": histogram(ratios),
        # two groups? the exact 2-means split, against one Gaussian (tlbench compare's test)
        "split": None if (split := two_means(ratios)) is None else split.to_dict(),
        "mean_return_success": float(np.mean(ok)) if ok else None,
        "mean_return_failure": float(np.mean(bad)) if bad else None,
    }


def plot(bases: list[dict[str, Any]], transfers: list[dict[str, Any]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {"left": "tab:blue", "doorway": "tab:green", "right": "tab:orange"}
    cell_colours = [colours[room_of(int(c))] for c in FREE_CELLS]
    for base in bases:
        mine = [t for t in transfers if t["base"] == base["base"]]
        n = len(mine) + 1
        cols = min(4, n)
        rows = -(-n // cols)
        fig, axes = plt.subplots(rows, cols, figsize=(3 * cols, 3 * rows), squeeze=False)
        ref = np.asarray(base["embedding_normal"])
        axes[0][0].scatter(ref[:, 0], ref[:, 1], c=cell_colours, s=18)
        axes[0][0].set_title(
            f"base {base['base']} (normal), return {base['mean_return']:.2f}", fontsize=8
        )
        for ax, t in zip(axes.flat[1:], mine, strict=False):
            emb = np.asarray(t["embedding_inverse"])
            ax.scatter(ref[:, 0], ref[:, 1], c="lightgrey", s=12)
            ax.scatter(emb[:, 0], emb[:, 1], c=cell_colours, s=18, marker="x")
            verdict = "aligned" if t["success"] else "not aligned"
            ax.set_title(
                f"transfer {t['transfer']}: ratio {t['ratio']:.2f} ({verdict})\n"
                f"return {t['mean_return']:.2f}",
                fontsize=8,
            )
        for ax in axes.flat[n:]:
            ax.axis("off")
        fig.suptitle(
            "x: transferred encoder on inverse cells; grey: base encoder on normal cells; "
            "blue left room, green doorway, orange right room",
            fontsize=8,
        )
        fig.tight_layout()
        fig.savefig(out / f"embeddings_base_{base['base']}.png", dpi=90)
        plt.close(fig)


# ----------------------------------------------------------------------------------------------
# Main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=Path("runs/crar_maze_study"))
    parser.add_argument("--base-models", type=int, default=4, help="B base models")
    parser.add_argument(
        "--first-seed",
        type=int,
        default=0,
        help="agent seed of the first base model (a replication uses fresh seeds)",
    )
    parser.add_argument("--transfers", type=int, default=11, help="T transfers per base model")
    parser.add_argument("--steps", type=int, default=5_000, help="random steps per buffer")
    parser.add_argument("--base-epochs", type=int, default=50, help="paper: 50")
    parser.add_argument("--transfer-epochs", type=int, default=50, help="paper: 50")
    parser.add_argument("--updates-per-epoch", type=int, default=5_000, help="paper: 5,000")
    parser.add_argument("--threshold", type=float, default=0.5, help="success: ratio below it")
    parser.add_argument("--workers", type=int, default=2, help="processes, one thread each")
    parser.add_argument(
        "--base-workers", type=int, default=None, help="processes for the base models [--workers]"
    )
    parser.add_argument("--log-every", type=int, default=1, help="epochs between loss lines")
    parser.add_argument(
        "--analyse-only",
        action="store_true",
        help="no training: recompute the analysis and figures of --out/results.json",
    )
    parser.add_argument(
        "--reuse-bases",
        action="store_true",
        help="do not train base models: load base_<b>/ of an earlier run in --out",
    )
    args = parser.parse_args(argv)
    require_positive(
        parser, args, "base_models", "transfers", "steps", "base_epochs", "transfer_epochs"
    )
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    out: Path = args.out
    if args.analyse_only:
        return analyse_again(out, args.threshold)
    out.mkdir(parents=True, exist_ok=True)
    begin = time.perf_counter()
    load = os.getloadavg()
    log(
        f"CRAR maze study: {args.base_models} base models x {args.transfers} transfers, "
        f"{args.steps} steps, epochs {args.base_epochs} (base) / {args.transfer_epochs} "
        f"(transfer) x {args.updates_per_epoch} updates, {args.workers} workers; "
        f"cpu {cpu_model()} ({os.cpu_count()} cores), load {load[0]:.2f}"
    )
    seeds, seeds_2 = start_seeds(0), start_seeds(100_000)
    common = {
        "out": str(out),
        "steps": args.steps,
        "updates_per_epoch": args.updates_per_epoch,
        "log_every": args.log_every,
        "start_seeds": seeds,
        "start_seeds_2": seeds_2,
    }

    base_members: list[dict[str, Any]] = [
        {
            "name": f"base_{b}",
            "base": b,
            "seed": args.first_seed + b,
            "data_seed": BASE_DATA_SEED + args.first_seed + b,
        }
        for b in range(args.base_models)
    ]
    jobs: list[dict[str, Any]] = [
        {**common, "kind": "base", "members": group, "epochs": args.base_epochs}
        for group in split(base_members, args.base_workers or args.workers)
    ]
    jobs[0]["check_determinism"] = True
    t0 = time.perf_counter()
    if args.reuse_bases:
        log(f"reusing the base models saved in {out}")
        base_results: list[dict[str, Any]] = [
            {"kind": "base", "members": reuse_bases(base_members, jobs[0])}
        ]
    else:
        base_results = run_groups(jobs, args.base_workers or args.workers)
    base_seconds = time.perf_counter() - t0
    bases: list[dict[str, Any]] = sorted(
        (m for r in base_results for m in r["members"]), key=lambda m: m["base"]
    )
    log(
        f"base models done in {base_seconds:.0f} s; returns on Maze-v0: "
        + ", ".join(f"{np.mean(b['returns']):.2f}" for b in bases)
    )

    transfer_members: list[dict[str, Any]] = [
        {
            "name": f"transfer_{b}_{t}",
            "base": b,
            "transfer": t,
            "seed": TRANSFER_SEED + 100 * (args.first_seed + b) + t,
            "data_seed": TRANSFER_SEED + 100 * (args.first_seed + b) + t,
        }
        for b in range(args.base_models)
        for t in range(args.transfers)
    ]
    jobs = [
        {**common, "kind": "transfer", "members": group, "epochs": args.transfer_epochs}
        for group in split(transfer_members, args.workers)
    ]
    t0 = time.perf_counter()
    transfer_results = run_groups(jobs, args.workers)
    transfer_seconds = time.perf_counter() - t0
    transfers = sorted(
        (m for r in transfer_results for m in r["members"]),
        key=lambda m: (m["base"], m["transfer"]),
    )
    log(f"transfers done in {transfer_seconds:.0f} s")

    analysis = analyse(bases, transfers, args.threshold)
    plot(bases, transfers, out)
    total = time.perf_counter() - begin
    results = {
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "machine": {
            "cpu": cpu_model(),
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "tlbench": tlbench.__version__,
            "load_average_at_start": load,
            "load_average_at_end": os.getloadavg(),
        },
        "wall_seconds": {"total": total, "base": base_seconds, "transfer": transfer_seconds},
        "groups": [
            {k: v for k, v in r.items() if k != "members"} | {"models": len(r["members"])}
            for r in base_results + transfer_results
        ],
        "analysis": analysis,
        "bases": bases,
        "transfers": transfers,
    }
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")

    log(f"whole study: {total:.0f} s wall ({total / 3600:.2f} h)")
    report(analysis, out, transfers)
    return 0


def report(analysis: dict[str, Any], out: Path, transfers: list[dict[str, Any]]) -> None:
    """Print the analysis's main numbers and one line per transfer."""
    print("base transfer  distance  ratio  procrustes ratio  reflection  return  success")
    for t in transfers:
        print(
            f"{t['base']:>4} {t['transfer']:>8}  {t['distance']:>8.3f}  {t['ratio']:>5.2f}  "
            f"{t['procrustes_ratio']:>16.2f}  {t['procrustes_is_reflection']!s:>10}  "
            f"{t['mean_return']:>6.2f}  {t['success']}"
        )
    print(f"success: alignment ratio below {analysis['threshold']}")
    print("per base model: successes / failures, base return on Maze-v0")
    table = analysis["table"]
    for b, (s, f) in zip(table["base_models"], table["successes_failures"], strict=True):
        info = analysis["per_base"][str(b)]
        print(
            f"  base {b}: {s} / {f}  return {info['base_mean_return']:.2f}  cell scale "
            f"{info['scale']:.3f}  ratio before transfer {info['ratio_before_transfer']:.2f}"
        )
    print(f"tests: {analysis['tests']}")
    print("alignment ratio (distance / base cell scale), all transfers:")
    print("\n".join(f"  {line}" for line in analysis["histogram"]))
    if analysis.get("split") is not None:
        split = Split.from_dict(analysis["split"])
        print(f"  {split_text(split, 'alignment ratios')}")
    print(
        f"mean transfer return on InverseMaze-v0: success {analysis['mean_return_success']}, "
        f"failure {analysis['mean_return_failure']}"
    )
    print(f"results: {out / 'results.json'}")


def analyse_again(out: Path, threshold: float) -> int:
    """Recompute the analysis and the figures of ``out/results.json`` (no training)."""
    path = out / "results.json"
    results = json.loads(path.read_text(encoding="utf-8"))
    results["analysis"] = analyse(results["bases"], results["transfers"], threshold)
    plot(results["bases"], results["transfers"], out)
    path.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    report(results["analysis"], out, results["transfers"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
