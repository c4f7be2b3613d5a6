"""
The small `trampoline` package torchsde imports, written here so that torchsde can be loaded from its
source tree without installing anything (make-brownian-refs.py here, and scripts/comfyui-parity/check.py).
"""
import sys
import types


def install_trampoline():
    """torchsde's recursion runs on the `trampoline` package: generators yield the generator they call and
    get its return value sent back; raising TailCall(gen) replaces the current frame with gen."""

    class TailCall(Exception):
        def __init__(self, call):
            super().__init__()
            self.call = call

    def trampoline(gen):
        stack, value, error = [gen], None, None
        while stack:
            err, error = error, None
            try:
                step = stack[-1].throw(err) if err is not None else stack[-1].send(value)
            except StopIteration as stop:
                stack.pop()
                value = stop.value
                continue
            except TailCall as tail:
                stack[-1] = tail.call
                value = None
                continue
            except BaseException as exc:  # pass it to the caller's frame, as a real call would
                stack.pop()
                if not stack:
                    raise
                error, value = exc, None
                continue
            if not isinstance(step, types.GeneratorType):
                raise TypeError(f"trampoline: expected a generator to call, got {step!r}")
            stack.append(step)
            value = None
        return value

    module = types.ModuleType("trampoline")
    module.trampoline = trampoline
    module.TailCall = TailCall
    sys.modules["trampoline"] = module


def load_torchsde_source(src, record_dir=None):
    """Imports torchsde from its source tree `src`, with the trampoline above. With `record_dir`, also writes
    a minimal torchsde.dist-info there and puts it on sys.path: diffusers decides whether torchsde is
    installed from package metadata (importlib.metadata.version), which a bare source tree has none of, and
    otherwise replaces DPMSolverSDEScheduler by a stand-in that raises."""
    import os

    install_trampoline()
    sys.path.insert(0, src)
    import torchsde

    if record_dir is not None:
        info = os.path.join(record_dir, f"torchsde-{torchsde.__version__}.dist-info")
        os.makedirs(info, exist_ok=True)
        with open(os.path.join(info, "METADATA"), "w") as f:
            f.write(f"Metadata-Version: 2.1\nName: torchsde\nVersion: {torchsde.__version__}\n")
        with open(os.path.join(info, "top_level.txt"), "w") as f:
            f.write("torchsde\n")
        sys.path.insert(0, record_dir)
    return torchsde
