"""Optional cuEquivariance backend for the interaction tensor products (NVIDIA's ``cuequivariance-torch``).

    from scisft.potentials.cueq import use_cuequivariance
    model = load("model_dir").to("cuda")
    use_cuequivariance(model)            # after moving the model: the method follows its device

Each layer's tensor product (e3nn, 'uvu' paths, weights from the radial MLP) is computed by cuEquivariance's
channel-wise tensor product instead; both use "component" irrep and "element" path normalisation, so it is the
same function (``tests/potentials/test_cueq.py`` checks energies and forces against e3nn). On a CUDA device it
runs NVIDIA's fused kernels (``method="uniform_1d"``: needs ``pip install cuequivariance-ops-torch-cu12``);
elsewhere cuEquivariance's PyTorch path (``"naive"``). Nothing is saved differently: the e3nn module stays in place
(``use_e3nn`` goes back), the cuEquivariance module keeps no persistent state, and the radial MLP still writes its
weights in e3nn's path order (a fixed index reorders them into cuEquivariance's, one segment per output irrep), so
checkpoints and adapters do not change.
"""

from __future__ import annotations

import torch
from e3nn import o3
from torch import nn

from scisft.errors import ConfigError


class CueTensorProduct(nn.Module):
    """cuEquivariance's channel-wise tensor product, called like the e3nn ``o3.TensorProduct`` it replaces:
    ``forward(x (E, irreps_in1), y (E, irreps_in2), weight (E, weight_numel) in e3nn's order)``."""

    def __init__(self, tp: o3.TensorProduct, method: str):
        super().__init__()
        import cuequivariance as cue
        import cuequivariance_torch as cuet

        irreps_in1, irreps_in2 = cue.Irreps("O3", str(tp.irreps_in1)), cue.Irreps("O3", str(tp.irreps_in2))
        targets = [cue.O3(ir.l, ir.p) for _, ir in tp.irreps_out]
        self.tp = cuet.ChannelWiseTensorProduct(
            irreps_in1, irreps_in2, targets, layout=cue.mul_ir, shared_weights=False, internal_weights=False,
            method=method,
        )  # fmt: skip
        if str(self.tp.irreps_out) != str(tp.irreps_out):
            raise ConfigError(f"cuEquivariance orders the outputs as {self.tp.irreps_out}, e3nn as {tp.irreps_out}")
        # e3nn: one weight block per instruction, in instruction order; cuEquivariance: one per path of its
        # descriptor (weight segment, input-1 segment, input-2 segment, output segment)
        blocks, offset = {}, 0
        for ins in tp.instructions:
            blocks[(ins.i_in1, ins.i_in2, ins.i_out)] = range(offset, offset + ins.path_shape[0])
            offset += ins.path_shape[0]
        paths = cue.descriptors.channelwise_tensor_product(irreps_in1, irreps_in2, targets).polynomial.operations[0][1]
        order = [None] * len(tp.instructions)
        for path in paths.paths:
            w, i1, i2, out = path.indices
            order[w] = blocks[(i1, i2, out)]
        index = torch.tensor([i for block in order for i in block])
        if not len(index) == tp.weight_numel == self.tp.weight_numel:
            raise ConfigError(f"cuEquivariance expects {self.tp.weight_numel} weights per edge, e3nn {tp.weight_numel}")
        self.register_buffer("weight_order", index, persistent=False)
        for module in self.tp.modules():  # constants cuEquivariance rebuilds: keep them out of checkpoints
            for name, buffer in list(module.named_buffers(recurse=False)):
                module.register_buffer(name, buffer, persistent=False)

    def forward(self, x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        return self.tp(x, y, weight[:, self.weight_order])


def use_cuequivariance(model: nn.Module, method: str | None = None) -> nn.Module:
    """Compute every interaction's tensor product with cuEquivariance (in place; returns ``model``). ``method``:
    ``"uniform_1d"`` (CUDA kernels, the default on a CUDA device) or ``"naive"`` (PyTorch, the default elsewhere)."""
    try:
        import cuequivariance_torch  # noqa: F401
    except ImportError as error:
        raise ConfigError(
            "the cuEquivariance backend needs the cuequivariance-torch package: pip install 'scisft[cueq]' "
            "(and cuequivariance-ops-torch-cu12 for the CUDA kernels)"
        ) from error
    parameter = next(model.parameters())
    method = method or ("uniform_1d" if parameter.is_cuda else "naive")
    for layer in model.layers:
        layer.fast_tp = CueTensorProduct(layer.tp, method).to(device=parameter.device, dtype=parameter.dtype)
    return model


def use_e3nn(model: nn.Module) -> nn.Module:
    """Undo ``use_cuequivariance``: every tensor product runs through e3nn again."""
    for layer in model.layers:
        layer.fast_tp = None
    return model
