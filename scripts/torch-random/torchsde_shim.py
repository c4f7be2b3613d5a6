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
