"""Graphs that test whether the host -> plugin graph transport is faithful:
each case makes the lazy core lower a kind of graph the TorchScript text
round trip is known to get wrong, or that crosses mark_step."""
import torch
import torch._lazy
import torch.nn.functional as F


def sync(device):
    if device == "lazy":
        torch._lazy.mark_step()


def inputs(*shape, seed=0, dtype=torch.float32):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)).to(dtype)


# -- Tensor constants and scalars ---------------------------------------------

def case_tensor_constants(device):
    x = inputs(4, 5).to(device)
    # 0 and 1 become scalar tensor constants in the lowered graph.
    out = [x * 1 + 0, x.clamp(min=0.25, max=1.0), torch.where(x > 0, x, torch.zeros_like(x))]
    sync(device)
    return out


def case_float_int_bool_scalars(device):
    x = inputs(3, 4).to(device)
    i = torch.arange(12).reshape(3, 4).to(device)
    out = [x * 3.7 - 0.25, i * 7 // 3, i.remainder(5), (x > 0.1) & True,
           x.pow(3), torch.add(x, x, alpha=2.5), x.masked_fill(x < 0, -2.0)]
    sync(device)
    return out


def case_addcmul_scalar_value(device):
    a, b, c = (inputs(3, 3, seed=s).to(device) for s in range(3))
    out = [torch.addcmul(a, b, c, value=5), torch.addcdiv(a, b, c.abs() + 1, value=0.5)]
    sync(device)
    return out


# -- Tuple and NamedTuple outputs ---------------------------------------------

def case_topk(device):
    values, indices = torch.topk(inputs(5, 6).to(device), 3, dim=1)
    sync(device)
    return [values, indices]


def case_sort(device):
    result = torch.sort(inputs(6, 4).to(device), dim=0, descending=True)
    sync(device)
    return [result.values, result.indices]


def case_max_dim(device):
    result = torch.max(inputs(4, 7).to(device), dim=1, keepdim=True)
    sync(device)
    return [result.values, result.indices]


def case_kthvalue(device):
    result = torch.kthvalue(inputs(5, 6).to(device), 2, dim=1)
    sync(device)
    return [result.values, result.indices]


# -- Lists and None constants --------------------------------------------------

def case_lists_and_none(device):
    x = inputs(2, 3, 4).to(device)
    out = [x.sum(dim=[0, 2]), x.permute(2, 0, 1).contiguous(), x.view(-1, 4),
           torch.cat([x, x * 2], dim=1), F.pad(x, [1, 2]), x.flip([0, 2]),
           x.mean(), x.sum(dtype=None),
           torch.nn.functional.softmax(x, dim=-1, dtype=None), x.std(dim=[1], unbiased=True)]
    sync(device)
    return out


# -- Views and in-place updates across mark_step -------------------------------

def case_narrow_update(device):
    x = inputs(5, 4).to(device)
    x.narrow(0, 1, 2).add_(10)
    sync(device)
    x.narrow(1, 2, 2).mul_(-1)
    sync(device)
    return x


def case_slice_update(device):
    x = inputs(4, 6).to(device)
    x[:, 1:3] = 5.0
    sync(device)
    x[1:, ::2] += 1.0
    sync(device)
    return x


def case_as_strided_update(device):
    x = inputs(16).to(device)
    view = x.as_strided((3, 3), (4, 1), 2)
    view.mul_(2)
    sync(device)
    view.add_(1)
    sync(device)
    return [x, view]


def case_diagonal_update(device):
    x = inputs(4, 4).to(device)
    x.diagonal().fill_(0)
    sync(device)
    x.diagonal(offset=1).add_(3)
    sync(device)
    return x


def case_view_of_synced_tensor(device):
    x = inputs(3, 4).to(device)
    y = x.t()
    sync(device)
    y[0] = -1.0
    sync(device)
    return [x, y, x.unsqueeze(0).expand(2, 3, 4).sum(0)]


# -- Random ops after torch.manual_seed ----------------------------------------

def case_random_after_manual_seed(device):
    x = torch.ones(64, 8).to(device)
    torch.manual_seed(1234)
    out = [F.dropout(x, 0.5), torch.bernoulli(torch.full((16,), 0.3).to(device))]
    sync(device)
    torch.manual_seed(1234)
    out += [torch.rand(5, device=device), torch.randn(3, 3, device=device)]
    sync(device)
    torch.manual_seed(1234)
    again = F.dropout(x, 0.5)
    sync(device)
    return out + [again]


# -- dtype promotion ---------------------------------------------------------

def case_dtype_promotion(device):
    i = torch.arange(6, dtype=torch.int64).to(device)
    f = inputs(6).to(device)
    d = inputs(6, seed=1, dtype=torch.float64).to(device)
    b = (f > 0).to(device)
    h = inputs(6, seed=2, dtype=torch.float16).to(device)
    out = [i + f, i * 2.5, i / 4, f * d, b + i, b * 1.5, h + f, i.to(torch.int32) + i,
           torch.true_divide(i, 3), (i * 3) // 2]
    sync(device)
    return out


# -- Autograd --------------------------------------------------------------

def grads_of(model, loss):
    loss.backward()
    return [loss] + [p.grad for p in model.parameters()]


def case_autograd_conv_batchnorm(device):
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
        torch.nn.MaxPool2d(2), torch.nn.Flatten(), torch.nn.Linear(4 * 4 * 4, 3)).to(device)
    x = inputs(2, 3, 8, 8).to(device)
    y = torch.tensor([0, 2]).to(device)
    out = grads_of(model, F.cross_entropy(model(x), y))
    sync(device)
    return out + [model[1].running_mean, model[1].running_var]


def case_autograd_layer_norm_and_losses(device):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.LayerNorm(8),
                                torch.nn.GELU(), torch.nn.Linear(8, 2)).to(device)
    x = inputs(5, 6).to(device)
    target = inputs(5, 2, seed=1).to(device)
    out = model(x)
    loss = (F.mse_loss(out, target) + F.smooth_l1_loss(out, target)
            + F.binary_cross_entropy_with_logits(out, target.sigmoid()))
    result = grads_of(model, loss)
    sync(device)
    return result
