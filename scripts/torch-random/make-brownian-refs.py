"""
Writes test/fixtures/brownian/: numpy SeedSequence states, Python round() results, and what
torchsde.BrownianTree and ComfyUI's BrownianTreeNoiseSampler (cpu=True, identity transform) give for a
few seeds and latent sizes: the reference for nodes/core/seed-sequence.ts and nodes/core/brownian-tree.ts.

Regenerate with Debian's python3 (numpy and torch; torchsde is read from a source tree, not installed):

    mkdir -p /tmp/tsde
    git -C /work/.mirror/google-research+torchsde/repo archive HEAD torchsde | tar -x -C /tmp/tsde
    TORCHSDE_SRC=/tmp/tsde \
    TORCHSDE_COMMIT=$(git -C /work/.mirror/google-research+torchsde/repo rev-parse HEAD) \
        /usr/bin/python3 scripts/torch-random/make-brownian-refs.py test/fixtures/brownian

torchsde imports the small `trampoline` package; this script supplies its own version of it. The tree
noise is captured twice, like make-refs.py: with ATEN_CPU_CAPABILITY=default (torch's scalar kernels)
and with this CPU's SIMD kernels (randn of 16+ elements then uses SLEEF's log/sin/cos).
ComfyUI's sampler is re-expressed below in its few torch float32 operations (nothing of it is imported).
"""
import json
import os
import subprocess
import sys
import types
import warnings

import numpy as np

from torchsde_shim import install_trampoline

# (entropy, spawn_key, pool_size, words): entropy 0, one above 2^32, ComfyUI's largest seed; spawn keys
# padded to the pool or not (entropy longer than the pool), a multi-word key entry, pool sizes 4..24.
SEED_SEQUENCE_CASES = [
    (0, (), 4, 4),
    (0, (0, 0), 24, 4),
    (42, (), 24, 3),
    (42, (0, 0), 24, 4),
    (42, (5, 3), 24, 4),
    (2**32 + 5, (), 24, 3),
    (2**32 + 5, (1, 1), 24, 4),
    (2**64 - 1, (6, 2), 24, 4),
    (123456789, (2**40 + 3, 7), 24, 6),
    (2**200 + 17, (), 4, 8),
    (2**200 + 17, (3,), 4, 5),
    (7, (1, 2, 3), 8, 10),
]

PYTHON_ROUND_CASES = [
    (0.0078125, 6), (0.5078125, 6), (-0.0078125, 6), (2.5, 0), (3.5, 0), (0.5, 0),
    (14.614600181579590, 6), (0.029199999570846558, 6), (7.3219, 6), (1e-7, 6), (4.9e-7, 6),
    (1234.5678, -2), (123456.7890125, 6), (0.1 + 0.2, 6),
]

# (seed, latent shape): one tree per case, for one Comfy sampler run each.
TREE_CASES = [(0, (1, 7)), (42, (1, 3, 4, 4)), (2**32 + 5, (1, 3, 4, 4))]

# Raw tree(ta, tb) queries (Python floats): several nodes, ends clamped, equal ends, a 6-digit tie, a deep one.
RAW_QUERIES = [(1.0, 2.0), (0.5, 10.0), (0.0, 0.1), (5.0, 20.0), (3.0, 3.0), (0.5078125, 1.25), (0.03, 0.030002)]


def import_brownian():
    """torchsde._brownian without torchsde/__init__.py (which pulls in the SDE solvers)."""
    src = os.environ.get("TORCHSDE_SRC")
    if not src:
        sys.exit("set TORCHSDE_SRC to a directory holding torchsde/ (see the top of this script)")
    install_trampoline()
    package = types.ModuleType("torchsde")
    package.__path__ = [os.path.join(src, "torchsde")]
    sys.modules["torchsde"] = package
    import torchsde._brownian as brownian

    return brownian


def karras_sigmas(n, sigma_min, sigma_max, rho=7.0):
    """ComfyUI's get_sigmas_karras (float32), with the trailing zero."""
    import torch

    ramp = torch.linspace(0, 1, n)
    min_inv_rho = sigma_min ** (1 / rho)
    max_inv_rho = sigma_max ** (1 / rho)
    sigmas = (max_inv_rho + ramp * (min_inv_rho - max_inv_rho)) ** rho
    return torch.cat([sigmas, sigmas.new_zeros([1])])


class ComfyBrownianNoise:
    """BatchedBrownianTree + BrownianTreeNoiseSampler for one integer seed, cpu=True, identity transform."""

    def __init__(self, brownian, x, sigma_min, sigma_max, seed):
        import torch

        t0, t1 = torch.as_tensor(sigma_min), torch.as_tensor(sigma_max)
        t0, t1, self.sign = (t0, t1, 1) if t0 < t1 else (t1, t0, -1)
        self.tree = brownian.BrownianTree(t0.cpu(), torch.zeros_like(x).cpu(), t1.cpu(), entropy=seed)

    def raw(self, ta, tb):
        return self.tree(ta, tb)

    def __call__(self, sigma, sigma_next):
        import torch

        t0, t1 = torch.as_tensor(sigma), torch.as_tensor(sigma_next)
        a, b, sign = (t0, t1, 1) if t0 < t1 else (t1, t0, -1)
        w = torch.stack([self.tree(a.cpu().float(), b.cpu().float())]) * (self.sign * sign)
        return w[0] / (t1 - t0).abs().sqrt()


def sigma_plan():
    """The float32 sigmas the sampler runs visit, made once in the parent: torch's vectorized pow (the
    Karras grid) differs in the last bit between CPU capabilities, and both captures must query alike."""
    sigmas = karras_sigmas(10, 0.0292, 14.6146)
    mids = []
    for i in range(len(sigmas) - 1):  # DPM++ SDE (r = 1/2): the midpoint in half-log-SNR, float32 tensor ops
        s, s_next = sigmas[i], sigmas[i + 1]
        lambda_s, lambda_t = s.log().neg(), s_next.log().neg()
        mids.append(float((lambda_s + 0.5 * (lambda_t - lambda_s)).neg().exp()) if s_next > 0 else None)
    return {"sigmas": [float(s) for s in sigmas], "mids": mids}


def draw(out_dir, tag, plan):
    """The tree fixtures under one CPU capability: one .npy per tree, rows in the manifest's query order."""
    import torch

    brownian = import_brownian()
    warnings.simplefilter("ignore")  # torchsde warns about the clamped queries on purpose
    sigmas = torch.tensor(plan["sigmas"], dtype=torch.float32)
    mids = [None if m is None else torch.tensor(m, dtype=torch.float32) for m in plan["mids"]]
    positive = sigmas[sigmas > 0]
    sigma_min, sigma_max = positive.min(), sigmas.max()
    trees = []
    for seed, shape in TREE_CASES:
        x = torch.zeros(shape)
        noise = ComfyBrownianNoise(brownian, x, sigma_min, sigma_max, seed)
        rows, queries = [], []

        def record(kind, a, b, value):
            queries.append({"kind": kind, "a": float(a), "b": float(b)})
            rows.append(value.reshape(-1).numpy().astype("<f4"))

        for i in range(len(sigmas) - 1):  # DPM++ 2M SDE: noise(sigma_i, sigma_i+1) while sigma_i+1 > 0
            s, s_next = sigmas[i], sigmas[i + 1]
            if s_next == 0:
                continue
            record("raw", s_next, s, noise.raw(float(s_next), float(s)))
            record("comfy", s, s_next, noise(s, s_next))
        for i in range(len(sigmas) - 1):  # DPM++ SDE: noise(sigma_i, sigma_mid), then noise(sigma_i, sigma_i+1)
            s, s_next, s_mid = sigmas[i], sigmas[i + 1], mids[i]
            if s_next == 0:
                continue
            record("comfy", s, s_mid, noise(s, s_mid))
            record("comfy", s, s_next, noise(s, s_next))
        record("raw", sigma_min, sigma_max, noise.raw(float(sigma_min), float(sigma_max)))
        for a, b in RAW_QUERIES:
            record("raw", a, b, noise.raw(a, b))
        name = f"{tag}-tree-seed{seed}.npy"
        np.save(os.path.join(out_dir, name), np.stack(rows))
        trees.append({
            "seed": str(seed),
            "shape": list(shape),
            "size": int(np.prod(shape)),
            "sigma_min": float(sigma_min),
            "sigma_max": float(sigma_max),
            "file": name[len(tag) + 1:],
            "queries": queries,
        })
    usage = [l.split(":", 1)[1].strip() for l in torch.__config__.show().splitlines() if "CPU capability usage" in l]
    return {
        "torch": f"{torch.__version__}, CPU capability {usage[0] if usage else 'unknown'}",
        "trees": trees,
    }


def main():
    out_dir = sys.argv[1]
    if len(sys.argv) > 2:  # child: one capability, the plan as JSON
        print(json.dumps(draw(out_dir, sys.argv[2], json.loads(sys.argv[3]))))
        return
    import torch

    os.makedirs(out_dir, exist_ok=True)
    plan = sigma_plan()
    runs = {}
    for tag, env in (("default", {"ATEN_CPU_CAPABILITY": "default"}), ("native", {})):
        child_env = {k: v for k, v in os.environ.items() if k != "ATEN_CPU_CAPABILITY"}
        child_env.update(env)
        out = subprocess.run([sys.executable, __file__, out_dir, tag, json.dumps(plan)], env=child_env, check=True, capture_output=True, text=True)
        runs[tag] = json.loads(out.stdout.strip().splitlines()[-1])
    assert runs["default"]["trees"] == runs["native"]["trees"]

    seed_sequence = []
    for entropy, spawn_key, pool_size, words in SEED_SEQUENCE_CASES:
        state = np.random.SeedSequence(entropy=entropy, spawn_key=spawn_key, pool_size=pool_size).generate_state(words)
        seed_sequence.append({
            "entropy": str(entropy),
            "spawn_key": [str(k) for k in spawn_key],
            "pool_size": pool_size,
            "state": [int(v) for v in state],
        })
    manifest = {
        "made_with": "scripts/torch-random/make-brownian-refs.py",
        "torchsde_commit": os.environ.get("TORCHSDE_COMMIT", "unknown"),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "captures": {
            "default": f"torch {runs['default']['torch']} (ATEN_CPU_CAPABILITY=default: scalar kernels)",
            "native": f"torch {runs['native']['torch']} (this CPU's SIMD kernels)",
        },
        "seed_sequence": seed_sequence,
        "python_round": [{"x": x, "ndigits": d, "rounded": round(x, d)} for x, d in PYTHON_ROUND_CASES],
        "karras_sigmas": plan["sigmas"],
        "sde_midpoints": plan["mids"],
        "trees": runs["default"]["trees"],
    }
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
