"""
The curve cases of the ComfyUI parity check (cases.ts curveCases): the sigmas of ComfyUI's stand-alone
scheduler nodes (AlignYourStepsScheduler, GITSScheduler, OptimalStepsScheduler, KarrasScheduler,
ExponentialScheduler, PolyexponentialScheduler, LaplaceScheduler, VPScheduler, SDTurboScheduler,
BetaSamplingScheduler, ManualSigmas), computed by the nodes' own code, and on VP models the model timestep ComfyUI feeds at
each step's level.

    npm run parity:comfyui:prepare -- out/comfyui-parity '^curve-'
    COMFYUI_SRC=../ComfyUI COMFYUI_COMMIT=... python3 scripts/comfyui-parity/check_curves.py out/comfyui-parity \
        [--save-refs test/fixtures/comfyui-parity]

Needs numpy, scipy and torch only. The node classes are taken from their files by name (check.py's
defs_from) with ComfyUI's node API (comfy_api's io) stubbed; the k-diffusion curves from
comfy/k_diffusion/sampling.py, beta_scheduler from comfy/samplers.py, the model sampling classes from
comfy/model_sampling.py. Writes curves.json (the commit each source file came from, and each case's
levels and timesteps); the tolerance check lives in test/comfyui-parity.test.ts.
"""
import argparse
import json
import math
import os
import re
import sys
import types

import numpy as np
import scipy
import scipy.stats
import torch

sys.modules.setdefault("onnxruntime", types.ModuleType("onnxruntime"))  # check.py's run cases need it; these do not
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check import Api, FakeModel, defs_from, model_sampling_for, stub  # noqa: E402


CURVE_NODES = {
    "align_your_steps": "AlignYourStepsScheduler",
    "gits": "GITSScheduler",
    "karras": "KarrasScheduler",
    "exponential": "ExponentialScheduler",
    "polyexponential": "PolyexponentialScheduler",
    "laplace": "LaplaceScheduler",
    "vp": "VPScheduler",
    "sd_turbo": "SDTurboScheduler",
    "beta": "BetaSamplingScheduler",
    "optimal_steps": "OptimalStepsScheduler",
    "manual": "ManualSigmas",
}
K_CURVES = ["get_sigmas_karras", "get_sigmas_exponential", "get_sigmas_polyexponential", "get_sigmas_vp", "get_sigmas_laplace"]


def load(src):
    sys.path.insert(0, src)
    util = defs_from(os.path.join(src, "comfy/ldm/modules/diffusionmodules/util.py"), ["make_beta_schedule", "betas_for_alpha_bar"], {"torch": torch, "np": np, "math": math})
    # Older util.py versions return the betas as numpy, newer ones as the torch tensor model_sampling.py needs.
    betas = lambda *a, **k: torch.as_tensor(util["make_beta_schedule"](*a, **k))
    stub("comfy.ldm.modules.diffusionmodules.util", make_beta_schedule=betas)
    import comfy.model_sampling as ms_mod

    k_file = os.path.join(src, "comfy/k_diffusion/sampling.py")
    k_ns = {"torch": torch, "math": math}
    k_ns["append_zero"] = lambda x: torch.cat([x, x.new_zeros([1])])
    k_ns["utils"] = types.SimpleNamespace(append_zero=k_ns["append_zero"])
    defs_from(k_file, K_CURVES, k_ns)
    samplers = defs_from(os.path.join(src, "comfy/samplers.py"), ["beta_scheduler"], {"torch": torch, "numpy": np, "scipy": scipy, "np": np})
    io = Api()
    node_ns = {
        "torch": torch, "math": math, "np": np, "io": io, "re": re,
        "k_diffusion_sampling": types.SimpleNamespace(**{k: k_ns[k] for k in K_CURVES}),
        "comfy": types.SimpleNamespace(samplers=types.SimpleNamespace(beta_scheduler=samplers["beta_scheduler"])),
    }
    nodes = {}
    names = [n for n in CURVE_NODES.values() if n not in ("AlignYourStepsScheduler", "GITSScheduler", "OptimalStepsScheduler")]
    nodes.update({n: defs_from(os.path.join(src, "comfy_extras/nodes_custom_sampler.py"), names, dict(node_ns))[n] for n in names})
    nodes["AlignYourStepsScheduler"] = defs_from(os.path.join(src, "comfy_extras/nodes_align_your_steps.py"), ["loglinear_interp", "NOISE_LEVELS", "AlignYourStepsScheduler"], dict(node_ns))["AlignYourStepsScheduler"]
    nodes["OptimalStepsScheduler"] = defs_from(os.path.join(src, "comfy_extras/nodes_optimalsteps.py"), ["loglinear_interp", "NOISE_LEVELS", "OptimalStepsScheduler"], dict(node_ns))["OptimalStepsScheduler"]
    nodes["GITSScheduler"] = defs_from(os.path.join(src, "comfy_extras/nodes_gits.py"), ["loglinear_interp", "NOISE_LEVELS", "GITSScheduler"], dict(node_ns))["GITSScheduler"]
    return ms_mod, nodes


def node_sigmas(cls, **kwargs):
    """A scheduler node's SIGMAS output: new-style nodes (execute, io.NodeOutput) or old-style (get_sigmas, a tuple)."""
    out = cls.execute(**kwargs) if hasattr(cls, "execute") else cls().get_sigmas(**kwargs)
    return out[0] if isinstance(out, tuple) else out


def source_commits(src):
    """Which ComfyUI commit each file came from: COMMITS.txt in the tree ("<path> <commit>" lines, for a tree
    put together file by file), else the tree's one commit (COMFYUI_COMMIT)."""
    listing = os.path.join(src, "COMMITS.txt")
    if not os.path.exists(listing):
        return {"*": os.environ.get("COMFYUI_COMMIT")}
    return dict(line.split(" ", 1) for line in open(listing).read().splitlines() if " " in line)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--comfy", default=os.environ.get("COMFYUI_SRC"), help="a ComfyUI source tree (default $COMFYUI_SRC)")
    ap.add_argument("--save-refs")
    args = ap.parse_args()
    if not args.comfy:
        sys.exit("check_curves.py: give the ComfyUI source tree with --comfy or COMFYUI_SRC")
    ms_mod, nodes = load(args.comfy)
    manifest = json.load(open(os.path.join(args.dir, "manifest.json")))
    rows = []
    for c in manifest["curves"]:
        # Flow cases (levels only) need no model sampling.
        ms = model_sampling_for(ms_mod, c["space"], c["config"]) if c["space"] == "vp" else None
        params = dict(c["params"])
        if c["curve"] in ("sd_turbo", "beta"):
            params["model"] = FakeModel(ms)
        sig = node_sigmas(nodes[CURVE_NODES[c["curve"]]], **params).float()
        ts = None if ms is None else [float(v) for v in (ms.timestep(sig[:-1]).double() if len(sig) > 1 else torch.zeros(0))]
        rows.append({"id": c["id"], "sigmas": [float(v) for v in sig], "timesteps": ts})
        print(f"{c['id']}: {len(sig)} levels")
    print(f"{len(rows)} curve cases computed")
    if args.save_refs:
        os.makedirs(args.save_refs, exist_ok=True)
        head = {"comfyui_files": source_commits(args.comfy), "torch": torch.__version__}
        lines = [f' {json.dumps(k)}: {json.dumps(v)},' for k, v in head.items()]
        body = ",\n".join(f"  {json.dumps(r)}" for r in rows)
        open(os.path.join(args.save_refs, "curves.json"), "w").write("{\n" + "\n".join(lines) + '\n "curves": [\n' + body + "\n ]\n}\n")


if __name__ == "__main__":
    main()
