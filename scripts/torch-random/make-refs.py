"""
Writes test/fixtures/torch-random/: what torch.randn draws on the CPU for a few seeds and call sequences,
the reference for nodes/core/torch-random.ts. Needs only torch (Debian's python3-torch will do):

    /usr/bin/python3 scripts/torch-random/make-refs.py test/fixtures/torch-random

It runs itself twice: with ATEN_CPU_CAPABILITY=default (torch's scalar kernels, which torch-random.ts
follows operation by operation) and with the capability this CPU offers (AVX2 or AVX-512 builds compute
large draws' log, sin and cos with SLEEF's vector functions, a few float ulps apart).
"""
import json
import os
import subprocess
import sys

import numpy as np

# (seed, sizes of successive torch.randn calls on one generator). Sizes under 16 take torch's scalar
# double path (and its cached second normal, carried across calls); 16 and more the float Box-Muller
# blocks, redoing the last 16 when the size is not a multiple of 16.
CASES = [
    (0, [1024]),
    (42, [5, 3, 20, 7]),
    (2**32 + 7, [17, 1]),
    (2**53 - 1, [31, 15, 16]),
    (123456789, [512]),
]


def draw(out_dir, tag):
    import torch

    files = []
    for seed, sizes in CASES:
        g = torch.Generator("cpu").manual_seed(seed)
        values = np.concatenate([torch.randn(n, generator=g).numpy() for n in sizes]).astype("<f4")
        name = f"{tag}-seed{seed}.npy"
        np.save(os.path.join(out_dir, name), values)
        files.append(name)
    usage = [l.split(":", 1)[1].strip() for l in torch.__config__.show().splitlines() if "CPU capability usage" in l]
    return f"{torch.__version__}, CPU capability {usage[0] if usage else 'unknown'}", files


def main():
    out_dir = sys.argv[1]
    if len(sys.argv) > 2:  # child: one capability
        version, files = draw(out_dir, sys.argv[2])
        print(json.dumps({"torch": version, "files": files}))
        return
    os.makedirs(out_dir, exist_ok=True)
    runs = {}
    for tag, env in (("default", {"ATEN_CPU_CAPABILITY": "default"}), ("native", {})):
        child_env = {k: v for k, v in os.environ.items() if k != "ATEN_CPU_CAPABILITY"}
        child_env.update(env)
        out = subprocess.run([sys.executable, __file__, out_dir, tag], env=child_env, check=True, capture_output=True, text=True)
        runs[tag] = json.loads(out.stdout.strip().splitlines()[-1])
    manifest = {
        "made_with": "scripts/torch-random/make-refs.py",
        "captures": {
            "default": f"torch {runs['default']['torch']} (ATEN_CPU_CAPABILITY=default: scalar kernels)",
            "native": f"torch {runs['native']['torch']} (this CPU's SIMD kernels)",
        },
        "cases": [{"seed": seed, "sizes": sizes, "file": f"seed{seed}.npy"} for seed, sizes in CASES],
    }
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
