"""Runs each parity case's sampling loop with diffusers' own scheduler and compares with our final latent.

Usage: python3 check.py <dir written by `npm run parity:prepare`> [--tol 2e-4] [--only REGEX] [--json out.json]
                        [--save-refs DIR [--add-missing]] [--float64-tables] [--floor-zero-snr]
Needs numpy, torch, onnxruntime and diffusers (a source checkout on PYTHONPATH will do; debian/ has stand-ins
for a Python with only Debian's python3-torch, see README.md), and torchsde for the DPMSolverSDEScheduler
cases (installed, or a source tree named by TORCHSDE_SRC). A developer tool only: FlowStudio itself
never runs Python.

Each loop is what the diffusers pipelines do for the scheduler (StableDiffusionPipeline /
StableDiffusionImg2ImgPipeline; SD3 / Sana for flow schedulers, which call no scale_model_input, and
StableDiffusion3Img2ImgPipeline / FluxImg2ImgPipeline for their img2img;
StableDiffusionDiffEditPipeline's invert() for the inverse schedulers, from the init latent): the
noise multiplied by init_noise_sigma, scale_model_input, the model called through onnxruntime with the
timestep cast to the dtype its ONNX input declares (np.array([t], dtype), as the ONNX pipelines do),
scheduler.step. Stochastic steps take their noise from the case's [K, ...] noise file, slice k for the
k-th draw, by replacing randn_tensor in the scheduler's module. A case with a torch_seed has no noise file:
it runs as a pipeline given generator=torch.Generator("cpu").manual_seed(seed), the initial latents drawn by
randn_tensor and the same generator passed to each step that takes one, so our Sampler's torch noise
generator is compared too.

--save-refs DIR writes diffusers' results as refs.json + refs.bin (float32, little-endian), the fixture
test/diffusers-parity.test.ts compares our engine with in CI. With --add-missing the references already in
DIR are kept as they are and only the cases they lack are added, each recording the torch and onnxruntime
that made it.
"""
import argparse
import atexit
import inspect
import json
import math
import os
import re
import shutil
import sys
import traceback

import tempfile

import numpy as np
import onnxruntime as ort
import torch


def load_torchsde():
    """torchsde, which DPMSolverSDEScheduler's Brownian tree needs, from its source tree (TORCHSDE_SRC), with the
    trampoline package and the metadata record that scripts/torch-random/torchsde_shim.py supplies. Must run
    before diffusers is imported. Without TORCHSDE_SRC, an installed torchsde (if any) is used."""
    src = os.environ.get("TORCHSDE_SRC")
    if not src:
        return
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "torch-random"))
    from torchsde_shim import load_torchsde_source

    # The record is read while torchsde and diffusers import; it goes when this process exits.
    record = tempfile.mkdtemp(prefix="torchsde-record-")
    atexit.register(shutil.rmtree, record, True)
    load_torchsde_source(src, record)


load_torchsde()

import diffusers  # noqa: E402
from diffusers.utils.torch_utils import randn_tensor as torch_randn_tensor  # noqa: E402

ORT_DTYPES = {"tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64}


def rescale_noise_cfg(noise_cfg, noise_pred_text, guidance_rescale):
    """diffusers' rescale_noise_cfg (pipeline_stable_diffusion.py), restated so that check.py needs no transformers."""
    std_text = noise_pred_text.std(dim=list(range(1, noise_pred_text.ndim)), keepdim=True)
    std_cfg = noise_cfg.std(dim=list(range(1, noise_cfg.ndim)), keepdim=True)
    return guidance_rescale * (noise_cfg * (std_text / std_cfg)) + (1 - guidance_rescale) * noise_cfg


def diffusers_defs(relpath, names):
    """Named top-level definitions of a diffusers source file, executed alone: diffusers.guiders imports its hooks
    package, which needs a newer torch than Debian's; the guidance math itself is plain torch."""
    import ast

    file = os.path.join(os.path.dirname(diffusers.__file__), relpath)
    src = open(file).read()
    parts = [ast.get_source_segment(src, n) for n in ast.parse(src).body if getattr(n, "name", None) in names]
    if len(parts) != len(names):
        raise RuntimeError(f"{file}: expected definitions {names}")
    namespace = {"torch": torch}
    exec(compile("\n\n".join(parts), file, "exec"), namespace)
    return namespace


def diffusers_guider(config):
    """A diffusers guider built from its guider_config.json as from_pretrained would: the class and BaseGuidance run
    from diffusers' source, with what only registers, saves or logs stubbed (ConfigMixin, PushToHubMixin,
    register_to_config, the logger) and _prepare_batch returning its identifier (it builds modular pipelines'
    BlockState, which needs a newer torch; prepare_inputs then yields one entry per model call)."""
    import __future__
    import ast
    import logging
    import math
    from typing import Any

    def top_level(relpath, wanted=None):
        file = os.path.join(os.path.dirname(diffusers.__file__), relpath)
        src = open(file).read()
        kinds = (ast.ClassDef, ast.FunctionDef)
        nodes = [n for n in ast.parse(src).body if isinstance(n, kinds) and (wanted is None or n.name in wanted)]
        return file, "\n\n".join(ast.get_source_segment(src, n) for n in nodes)

    class GuiderOutput:
        def __init__(self, pred=None, pred_cond=None, pred_uncond=None):
            self.pred, self.pred_cond, self.pred_uncond = pred, pred_cond, pred_uncond

    namespace = {
        "torch": torch, "math": math, "Any": Any, "TYPE_CHECKING": False, "ConfigMixin": type("ConfigMixin", (), {}), "PushToHubMixin": type("PushToHubMixin", (), {}),
        "register_to_config": lambda f: f, "logger": logging.getLogger("diffusers-guider"), "GUIDER_CONFIG_NAME": "guider_config.json",
        "validate_hf_hub_args": lambda f: f, "GuiderOutput": GuiderOutput,
    }
    flags = __future__.annotations.compiler_flag
    file, src = top_level("guiders/guider_utils.py", ["BaseGuidance", "rescale_noise_cfg"])
    exec(compile(src, file, "exec", flags=flags, dont_inherit=True), namespace)
    namespace["BaseGuidance"]._prepare_batch = classmethod(lambda cls, data, tuple_index, identifier: identifier)
    cls = config["_class_name"]
    module = {"ClassifierFreeGuidance": "classifier_free_guidance", "AdaptiveProjectedGuidance": "adaptive_projected_guidance",
              "AdaptiveProjectedMixGuidance": "adaptive_projected_guidance_mix"}[cls]
    file, src = top_level(f"guiders/{module}.py")
    exec(compile(src, file, "exec", flags=flags, dont_inherit=True), namespace)
    return namespace[cls](**{k: v for k, v in config.items() if not k.startswith("_")})


APG = diffusers_defs("guiders/adaptive_projected_guidance.py", ["MomentumBuffer", "normalized_guidance"])
APG_MIX = diffusers_defs("guiders/adaptive_projected_guidance_mix.py", ["MomentumBuffer", "update_momentum_buffer", "normalized_guidance"])


class Model:
    """An ONNX denoiser called as the diffusers pipelines call theirs."""

    def __init__(self, file):
        self.session = ort.InferenceSession(file, providers=["CPUExecutionProvider"])
        self.inputs = {i.name: i for i in self.session.get_inputs()}
        self.order = [i.name for i in self.session.get_inputs()]

    def bind(self, case, root):
        self.sample_name = case["sample_input"] or self.order[0]
        self.t_input = self.inputs[case["timestep_input"] or self.order[1]]
        self.t_dtype = ORT_DTYPES[self.t_input.type]
        self.time_units = case["time_units"]
        self.pipeline = case["pipeline"]
        self.extra = {name: np.load(os.path.join(root, f)) for name, f in case["conditioning"].items()}
        self.cfg = case.get("cfg")
        if self.cfg and self.cfg.get("pipelineRule") and self.pipeline not in ("zimage", "hunyuanimage") and not self.cfg.get("apg") and not self.cfg.get("guider") and not self.cfg["scale"] > 1:
            # The pipelines' do_classifier_free_guidance (guidance_scale > 1; FluxPipeline's true_cfg_scale > 1):
            # at 1 or below they call the conditional model alone. (ZImagePipeline: its s = scale - 1 > 0, below;
            # HunyuanImagePipeline guides with its guider, ClassifierFreeGuidance off at exactly 1 only.)
            self.cfg = None
        self.negative = {name: np.load(os.path.join(root, f)) for name, f in self.cfg["negative"].items()} if self.cfg else {}
        self.calls = []
        # AdaptiveProjectedGuidance.prepare_inputs makes its momentum buffer at step 0 (once per run).
        apg = self.cfg.get("apg") if self.cfg else None
        self.apg_defs = (APG_MIX if apg and apg.get("start") else APG) if apg else None
        self.apg_momentum = self.apg_defs["MomentumBuffer"](apg["momentum"]) if apg and apg["momentum"] is not None else None
        self.apg_step = 0
        # A guider from the folder's guider_config.json (ParityCase cfg.guider): set_state per model call, with the
        # step index counting calls and num_inference_steps the case's steps, as the pipelines set it.
        self.guider = diffusers_guider(self.cfg["guider"]) if self.cfg and self.cfg.get("guider") else None
        self.guider_step = 0
        self.guider_steps = case["steps"]
        # HunyuanImagePipeline (use_meanflow): the step's timestep_r, set by the loop before each call.
        self.timestep_r = None

    @staticmethod
    def prediction_half(out, x):
        """PixArt / DiT pipelines: a learn_sigma transformer's [prediction; variance] output, chunk(2, dim=1)[0]."""
        if out.ndim == 4 and out.shape[1] == 2 * x.shape[1]:
            return out.chunk(2, dim=1)[0]
        return out

    def reversed_call(self, sample, t):
        """Lumina2Pipeline / ZImagePipeline: the data-fraction timestep, their CFG rules, the output negated."""
        t = torch.as_tensor(t, dtype=torch.float32)
        t_model = 1 - t / 1000 if self.pipeline == "lumina2" else (1000 - t) / 1000
        tval = float(t_model)
        self.calls.append(tval)
        x = sample.numpy().astype(np.float32)

        def run(xs, extra):
            shape = [xs.shape[0] if not isinstance(d, int) else d for d in self.t_input.shape]
            feeds = {self.sample_name: xs, self.t_input.name: np.full(shape, tval, dtype=np.float64).astype(self.t_dtype), **extra}
            return torch.from_numpy(self.session.run(None, feeds)[0])

        cfg = self.cfg
        negative = {name: self.negative.get(name, v) for name, v in self.extra.items()}
        if self.pipeline == "lumina2":
            # Two calls (cond, then uncond), uncond + s (cond - uncond), cfg_normalization along the last axis.
            pred = run(x, self.extra)
            if cfg and cfg["scale"] > 1:
                cond = pred
                uncond = run(x, negative)
                pred = uncond + cfg["scale"] * (cond - uncond)
                # cfg_normalization is on by default in Lumina2Pipeline (our normalize auto); off turns it off.
                if cfg.get("normalize", "auto") in ("auto", "rows"):
                    pred = pred * (torch.norm(cond, dim=-1, keepdim=True) / torch.norm(pred, dim=-1, keepdim=True))
        else:
            # One call on [pos; neg]; pos + s (pos - neg) with the pipeline's s = our scale - 1; no guidance once
            # (1000 - t)/1000 passes cfg_truncation; the guided norm clamped to cfg_normalization x ||pos||.
            s = cfg["scale"] - 1 if cfg else 0.0
            if cfg and cfg.get("truncate") is not None and tval > cfg["truncate"]:
                s = 0.0
            if s > 0:
                both = {name: np.concatenate([self.extra[name], negative[name]]) for name in self.extra}
                pos, neg = run(np.concatenate([x, x]), both).chunk(2)
                pred = pos + s * (pos - neg)
                if cfg.get("normalize") == "clamp":
                    for j in range(pred.shape[0]):
                        limit = torch.linalg.vector_norm(pos[j]) * float(cfg.get("norm_limit", 1.0))
                        norm = torch.linalg.vector_norm(pred[j])
                        if norm > limit:
                            pred[j] = pred[j] * (limit / norm)
            else:
                pred = run(x, self.extra)
        return -pred

    def __call__(self, sample, t, raw=False):
        if self.pipeline in ("lumina2", "zimage"):
            return self.reversed_call(sample, t)
        if raw:
            # The pipeline hands the model this timestep as it is (SanaSprintPipeline's flow time).
            t = float(t)
        elif self.pipeline == "flux":
            # FluxPipeline: timestep = t.expand(B).to(latents.dtype), passed as timestep / 1000 (float32 math).
            t = float(np.float32(float(t)) / np.float32(1000))
        else:
            t = float(t)
            if self.time_units == "fraction":
                t = t / 1000.0
        self.calls.append(t)
        x = sample.numpy().astype(np.float32)
        # CFG runs the model on [negative; positive]: twice the sample's batch.
        batch = (2 if self.cfg else 1) * x.shape[0]
        shape = [batch if not isinstance(d, int) else d for d in self.t_input.shape]
        # np.array([t], dtype) as the ONNX pipelines build it: integers truncated toward zero.
        feed_t = np.full(shape, t, dtype=np.float64).astype(self.t_dtype)
        if "timestep_r" in self.inputs:
            # timestep_r.expand(B).to(latents.dtype): the next timestep, 0 after the last.
            r_input = self.inputs["timestep_r"]
            r_shape = [x.shape[0] if not isinstance(d, int) else d for d in r_input.shape]
            self.extra = {**self.extra, "timestep_r": np.full(r_shape, float(self.timestep_r), dtype=ORT_DTYPES[r_input.type])}
        guider_calls = None
        if self.guider is not None:
            self.guider.set_state(step=self.guider_step, num_inference_steps=self.guider_steps, timestep=t)
            self.guider_step += 1
            # One batch: the conditional call alone (outside start / stop, or a scale that turns the guider off).
            guider_calls = len(self.guider.prepare_inputs({}))
            if guider_calls == 1:
                shape = [x.shape[0] if not isinstance(d, int) else d for d in self.t_input.shape]
                feed_t = np.full(shape, t, dtype=np.float64).astype(self.t_dtype)
        if not self.cfg or guider_calls == 1:
            feeds = {self.sample_name: x, self.t_input.name: feed_t, **self.extra}
            return self.prediction_half(torch.from_numpy(self.session.run(None, feeds)[0]), x)
        if self.pipeline == "dit":
            # DiTPipeline (guidance_scale > 1): one call on [latents; latents] with class_labels cat([labels, null])
            # (null: 1000), the guidance on the first latent_channels output channels (eps), its learned variance
            # dropped after (model_output, _ = split).
            if not self.cfg["scale"] > 1:
                raise RuntimeError("DiTPipeline guides only at guidance_scale > 1")
            labels = self.extra["class_labels"]
            feeds = {self.sample_name: np.concatenate([x, x]), self.t_input.name: feed_t, "class_labels": np.concatenate([labels, np.full_like(labels, 1000)])}
            noise_pred = torch.from_numpy(self.session.run(None, feeds)[0])
            channels = x.shape[1]
            eps = noise_pred[:, :channels]
            cond_eps, uncond_eps = torch.split(eps, len(eps) // 2, dim=0)
            return uncond_eps + self.cfg["scale"] * (cond_eps - uncond_eps)
        # The SD / SDXL / SD3 pipelines' CFG: one call on [negative; positive] (torch.cat([latents] * 2) and the
        # embeddings concatenated), chunk(2), uncond + scale (cond - uncond), then rescale_noise_cfg.
        feeds = {self.sample_name: np.concatenate([x, x]), self.t_input.name: feed_t}
        for name, pos in self.extra.items():
            batched = len(self.inputs[name].shape) > 0 and not isinstance(self.inputs[name].shape[0], int)
            neg = self.negative.get(name, pos)
            feeds[name] = np.concatenate([neg, pos]) if batched else pos
        out = self.prediction_half(torch.from_numpy(self.session.run(None, feeds)[0]), x)
        uncond, cond = out.chunk(2)
        if self.guider is not None:
            return self.guider.forward(cond, uncond).pred
        apg = self.cfg.get("apg")
        if apg and apg.get("start"):
            # AdaptiveProjectedMixGuidance.forward: plain CFG up to adaptive_projected_guidance_start_step (its
            # momentum buffer updated all the same), normalized_guidance after; set_state(step=i) per step.
            step = self.apg_step
            self.apg_step += 1
            if math.isclose(apg["start_scale"], 1.0):
                # _is_cfg_enabled: guidance_scale 1 turns the whole guider off (APG too, which needs it), momentum untouched.
                return cond
            if step > apg["start"] - 1 and not math.isclose(self.cfg["scale"], 1.0):
                guided = APG_MIX["normalized_guidance"](cond, uncond, self.cfg["scale"], self.apg_momentum, apg["eta"], apg["norm_threshold"], False)
            else:
                if self.apg_momentum is not None:
                    APG_MIX["update_momentum_buffer"](cond, uncond, self.apg_momentum)
                guided = uncond + apg["start_scale"] * (cond - uncond)
        elif apg:
            # AdaptiveProjectedGuidance.forward (guidance_scale != 1): normalized_guidance, then its rescale.
            guided = APG["normalized_guidance"](cond, uncond, self.cfg["scale"], self.apg_momentum, apg["eta"], apg["norm_threshold"], False)
        else:
            guided = uncond + self.cfg["scale"] * (cond - uncond)
        if self.cfg["rescale"] > 0:
            guided = rescale_noise_cfg(guided, cond, guidance_rescale=self.cfg["rescale"])
        return guided


class NoiseFeed:
    """Stands in for randn_tensor: the k-th call returns slice k of the case's noise."""

    def __init__(self, noises):
        self.noises = noises
        self.next = 1

    def __call__(self, shape, generator=None, device=None, dtype=None, layout=None, **_):
        if self.next >= len(self.noises):
            raise RuntimeError(f"the scheduler drew more noises than the case gives ({len(self.noises) - 1})")
        n = torch.from_numpy(self.noises[self.next].reshape(shape)).to(dtype or torch.float32)
        self.next += 1
        return n


class CountingRandn:
    """Stands in for randn_tensor in seeded cases: draws as it does, counting the draws."""

    def __init__(self, randn):
        self.randn = randn
        self.next = 1

    def __call__(self, *args, **kwargs):
        self.next += 1
        return self.randn(*args, **kwargs)


def float64_tables(scheduler):
    """Diagnostic: alphas_cumprod rebuilt in float64 (ours are float64, diffusers' float32) before set_timesteps reads it."""
    if not hasattr(scheduler, "betas") or not hasattr(scheduler, "alphas_cumprod"):
        return
    if scheduler.config.get("rescale_betas_zero_snr", False) and not hasattr(scheduler, "final_alpha_cumprod"):
        return  # Euler-type classes patch the zero-SNR end after the cumprod; leave theirs as is
    scheduler.alphas_cumprod = torch.cumprod(1.0 - scheduler.betas.double(), dim=0)
    if hasattr(scheduler, "final_alpha_cumprod"):  # DDIMScheduler
        one = scheduler.config.get("set_alpha_to_one", True)
        scheduler.final_alpha_cumprod = torch.tensor(1.0, dtype=torch.float64) if one else scheduler.alphas_cumprod[0]


def floor_zero_snr(scheduler):
    """Diagnostic: the zero-SNR terminal alphas_cumprod of DDIM's classes, TCD and LCM (which keep 0) floored at 2^-24, as ours (schedule-vp.ts) and diffusers' Euler family floor it."""
    if type(scheduler).__name__ in ("DDIMScheduler", "DDIMInverseScheduler", "TCDScheduler", "LCMScheduler") and float(scheduler.alphas_cumprod[-1]) == 0.0:
        scheduler.alphas_cumprod[-1] = 2.0**-24


def sana_sprint_loop(case, root, scheduler, model, first, step_kwargs):
    """SanaSprintPipeline (and SanaSprintImg2ImgPipeline with a strength) around SCMScheduler.step."""
    steps = case["steps"]
    # The pipeline passes max_timesteps 1.5708 and intermediate_timesteps 1.3, which set_timesteps refuses for
    # other step counts: there it takes intermediate_timesteps=None (linspace), as FlowStudio does.
    scheduler.set_timesteps(steps, intermediate_timesteps=1.3 if steps == 2 else None)
    scheduler.set_begin_index(0)
    sd = scheduler.config.sigma_data
    timesteps = scheduler.timesteps
    if case["strength"] is not None:
        # get_timesteps (init_timestep a float) + prepare_latents, for an image the pipeline encodes
        # (image_latents = latents * scaling_factor * sigma_data; the init file holds latents * scaling_factor).
        init_timestep = min(steps * case["strength"], steps)
        t_start = int(max(steps - init_timestep, 0))
        timesteps = scheduler.timesteps[t_start * scheduler.order :]
        scheduler.set_begin_index(t_start * scheduler.order)
        init = torch.from_numpy(np.load(os.path.join(root, case["init"])).astype(np.float32)) * sd
        noise = torch.from_numpy(first) * sd
        latents = torch.cos(timesteps[:1]) * init + torch.sin(timesteps[:1]) * noise
    else:
        latents = torch.from_numpy(first) * sd
    denoised = latents
    for t in timesteps[:-1]:
        timestep = t.expand(latents.shape[0])
        latents_model_input = latents / sd
        scm_timestep = torch.sin(timestep) / (torch.cos(timestep) + torch.sin(timestep))
        tau = scm_timestep.view(-1, 1, 1, 1)
        latent_model_input = latents_model_input * torch.sqrt(tau**2 + (1 - tau) ** 2)
        v = model(latent_model_input, float(scm_timestep[0]), raw=True)
        noise_pred = ((1 - 2 * tau) * latent_model_input + (1 - 2 * tau + 2 * tau**2) * v) / torch.sqrt(tau**2 + (1 - tau) ** 2)
        noise_pred = noise_pred.float() * sd
        latents, denoised = scheduler.step(noise_pred, timestep, latents, return_dict=False, **step_kwargs)
    return denoised / sd


def run_case(case, root, models, tables64=False, zero_snr_floor=False):
    if case["model_file"] not in models:
        models[case["model_file"]] = Model(os.path.join(root, case["model_file"]))
    model = models[case["model_file"]]
    model.bind(case, root)
    cls = getattr(diffusers, case["class"])
    scheduler = cls.from_config(case["config"], **case["overrides"])
    if tables64:
        float64_tables(scheduler)
    if zero_snr_floor:
        floor_zero_snr(scheduler)
    module = sys.modules[cls.__module__]
    original_randn = getattr(module, "randn_tensor", None)
    step_kwargs = {}
    if case.get("torch_seed") is None:
        noise = np.load(os.path.join(root, case["noise"])).astype(np.float32)
        first = noise[0] if case["stochastic"] else noise
        feed = NoiseFeed(noise if case["stochastic"] else noise[None])
    else:
        # As a pipeline given generator=torch.Generator("cpu").manual_seed(seed): prepare_latents draws the
        # initial latents with randn_tensor, and every scheduler.step that takes a generator gets the same one.
        generator = torch.Generator("cpu").manual_seed(case["torch_seed"])
        first = torch_randn_tensor(tuple(case["latent_shape"]), generator=generator, dtype=torch.float32).numpy()
        feed = CountingRandn(original_randn or torch_randn_tensor)
        if "generator" in inspect.signature(scheduler.step).parameters:
            step_kwargs["generator"] = generator
    if original_randn is not None:
        module.randn_tensor = feed
    try:
        steps = case["steps"]
        if case["class"] == "SCMScheduler":
            latents = sana_sprint_loop(case, root, scheduler, model, first, step_kwargs)
            return latents.numpy(), len(model.calls), feed.next - 1
        def set_pipeline_timesteps(scheduler):
            # The grid each pipeline hands its scheduler (a chain's second scheduler gets the same one).
            if case["pipeline"] == "cogview4":
                # CogView4Pipeline: int64 linspace(T, 1, N) as float32, sigmas = that / T, both passed with its mu,
                # mu = sqrt(tokens / base_image_seq_len) max_shift + base_shift, tokens (H // 2) (W // 2).
                cfg = scheduler.config
                T = cfg.num_train_timesteps
                ts = np.linspace(T, 1.0, steps).astype(np.int64).astype(np.float32)
                tokens = (first.shape[2] // 2) * (first.shape[3] // 2)
                mu = (tokens / cfg.get("base_image_seq_len", 256)) ** 0.5 * cfg.get("max_shift", 0.75) + cfg.get("base_shift", 0.25)
                scheduler.set_timesteps(timesteps=ts, sigmas=ts / T, mu=mu)
            elif case["pipeline"] == "hunyuanimage":
                # HunyuanImagePipeline: sigmas np.linspace(1, 0, N + 1)[:-1] and no mu (the config's static shift).
                scheduler.set_timesteps(sigmas=np.linspace(1.0, 0.0, steps + 1)[:-1])
                scheduler.set_begin_index(0)
            elif case["pipeline"] in ("flux", "lumina2", "zimage"):
                # FluxPipeline: sigmas linspace(1, 1/N, N) (none with use_flow_sigmas), mu from the token count.
                # Lumina2Pipeline the same, its token count latents.shape[1] (the channels of its 4-D latents);
                # ZImagePipeline: torch.linspace(...).tolist() and (H // 2) (W // 2) tokens.
                cfg = scheduler.config
                if cfg.get("use_flow_sigmas", False):
                    sigmas = None
                elif case["pipeline"] == "zimage":
                    sigmas = torch.linspace(1.0, 1 / steps, steps).tolist()
                else:
                    sigmas = np.linspace(1.0, 1 / steps, steps)
                tokens = (first.shape[2] // 2) * (first.shape[3] // 2) if case["pipeline"] == "zimage" else first.shape[1]
                m = (cfg.get("max_shift", 1.15) - cfg.get("base_shift", 0.5)) / (cfg.get("max_image_seq_len", 4096) - cfg.get("base_image_seq_len", 256))
                mu = tokens * m + (cfg.get("base_shift", 0.5) - m * cfg.get("base_image_seq_len", 256))
                if sigmas is None:
                    scheduler.set_timesteps(steps, mu=mu)
                else:
                    scheduler.set_timesteps(sigmas=sigmas, mu=mu)
                scheduler.set_begin_index(0)
            elif case["pipeline"] == "sd3" and scheduler.config.get("use_dynamic_shifting", False):
                # StableDiffusion3Pipeline: mu = calculate_shift((H // patch) (W // patch)) with config.get fallbacks
                # (max_shift 1.16), passed to set_timesteps.
                cfg = scheduler.config
                tokens = (first.shape[2] // 2) * (first.shape[3] // 2)
                m = (cfg.get("max_shift", 1.16) - cfg.get("base_shift", 0.5)) / (cfg.get("max_image_seq_len", 4096) - cfg.get("base_image_seq_len", 256))
                scheduler.set_timesteps(steps, mu=tokens * m + (cfg.get("base_shift", 0.5) - m * cfg.get("base_image_seq_len", 256)))
            else:
                scheduler.set_timesteps(steps)

        set_pipeline_timesteps(scheduler)
        timesteps = scheduler.timesteps
        if case.get("invert"):
            # DDIMInverseScheduler / DPMSolverMultistepInverseScheduler driven as StableDiffusionDiffEditPipeline's
            # invert() drives them: from the clean latent, no noise; a strength keeps the first timesteps
            # (get_inverse_timesteps).
            if case["strength"] is not None:
                init_timestep = min(int(steps * case["strength"]), steps)
                t_start = max(steps - init_timestep, 0)
                if t_start > 0:
                    timesteps = timesteps[:-t_start]
            latents = torch.from_numpy(np.load(os.path.join(root, case["init"])).astype(np.float32))
        elif case["strength"] is not None and case["class"] == "LCMScheduler":
            # LatentConsistencyModelImg2ImgPipeline: the strength goes to set_timesteps; every step runs.
            scheduler.set_timesteps(steps, strength=case["strength"])
            timesteps = scheduler.timesteps
            init = torch.from_numpy(np.load(os.path.join(root, case["init"])).astype(np.float32))
            latents = scheduler.add_noise(init, torch.from_numpy(first), timesteps[:1])
        elif case["strength"] is not None and not hasattr(scheduler, "add_noise"):
            # Flow matching: StableDiffusion3Img2ImgPipeline / FluxImg2ImgPipeline.get_timesteps (init_timestep
            # stays a float, so the run takes ceil(N * strength) steps) + prepare_latents' scale_noise.
            init_timestep = min(steps * case["strength"], steps)
            t_start = int(max(steps - init_timestep, 0))
            timesteps = scheduler.timesteps[t_start * scheduler.order :]
            scheduler.set_begin_index(t_start * scheduler.order)
            init = torch.from_numpy(np.load(os.path.join(root, case["init"])).astype(np.float32))
            latents = scheduler.scale_noise(init, timesteps[:1], torch.from_numpy(first))
        elif case["strength"] is not None:
            # StableDiffusionImg2ImgPipeline.get_timesteps + prepare_latents.
            init_timestep = min(int(steps * case["strength"]), steps)
            t_start = max(steps - init_timestep, 0)
            timesteps = scheduler.timesteps[t_start * scheduler.order :]
            if hasattr(scheduler, "set_begin_index"):
                scheduler.set_begin_index(t_start * scheduler.order)
            init = torch.from_numpy(np.load(os.path.join(root, case["init"])).astype(np.float32))
            latents = scheduler.add_noise(init, torch.from_numpy(first), timesteps[:1])
        else:
            # FlowMatch schedulers have no init_noise_sigma (their pipelines start from the noise as drawn).
            latents = torch.from_numpy(first) * getattr(scheduler, "init_noise_sigma", 1.0)
        if case["strength"] is not None:
            # The modular pipelines' img2img (get_timesteps) sets num_inference_steps to the steps it walks, and
            # their guiders' set_state reads that count.
            model.guider_steps = len(timesteps)
        if case.get("eta") is not None and case["class"] in ("DDIMScheduler", "TCDScheduler"):
            step_kwargs["eta"] = case["eta"]

        def walk(sched, ts, latents, after=0.0):
            # timestep_r: the next timestep; after a part's last step, the whole schedule's next one (`after`),
            # 0 only past the schedule's end, as one unsplit HunyuanImagePipeline loop feeds it.
            for i, t in enumerate(ts):
                model.timestep_r = ts[i + 1] if i + 1 < len(ts) else after
                model_in = sched.scale_model_input(latents, t) if hasattr(sched, "scale_model_input") else latents
                latents = sched.step(model(model_in, t), t, latents, **step_kwargs).prev_sample
            return latents

        chain = case.get("chain")
        if chain:
            # SDXL's base + refiner: the first `at` timesteps, then a fresh scheduler of the second class over the
            # rest of the same schedule (set_begin_index, as StableDiffusionXLImg2ImgPipeline with denoising_start),
            # from the latent as it is.
            latents = walk(scheduler, timesteps[: chain["at"]], latents, timesteps[chain["at"]])
            second = getattr(diffusers, chain["class"]).from_config(case["config"], **chain["overrides"])
            set_pipeline_timesteps(second)
            if hasattr(second, "set_begin_index"):
                second.set_begin_index(chain["at"])
            latents = walk(second, second.timesteps[chain["at"] :], latents)
        else:
            latents = walk(scheduler, timesteps, latents)
        draws = feed.next - 1
    finally:
        if original_randn is not None:
            module.randn_tensor = original_randn
    return latents.numpy(), len(model.calls), draws


def refs_json(meta):
    """refs.json with one line per case, so that adding cases changes only their lines."""
    head = {k: v for k, v in meta.items() if k != "cases"}
    lines = [f" {json.dumps(k)}: {json.dumps(v)}," for k, v in head.items()]
    cases = ",\n".join(f"  {json.dumps(c)}" for c in meta["cases"])
    return "{\n" + "\n".join(lines) + '\n "cases": [\n' + cases + "\n ]\n}\n"


def merged_refs(folder, refs, blob):
    """The references in folder, plus this run's for the cases they lack (tagged with this run's torch and onnxruntime)."""
    meta = json.load(open(os.path.join(folder, "refs.json")))
    old = np.fromfile(os.path.join(folder, "refs.bin"), dtype="<f4")
    new = np.frombuffer(bytes(blob), dtype="<f4")
    have = {c["id"] for c in meta["cases"]}
    out = bytearray(old.tobytes())
    for r in refs:
        if r["id"] in have:
            continue
        r = {**r, "made_with": {"diffusers_commit": os.environ.get("DIFFUSERS_COMMIT"), "torch": torch.__version__, "onnxruntime": ort.__version__}}
        if r["status"] == "ok":
            size = int(np.prod(r["shape"]))
            data = new[r["offset"] : r["offset"] + size]
            r["offset"] = len(out) // 4
            out += data.astype("<f4").tobytes()
        meta["cases"].append(r)
    return meta, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    # 2e-4: diffusers builds its tables in float32, ours are float64; on squaredcos betas with x0 prediction
    # that alone moves diffusers' result by ~1.3e-4 (--float64-tables brings those cases below 1e-5).
    ap.add_argument("--tol", type=float, default=2e-4, help="largest relative L2 distance that passes")
    ap.add_argument("--only")
    ap.add_argument("--json")
    ap.add_argument("--save-refs", help="folder to write diffusers' results to (refs.json, refs.bin)")
    ap.add_argument("--add-missing", action="store_true", help="with --save-refs: keep the references already there, add only the missing cases")
    ap.add_argument("--float64-tables", action="store_true", help="diagnostic: run diffusers with float64 alphas_cumprod, as ours")
    ap.add_argument("--floor-zero-snr", action="store_true", help="diagnostic: floor the zero-SNR terminal alphas_cumprod of DDIM, TCD and LCM at 2^-24, as ours")
    args = ap.parse_args()
    manifest = json.load(open(os.path.join(args.dir, "manifest.json")))
    models = {}
    rows = []
    refs = []
    blob = bytearray()
    for case in manifest["cases"]:
        if args.only and not re.search(args.only, case["id"]):
            continue
        row = {"id": case["id"], "class": case["class"], "steps": case["steps"]}
        expect = (case.get("expect") or {}).get("diffusers")
        try:
            ref, calls, draws = run_case(case, args.dir, models, args.float64_tables, args.floor_zero_snr)
            row.update(calls=calls, draws=draws)
            finite = bool(np.isfinite(ref).all())
            refs.append({"id": case["id"], "status": "ok" if finite else "nonfinite", "shape": list(ref.shape), "offset": len(blob) // 4, "calls": calls, "draws": draws})
            if finite:
                blob += ref.astype("<f4").tobytes()
            ours_finite = case["ours"] is not None and bool(np.isfinite(np.load(os.path.join(args.dir, case["ours"]))).all())
            if expect == "nonfinite":
                ok = not np.isfinite(ref).all() and ours_finite
                row.update(status="ok-expected" if ok else "UNEXPECTED", detail=case["expect"]["why"] if ok else "expected diffusers non-finite and ours finite")
            elif expect == "refuses":
                row.update(status="UNEXPECTED", detail="expected diffusers to refuse this config, but it ran")
            elif case["ours"] is None:
                row.update(status="ours-failed", detail=case["ours_error"])
            else:
                ours = np.load(os.path.join(args.dir, case["ours"])).astype(np.float64)
                ref = ref.astype(np.float64)
                if ours.shape != ref.shape:
                    row.update(status="shape", detail=f"ours {ours.shape} vs diffusers {ref.shape}")
                else:
                    rel = float(np.linalg.norm(ours - ref) / max(np.linalg.norm(ref), 1e-30))
                    # A case may carry its own tolerance, with the deviation that needs it (cases.ts).
                    tol = case.get("tol") or args.tol
                    row.update(rel_l2=rel, max_abs=float(np.max(np.abs(ours - ref))), status="ok" if rel <= tol else "DIFF")
                    if not math.isfinite(rel):
                        row["status"] = "nonfinite"
        except Exception as e:  # a case that diffusers itself rejects is reported, not fatal
            refs.append({"id": case["id"], "status": "refuses", "error": f"{type(e).__name__}: {e}"})
            if expect == "refuses" and case["ours"] is not None:
                row.update(status="ok-expected", detail=f"{case['expect']['why']} ({type(e).__name__})")
            else:
                row.update(status="diffusers-error", detail=f"{type(e).__name__}: {e}", trace=traceback.format_exc(limit=3))
        rows.append(row)
        print(f"{row['status']:>16}  {row.get('rel_l2', float('nan')):10.3e}  {case['id']}  {row.get('detail', '')}", flush=True)
    bad = [r for r in rows if r["status"] not in ("ok", "ok-expected")]
    expected = sum(r["status"] == "ok-expected" for r in rows)
    worst = max((r["rel_l2"] for r in rows if r["status"] == "ok"), default=float("nan"))
    print(f"\n{len(rows) - len(bad) - expected} of {len(rows)} cases within rel L2 {args.tol:g} (or their own tolerance) of diffusers {diffusers.__version__} (worst {worst:.2e}); "
          f"{expected} where diffusers gives no result, as expected; {len(bad)} failing")
    if args.save_refs:
        if args.float64_tables or args.floor_zero_snr:
            sys.exit("--save-refs: the diagnostics change diffusers' results; save references without them")
        meta = {"diffusers": diffusers.__version__, "diffusers_commit": os.environ.get("DIFFUSERS_COMMIT"), "torch": torch.__version__, "onnxruntime": ort.__version__, "float64_tables": False, "cases": refs}
        if args.add_missing:
            meta, blob = merged_refs(args.save_refs, refs, blob)
        os.makedirs(args.save_refs, exist_ok=True)
        with open(os.path.join(args.save_refs, "refs.bin"), "wb") as f:
            f.write(bytes(blob))
        with open(os.path.join(args.save_refs, "refs.json"), "w") as f:
            f.write(refs_json(meta))
    if args.json:
        json.dump({"diffusers": diffusers.__version__, "torch": torch.__version__, "tol": args.tol, "rows": rows}, open(args.json, "w"), indent=1)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
