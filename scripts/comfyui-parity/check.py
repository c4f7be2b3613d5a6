"""
Runs the cases prepare.ts wrote with ComfyUI's own code and compares them with ours (README.md here).

    COMFYUI_SRC=/path/to/ComfyUI python3 scripts/comfyui-parity/check.py out/comfyui-parity \
        [--save-refs test/fixtures/comfyui-parity] [--only REGEX]

ComfyUI is loaded from its source tree (COMFYUI_SRC), not installed: its scheduler functions and KSampler
classes are taken from comfy/samplers.py and prepare_noise from comfy/sample.py by name (those modules
import the whole app), comfy/model_sampling.py and comfy/k_diffusion/sampling.py are imported with stubs for
the app modules they import but these cases never reach (model patcher, model management). torchsde, which
the SDE samplers' Brownian tree needs, comes from its own source tree (TORCHSDE_SRC).

Grid cases: KSampler(model, steps, device, sampler, scheduler, denoise).sigmas on a model sampling built
from the case's scheduler config (ComfyUI's classes: ModelSamplingDiscrete + EPS / V_PREDICTION,
ModelSamplingDiscreteFlow or ModelSamplingFlux + CONST). Run cases: what comfy.sample.sample does:
prepare_noise(latent, seed), the KSampler's sigmas, sampler_object(name).sample(...) with the model called
as BaseModel._apply_model calls its network (calculate_input, timestep(sigma), calculate_denoised), here an
ONNX file through onnxruntime; on a conditional twin with the case's conditioning, and with a cfg as
sampling_function guides it (both predictions, then cfg_function with its post-CFG hooks).
"""
import argparse
import ast
import json
import math
import os
import re
import sys
import types

import numpy as np
import onnxruntime as ort
import torch

ORT_DTYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16, "tensor(int64)": np.int64, "tensor(int32)": np.int32}


def stub(name, **attrs):
    m = types.ModuleType(name)
    m.__dict__.update(attrs)
    sys.modules[name] = m
    return m


def defs_from(file, names, namespace):
    """Executes the named top-level definitions of a source file in `namespace` (in file order)."""
    src = open(file).read()
    tree = ast.parse(src)
    wanted = []
    for node in tree.body:
        name = getattr(node, "name", None)
        if name is None and isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
        if name in names:
            wanted.append(ast.get_source_segment(src, node))
    missing = set(names) - {n for n in names if any(re.match(rf"(def|class)\s+{n}\b|{n}\s*=", w) for w in wanted)}
    if missing:
        raise RuntimeError(f"{file}: definitions not found: {sorted(missing)}")
    exec(compile("\n\n".join(wanted), file, "exec"), namespace)
    return namespace


def load_torchsde():
    """torchsde from its source tree (TORCHSDE_SRC) for the SDE samplers' Brownian tree, with the small
    `trampoline` package it imports from scripts/torch-random/torchsde_shim.py; without TORCHSDE_SRC a stub
    (the SDE cases then fail)."""
    src = os.environ.get("TORCHSDE_SRC")
    if not src:
        stub("torchsde")
        return

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "torch-random"))
    from torchsde_shim import install_trampoline

    install_trampoline()
    sys.path.insert(0, src)
    import torchsde  # noqa: F401


class Api:
    """comfy_api's io: anything a node class body names (annotations, schema types) resolves to this stub;
    NodeOutput gives back its value."""

    ComfyNode = object

    @staticmethod
    def NodeOutput(*values):
        return values[0] if len(values) == 1 else values

    def __getattr__(self, name):
        return self

    def __call__(self, *args, **kwargs):
        return self


def load_comfy(src):
    """ComfyUI's model sampling classes, k-diffusion samplers, schedulers and KSampler, from its source tree."""
    import numpy
    import scipy.stats
    from functools import partial
    from typing import Callable, NamedTuple

    sys.path.insert(0, src)
    util = defs_from(os.path.join(src, "comfy/ldm/modules/diffusionmodules/util.py"), ["make_beta_schedule", "betas_for_alpha_bar"], {"torch": torch, "np": np, "math": math})
    load_torchsde()
    stub("comfy.ldm.modules.diffusionmodules.util", make_beta_schedule=util["make_beta_schedule"])
    for name in ("comfy.model_patcher", "comfy.model_management", "comfy.utils"):
        stub(name)
    # The CFG++ samplers register a post-CFG hook through the model patcher's helper.
    defs_from(os.path.join(src, "comfy/model_patcher.py"), ["set_model_options_post_cfg_function"], sys.modules["comfy.model_patcher"].__dict__)
    import comfy.model_sampling as model_sampling
    import comfy.k_diffusion.sampling as k_sampling
    import comfy.extra_samplers.uni_pc as uni_pc

    ns = {
        "torch": torch, "math": math, "numpy": numpy, "scipy": scipy, "partial": partial, "Callable": Callable, "NamedTuple": NamedTuple,
        "k_diffusion_sampling": k_sampling, "uni_pc": uni_pc, "comfy": sys.modules["comfy"], "logging": __import__("logging"),
    }
    defs_from(
        os.path.join(src, "comfy/samplers.py"),
        ["KSamplerX0Inpaint", "simple_scheduler", "ddim_scheduler", "normal_scheduler", "beta_scheduler", "linear_quadratic_schedule",
         "kl_optimal_scheduler", "Sampler", "KSAMPLER", "ksampler", "SchedulerHandler", "SCHEDULER_HANDLERS", "SCHEDULER_NAMES",
         "calculate_sigmas", "sampler_object", "KSAMPLER_NAMES", "SAMPLER_NAMES", "KSampler", "cfg_function"],
        ns,
    )
    ns["np"] = np
    defs_from(os.path.join(src, "comfy/sample.py"), ["prepare_noise"], ns)
    # The APG node: its class (whose execute builds the pre-CFG function) and its projection, with the node API stubbed.
    io = Api()
    apg_ns = {"torch": torch, "io": io}
    defs_from(os.path.join(src, "comfy_extras/nodes_apg.py"), ["project", "APG"], apg_ns)
    ns["APG"] = apg_ns["APG"]
    # Sampler nodes whose options a run sets (nodes_custom_sampler.py; execute builds the KSAMPLER through ksampler).
    nodes_ns = {"torch": torch, "io": io, "comfy": types.SimpleNamespace(samplers=types.SimpleNamespace(ksampler=ns["ksampler"])), "sa_solver": sys.modules["comfy.k_diffusion.sa_solver"]}
    # The sigma nodes SamplerCustom runs take their sigmas through (their execute, torch only).
    ns["sigma_nodes"] = defs_from(os.path.join(src, "comfy_extras/nodes_custom_sampler.py"), ["SplitSigmas", "SplitSigmasDenoise", "FlipSigmas", "SetFirstSigma", "ExtendIntermediateSigmas"], {"torch": torch, "io": io, "math": math})
    ns["sampler_nodes"] = defs_from(os.path.join(src, "comfy_extras/nodes_custom_sampler.py"), ["SamplerSEEDS2", "SamplerER_SDE", "SamplerEulerAncestral", "SamplerDPMPP_2S_Ancestral", "SamplerDPMPP_3M_SDE", "SamplerDPMPP_2M_SDE", "SamplerDPMPP_SDE", "SamplerDPMAdaptative", "SamplerEulerAncestralCFGPP", "SamplerSASolver", "SamplerLMS"], nodes_ns)
    defs_from(os.path.join(src, "comfy/model_patcher.py"), ["set_model_options_pre_cfg_function"], ns)
    # `import comfy.model_patcher` in the samplers finds the stub in sys.modules but does not set it on the package.
    sys.modules["comfy"].model_patcher = sys.modules["comfy.model_patcher"]
    return model_sampling, k_sampling, ns


def flux_mu(cfg, tokens):
    """ComfyUI's ModelSamplingFlux node: shift from the image size (its width * height / 256 is the token count)."""
    base, top = cfg.get("base_shift", 0.5), cfg.get("max_shift", 1.15)
    lo, hi = cfg.get("base_image_seq_len", 256), cfg.get("max_image_seq_len", 4096)
    m = (top - base) / (hi - lo)
    return tokens * m + (base - m * lo)


def model_sampling_for(ms_mod, space, cfg, tokens=None):
    """The model sampling ComfyUI would build for a model with this diffusers scheduler config."""
    if space == "vp":
        schedule = {"scaled_linear": "linear", "linear": "sqrt_linear"}[cfg.get("beta_schedule", "linear")]
        settings = {
            "beta_schedule": schedule,
            "linear_start": cfg.get("beta_start", 0.0001),
            "linear_end": cfg.get("beta_end", 0.02),
            "timesteps": cfg.get("num_train_timesteps", 1000),
            "zsnr": bool(cfg.get("rescale_betas_zero_snr", False)),
        }
        kind = ms_mod.V_PREDICTION if cfg.get("prediction_type") == "v_prediction" else ms_mod.EPS
        cls = type("ModelSampling", (ms_mod.ModelSamplingDiscrete, kind), {})
    elif cfg.get("use_dynamic_shifting", False):
        settings = {"shift": flux_mu(cfg, tokens)}
        cls = type("ModelSampling", (ms_mod.ModelSamplingFlux, ms_mod.CONST), {})
    else:
        settings = {"shift": cfg.get("shift", 1.0), "multiplier": 1000}
        cls = type("ModelSampling", (ms_mod.ModelSamplingDiscreteFlow, ms_mod.CONST), {})
    return cls(types.SimpleNamespace(sampling_settings=settings))


class FakeModel:
    """What KSampler asks of its model: the model sampling object."""

    def __init__(self, ms):
        self.ms = ms

    def get_model_object(self, name):
        assert name == "model_sampling"
        return self.ms


def ksampler_sigmas(ns, ms, scheduler, steps, denoise, sampler="euler"):
    return ns["KSampler"](FakeModel(ms), steps, "cpu", sampler=sampler, scheduler=scheduler, denoise=denoise).sigmas


class OnnxDenoiser:
    """model_wrap for KSAMPLER.sample: BaseModel._apply_model's calls around an ONNX network, and for a guided
    run ComfyUI's sampling_function around those: the positive and (unless cfg is 1 and no sampler asked for
    disable_cfg1_optimization) the negative prediction, then its cfg_function with the run's model_options,
    whose post-CFG hooks the CFG++ samplers read the unconditional prediction from."""

    def __init__(self, file, ms, time_units, flux, positive=None, negative=None, cfg=None, cfg_function=None, model_options=None):
        self.session = ort.InferenceSession(file, providers=["CPUExecutionProvider"])
        inputs = self.session.get_inputs()
        names = [i.name for i in inputs]
        sample = next((n for n in ("sample", "hidden_states") if n in names), names[0])
        timestep = "timestep" if "timestep" in names else names[1]
        self.sample_name = sample
        self.t_name = timestep
        t_input = inputs[names.index(timestep)]
        self.t_dtype = ORT_DTYPES[t_input.type]
        self.t_rank = len(t_input.shape)
        self.positive = positive or {}
        self.negative = negative or {}
        self.cfg = cfg
        self.cfg_function = cfg_function
        # A patched model's options (the APG node's pre-CFG function): what KSampler hands sampling_function.
        self.model_options = model_options or {}
        self.inner_model = types.SimpleNamespace(model_sampling=ms)
        self.ms = ms
        self.time_units = time_units
        self.flux = flux
        self.calls = 0
        # The SDE samplers ask the patcher for the model sampling (half-log-SNR maps).
        self.model_patcher = FakeModel(ms)

    def __call__(self, x, sigma, model_options={}, seed=None, **_):
        if self.cfg is None:
            return self.predict(x, sigma, self.positive)
        model_options = {**self.model_options, **model_options}
        cond = self.predict(x, sigma, self.positive)
        skip = math.isclose(self.cfg, 1.0) and not model_options.get("disable_cfg1_optimization", False)
        # calc_cond_batch leaves a skipped side at 0.
        uncond = torch.zeros_like(x) if skip else self.predict(x, sigma, self.negative)
        # sampling_function: the pre-CFG functions (ComfyUI's APG node) rewrite the predictions before cfg_function.
        out = [cond, uncond]
        for fn in model_options.get("sampler_pre_cfg_function", []):
            args = {"conds": [None, None], "conds_out": out, "cond_scale": self.cfg, "timestep": sigma, "input": x, "sigma": sigma, "model": self, "model_options": model_options}
            out = fn(args)
        # sampling_function passes the conditionings too: a post-CFG hook reads uncond None when the cfg-1
        # optimization skipped that side (cfgpp_ud10_ab then takes the conditional x0).
        return self.cfg_function(self, out[0], out[1], self.cfg, x, sigma, model_options=model_options, cond=self.positive, uncond=None if skip else self.negative)

    def predict(self, x, sigma, conditioning):
        ms = self.ms
        xc = ms.calculate_input(sigma, x)
        t = ms.timestep(sigma).float()
        # The network's timestep in its own units: ModelSamplingFlux's t is sigma (the ONNX model takes t * 1000
        # unless its folder says its timesteps are fractions); the others' are already in training steps.
        if self.flux and self.time_units != "fraction":
            t = t * 1000
        elif not self.flux and self.time_units == "fraction":
            t = t / 1000
        t_feed = np.array(t.numpy(), dtype=self.t_dtype).reshape(-1)[:1]
        feeds = {self.sample_name: xc.numpy().astype(np.float32), self.t_name: t_feed.reshape(()) if self.t_rank == 0 else t_feed, **conditioning}
        self.calls += 1
        out = torch.from_numpy(self.session.run(None, feeds)[0].astype(np.float32))
        return ms.calculate_denoised(sigma, out.float(), x)


class Patcher:
    """The ModelPatcher calls the APG node makes: clone, then register its pre-CFG function in the options."""

    def __init__(self, set_pre_cfg):
        self.model_options = {}
        self.set_pre_cfg = set_pre_cfg

    def clone(self):
        return self

    def set_model_sampler_pre_cfg_function(self, fn, disable_cfg1_optimization=False):
        self.model_options = self.set_pre_cfg(self.model_options, fn, disable_cfg1_optimization)


def apg_model_options(ns, apg):
    """The model options ComfyUI's APG node (comfy_extras/nodes_apg.py) leaves on a model for these settings."""
    patcher = Patcher(ns["set_model_options_pre_cfg_function"])
    out = ns["APG"].execute(patcher, apg["eta"], apg["norm_threshold"], apg["momentum"])
    return out.model_options


_CURVE_NODES = {}
COMFY_TREE = None  # the ComfyUI source tree main() was given


def curve_sigmas(ms, curve):
    """A stand-alone scheduler node's SIGMAS (check_curves.py loads the node classes), for SamplerCustom."""
    import check_curves

    if not _CURVE_NODES:
        _CURVE_NODES.update(check_curves.load(COMFY_TREE)[1])
    params = dict(curve["params"])
    if curve["name"] in ("sd_turbo", "beta"):
        params["model"] = FakeModel(ms)
    return check_curves.node_sigmas(_CURVE_NODES[check_curves.CURVE_NODES[curve["name"]]], **params).float()


def apply_sigma_op(nodes, op, sigmas):
    """One of ComfyUI's sigma nodes on the sigmas, through its own execute; a split passes its chosen part on."""
    kind = op["op"]
    if kind == "split":
        return nodes["SplitSigmas"].execute(sigmas, op["step"])[0 if op["part"] == "high" else 1]
    if kind == "split_denoise":
        return nodes["SplitSigmasDenoise"].execute(sigmas, op["denoise"])[0 if op["part"] == "high" else 1]
    if kind == "flip":
        return nodes["FlipSigmas"].execute(sigmas)
    if kind == "set_first":
        return nodes["SetFirstSigma"].execute(sigmas, op["sigma"])
    if kind == "extend":
        return nodes["ExtendIntermediateSigmas"].execute(sigmas, op["steps"], op["start_at_sigma"], op["end_at_sigma"], op["spacing"])
    raise ValueError(f"unknown sigma op {kind}")


def run_case(case, root, ms_mod, ns):
    cfg = case["config"]
    flux = case["space"] == "flow" and cfg.get("use_dynamic_shifting", False)
    tokens = (case["latent_shape"][2] // 2) * (case["latent_shape"][3] // 2)
    ms = model_sampling_for(ms_mod, case["space"], cfg, tokens)
    ops = case.get("sigma_ops") or []
    curve = case.get("curve")
    grid_rule = case["sampler"] if case.get("ksampler_grid") else "euler"
    base_sigmas = lambda: curve_sigmas(ms, curve) if curve else ksampler_sigmas(ns, ms, case["scheduler"], case["steps"], case["denoise"], grid_rule)
    # SamplerCustom: a scheduler node's levels, or BasicScheduler's (KSampler's with no sampler rule: euler's);
    # KSamplerAdvanced: KSampler's for the sampler.
    sigmas = base_sigmas() if ops or curve else ksampler_sigmas(ns, ms, case["scheduler"], case["steps"], case["denoise"], case["sampler"])
    for op in ops:
        sigmas = apply_sigma_op(ns["sigma_nodes"], op, sigmas)
    latent = torch.zeros(case["latent_shape"]) if case["init"] is None else torch.from_numpy(np.load(os.path.join(root, case["init"])).astype(np.float32))
    # SamplerCustom without add_noise: Noise_EmptyNoise's zeros.
    noise = ns["prepare_noise"](latent, case["seed"]) if case.get("add_noise", True) else torch.zeros_like(latent)
    units_scale = comfy_units_scale(case["space"], sigmas) if ops else 1.0
    load = lambda files: {name: np.load(os.path.join(root, f)) for name, f in files.items()}
    positive = load(case["conditioning"])
    # The negative side: the negative files for prompt embeddings, the positive's value for the rest.
    negative = {**positive, **load(case["negative"])}
    model_options = apg_model_options(ns, case["apg"]) if case.get("apg") else {}
    model = OnnxDenoiser(os.path.join(root, case["model_file"]), ms, case["time_units"], flux, positive, negative, case["cfg"], ns["cfg_function"], model_options)
    node = case.get("sampler_node")
    if node:
        inputs = dict(node["inputs"])
        # SamplerSASolver reads the model's sampling (percent_to_sigma) from its model input.
        if node["name"] == "SamplerSASolver":
            inputs["model"] = FakeModel(ms)
        sampler = ns["sampler_nodes"][node["name"]].execute(**inputs)
    else:
        sampler = ns["sampler_object"](case["sampler"])
    out = sampler.sample(model, sigmas, {"seed": case["seed"], "model_options": {}}, None, noise, latent, None, True)
    then = case.get("then")
    if then:
        # A second SamplerCustom (add_noise off, the same seed) from the first one's result, on the same levels
        # through its own sigma nodes.
        sigmas2 = base_sigmas()
        for op in then["sigmaOps"]:
            sigmas2 = apply_sigma_op(ns["sigma_nodes"], op, sigmas2)
        units_scale = comfy_units_scale(case["space"], sigmas2)
        out = ns["sampler_object"](then["sampler"]).sample(model, sigmas2, {"seed": case["seed"], "model_options": {}}, None, torch.zeros_like(out), out, None, True)
    return out.numpy(), model.calls, sigmas.numpy(), units_scale


def comfy_units_scale(space, sigmas):
    """The factor from our result to ComfyUI's on sigmas that end above 0 (a split's high part, an unsampling
    run up flipped sigmas): ComfyUI returns a VP model's VE state there (x0 + sigma eps) and divides a flow
    state by 1 - sigma (CONST.inverse_noise_scaling); our Sampler returns the model's own variables, which the
    next part continues from. `sigmas`: as handed to the sampler, before its own rules (uni_pc's 0.001 end)."""
    last = float(sigmas[-1])
    if len(sigmas) < 2 or last == 0:
        return 1.0
    return math.sqrt(1 + last * last) if space == "vp" else 1 / (1 - last)


def rel_l2(a, b):
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--comfy", default=os.environ.get("COMFYUI_SRC"), help="a ComfyUI source tree (default $COMFYUI_SRC)")
    ap.add_argument("--only")
    ap.add_argument("--save-refs")
    ap.add_argument("--tol", type=float, default=2e-4)
    ap.add_argument(
        "--exact-unipc-lambda",
        action="store_true",
        help="diagnostic: ComfyUI's UniPC takes lambda and sigma from 1 - exp(2 log alpha) in float32, which loses digits at small "
        "sigma (1e-5 to 4e-5 on the final latent); this gives it -log(sigma) and sigma / sqrt(1 + sigma^2) instead",
    )
    args = ap.parse_args()
    if not args.comfy:
        sys.exit("check.py: give the ComfyUI source tree with --comfy or COMFYUI_SRC")
    global COMFY_TREE
    COMFY_TREE = args.comfy
    ms_mod, _, ns = load_comfy(args.comfy)
    if args.exact_unipc_lambda:
        convert = ns["uni_pc"].SigmaConvert
        convert.marginal_lambda = lambda self, t: -torch.log(t.double()).float()
        convert.marginal_std = lambda self, t: (t.double() / torch.sqrt(1 + t.double() ** 2)).float()
    manifest = json.load(open(os.path.join(args.dir, "manifest.json")))
    keep = lambda c: not args.only or re.search(args.only, c["id"])
    grids, runs, blob = [], [], bytearray()
    failures = 0
    for g in filter(keep, manifest["grids"]):
        ms = model_sampling_for(ms_mod, g["space"], g["config"], g.get("tokens"))
        sampler = "dpm_2" if g["discardPenultimate"] else "euler"
        sig = ksampler_sigmas(ns, ms, g["scheduler"], g["steps"], g["denoise"], sampler)
        # The model timestep ComfyUI feeds at each level a step starts from (scheduler units: flow t * 1000).
        ts = ms.timestep(sig[:-1]).double() * (1000 if g["space"] == "flow" and g["config"].get("use_dynamic_shifting", False) else 1)
        grids.append({"id": g["id"], "sigmas": [float(v) for v in sig], "timesteps": [float(v) for v in ts]})
    print(f"{len(grids)} grids computed")
    for c in filter(keep, manifest["runs"]):
        ref, calls, sig, units_scale = run_case(c, args.dir, ms_mod, ns)
        ok = bool(np.isfinite(ref).all())
        entry = {"id": c["id"], "shape": list(ref.shape), "offset": len(blob) // 4, "calls": calls, "sigmas": [float(v) for v in sig]}
        # How to read ours in ComfyUI's variables (comfy_units_scale), where that is not ours as it is.
        if units_scale != 1.0:
            entry["ours_scale"] = units_scale
        runs.append(entry)
        blob += ref.astype("<f4").tobytes()
        if c.get("ours") is None:
            status, dist = "ours-failed", float("nan")
        else:
            dist = rel_l2(np.load(os.path.join(args.dir, c["ours"])) * units_scale, ref)
            # dpm_adaptive's step-size control reacts to float32 rounding noise in its first error estimates.
            tol = max(args.tol, 2e-3) if c["sampler"] == "dpm_adaptive" else args.tol
            status = "ok" if ok and dist < tol else "FAIL"
        failures += status != "ok"
        print(f"{status:>12}  {dist:.3e}  {c['id']}  ({calls} calls)")
    print(f"\n{len(runs) - failures} of {len(runs)} runs within rel L2 {args.tol} of ComfyUI")
    if args.save_refs:
        os.makedirs(args.save_refs, exist_ok=True)
        commit = os.environ.get("COMFYUI_COMMIT")
        head = {"comfyui_commit": commit, "torch": torch.__version__, "onnxruntime": ort.__version__}
        lines = [f' {json.dumps(k)}: {json.dumps(v)},' for k, v in head.items()]
        body = lambda rows: ",\n".join(f"  {json.dumps(r)}" for r in rows)
        text = "{\n" + "\n".join(lines) + '\n "grids": [\n' + body(grids) + '\n ],\n "runs": [\n' + body(runs) + "\n ]\n}\n"
        open(os.path.join(args.save_refs, "refs.json"), "w").write(text)
        open(os.path.join(args.save_refs, "refs.bin"), "wb").write(bytes(blob))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
