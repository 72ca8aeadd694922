"""Plausible wrong answers to ex06_learned_inverses; each must lose points where stated."""

_TRAIN = (
    "def train_decoder(encoder, decoder, X, steps=300, lr=1e-2):\n"
    "    opt = torch.optim.Adam({params}, lr=lr)\n"
    "    losses = []\n"
    "    for _ in range(steps):\n"
    "        opt.zero_grad()\n"
    "        loss = {loss}\n"
    "        loss.backward()\n"
    "        opt.step()\n"
    "        losses.append(loss.item())\n"
    "    return losses\n"
)
_RIGHT_LOSS = "torch.nn.functional.mse_loss(decoder(encoder(X)), X)"

_LATENT = (
    "def recover_latent(G, x, z_starts, steps=300, lr=0.05):\n"
    "    Z = z_starts.detach().clone().requires_grad_(True)\n"
    "    opt = torch.optim.Adam([Z], lr=lr)\n"
    "    for _ in range(steps):\n"
    "        opt.zero_grad()\n"
    "        ((G(Z) - x) ** 2).sum().backward()\n"
    "        opt.step()\n"
    "    with torch.no_grad():\n"
    "        res = torch.linalg.norm(G(Z) - x, dim=1)\n"
    "{pick}"
    "    return Z[i].detach(), float(res[i])\n"
)

WRONG = {
    "train_also_updates_the_encoder": {
        "replace": {"train-solution": _TRAIN.format(
            params="list(encoder.parameters()) + list(decoder.parameters())", loss=_RIGHT_LOSS)},
        "loses": ["train-test-frozen"],
    },
    "train_loss_in_code_space": {
        # "the decoder inverts the encoder" read as E(D(z)) = z: a right inverse, not a reconstruction of X
        "replace": {"train-solution": _TRAIN.format(
            params="decoder.parameters()",
            loss="torch.nn.functional.mse_loss(encoder(decoder(encoder(X).detach())), encoder(X).detach())")},
        "loses": ["train-test-recon"],
    },
    "train_optimizes_the_encoder_only": {
        "replace": {"train-solution": _TRAIN.format(params="encoder.parameters()", loss=_RIGHT_LOSS)},
        "loses": ["train-test-recon", "train-test-frozen"],
    },
    "relerr_norm_over_the_whole_batch": {
        "replace": {"relerr-solution": (
            "def relative_error(x_hat, x):\n"
            "    return torch.linalg.norm(x_hat - x) / torch.linalg.norm(x)\n")},
        "loses": ["relerr-test"],
    },
    "relerr_divides_by_the_reconstruction": {
        "replace": {"relerr-solution": (
            "def relative_error(x_hat, x):\n"
            "    return torch.linalg.norm(x_hat - x, dim=1) / torch.linalg.norm(x_hat, dim=1)\n")},
        "loses": ["relerr-test"],
    },
    "relerr_squared_norms": {
        "replace": {"relerr-solution": (
            "def relative_error(x_hat, x):\n"
            "    return ((x_hat - x) ** 2).sum(dim=1) / (x ** 2).sum(dim=1)\n")},
        "loses": ["relerr-test"],
    },
    "latent_keeps_the_last_restart": {
        "replace": {"latent-solution": _LATENT.format(pick="    i = len(res) - 1\n")},
        "loses": ["latent-test"],
    },
    "latent_keeps_the_smallest_code": {
        "replace": {"latent-solution": _LATENT.format(pick="    i = int(torch.linalg.norm(Z.detach(), dim=1).argmin())\n")},
        "loses": ["latent-test"],
    },
    "latent_judges_the_starts": {
        "replace": {"latent-solution": _LATENT.format(
            pick="    i = int(torch.linalg.norm(G(z_starts) - x, dim=1).argmin())\n")},
        "loses": ["latent-test"],
    },
}
