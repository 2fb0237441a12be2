"""A second device for tests on a CPU-only machine: 'meta' tensors that hold real values.

Inside ``other_device()``, a tensor moved to ``OTHER`` (``x.to(OTHER)``, ``net.to(OTHER)``,
``torch.zeros(..., device=OTHER)``) computes on the CPU but reports ``OTHER`` as its
device, and behaves as a CUDA tensor does where device bugs hide:
- ``.numpy()`` fails unless it was brought back with ``.cpu()`` first;
- an operation mixing it with a CPU tensor (other than a 0-dim scalar) fails.
So host/device mix-ups that would crash on a GPU crash here too.
"""

from __future__ import annotations

import contextlib

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_map

OTHER = torch.device("meta")


class OnOther(torch.Tensor):
    elem: torch.Tensor

    @staticmethod
    def __new__(cls, elem: torch.Tensor):
        out = torch.Tensor._make_wrapper_subclass(
            cls,
            elem.shape,
            strides=elem.stride(),
            dtype=elem.dtype,
            device=OTHER,
            requires_grad=elem.requires_grad,
        )
        out.elem = elem
        return out

    def __repr__(self):
        return f"OnOther({self.elem!r})"

    @classmethod
    def __torch_dispatch__(cls, func, types, args=(), kwargs=None):
        return NotImplemented


_INDEXING = {
    torch.ops.aten.index.Tensor,
    torch.ops.aten.index_put_.default,
    torch.ops.aten.index_put.default,
    torch.ops.aten._index_put_impl_.default,
}


class DeviceMixError(RuntimeError):
    pass


def _is_other(value) -> bool:
    if isinstance(value, torch.device):
        return value.type == OTHER.type
    if isinstance(value, str):
        return value.startswith(OTHER.type)
    return False


class _Mode(TorchDispatchMode):
    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        to_other = _is_other(kwargs.get("device"))
        if to_other:
            kwargs["device"] = torch.device("cpu")
        others, plains = [], []

        def sort(t):
            if isinstance(t, OnOther):
                others.append(t)
            elif isinstance(t, torch.Tensor) and t.dim() > 0:
                plains.append(t)
            return t

        tree_map(sort, (args, kwargs))
        moving = func in (torch.ops.aten._to_copy.default, torch.ops.aten.copy_.default)
        if func in _INDEXING:
            # As on CUDA, integer or boolean indices may stay on the host.
            plains = [t for t in plains if t.dtype.is_floating_point or t.dtype.is_complex]
        if others and plains and not moving:
            raise DeviceMixError(f"{func}: expected all tensors on the same device, found {OTHER} and cpu")
        unwrapped_args, unwrapped_kwargs = tree_map(
            lambda t: t.elem if isinstance(t, OnOther) else t, (args, kwargs)
        )
        out = func(*unwrapped_args, **unwrapped_kwargs)
        if func is torch.ops.aten._to_copy.default:
            wrap = to_other
        elif func is torch.ops.aten.copy_.default:
            wrap = isinstance(args[0], OnOther)
            if wrap:
                return args[0]
        else:
            wrap = bool(others) or to_other
        if not wrap:
            return out
        return tree_map(
            lambda t: OnOther(t) if isinstance(t, torch.Tensor) and not isinstance(t, OnOther) else t, out
        )


@contextlib.contextmanager
def other_device():
    with _Mode():
        yield


@contextlib.contextmanager
def placed(name: str):
    """The torch device called ``name``: "other" for OTHER (its dispatch mode active
    meanwhile), else a real device such as "cpu" or "cuda:0"."""
    if name == "other":
        with other_device():
            yield OTHER
    else:
        yield torch.device(name)
