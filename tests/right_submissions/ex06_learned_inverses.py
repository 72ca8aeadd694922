"""Correct answers to ex06_learned_inverses written another way than the solution; each must earn full marks."""

RIGHT = {
    "manual_mse_float_of_loss_torch_min": {
        "replace": {
            "train-solution": (
                "def train_decoder(encoder, decoder, X, steps=300, lr=1e-2):\n"
                "    with torch.no_grad():\n"
                "        Z = encoder(X)\n"
                "    opt = torch.optim.Adam(decoder.parameters(), lr=lr)\n"
                "    out = []\n"
                "    for _ in range(steps):\n"
                "        loss = ((decoder(Z) - X) ** 2).mean()\n"
                "        out.append(float(loss))\n"
                "        opt.zero_grad()\n"
                "        loss.backward()\n"
                "        opt.step()\n"
                "    return out\n"),
            "relerr-solution": (
                "def relative_error(x_hat, x):\n"
                "    return (x_hat - x).norm(dim=-1) / x.norm(dim=-1)\n"),
            "latent-solution": (
                "def recover_latent(G, x, z_starts, steps=300, lr=0.05):\n"
                "    Z = z_starts.clone().detach().requires_grad_(True)\n"
                "    opt = torch.optim.Adam([Z], lr=lr)\n"
                "    for _ in range(steps):\n"
                "        opt.zero_grad()\n"
                "        torch.linalg.vector_norm(G(Z) - x, dim=1).pow(2).sum().backward()\n"
                "        opt.step()\n"
                "    with torch.no_grad():\n"
                "        res = torch.linalg.vector_norm(G(Z) - x, dim=1)\n"
                "    r, i = torch.min(res, dim=0)\n"
                "    return Z[i].detach().clone(), r.item()\n"),
        },
    },
    "codes_per_step_row_loop": {
        "replace": {
            "train-solution": (
                "def train_decoder(encoder, decoder, X, steps=300, lr=1e-2):\n"
                "    opt = torch.optim.Adam(decoder.parameters(), lr=lr)\n"
                "    losses = []\n"
                "    for step in range(steps):\n"
                "        with torch.no_grad():\n"
                "            codes = encoder(X)\n"
                "        opt.zero_grad(set_to_none=False)\n"
                "        loss = torch.nn.functional.mse_loss(decoder(codes), X, reduction='mean')\n"
                "        losses.append(loss.detach().item())\n"
                "        loss.backward()\n"
                "        opt.step()\n"
                "    return losses\n"),
            "relerr-solution": (
                "def relative_error(x_hat, x):\n"
                "    return torch.stack([torch.linalg.vector_norm(a - b) / torch.linalg.vector_norm(b)\n"
                "                        for a, b in zip(x_hat, x)])\n"),
            "latent-solution": (
                "def recover_latent(G, x, z_starts, steps=300, lr=0.05):\n"
                "    Z = torch.nn.Parameter(z_starts.detach().clone())\n"
                "    opt = torch.optim.Adam([Z], lr=lr)\n"
                "    for _ in range(steps):\n"
                "        opt.zero_grad()\n"
                "        loss = torch.sum((G(Z) - x) ** 2)\n"
                "        loss.backward()\n"
                "        opt.step()\n"
                "    Zd = Z.detach()\n"
                "    res = [float(torch.linalg.norm(G(Zd[i:i + 1])[0] - x)) for i in range(Zd.shape[0])]\n"
                "    best = min(range(len(res)), key=res.__getitem__)\n"
                "    return Zd[best].clone(), res[best]\n"),
        },
    },
    "while_loop_ord2_norms": {
        "replace": {
            "train-solution": (
                "def train_decoder(encoder, decoder, X, steps=300, lr=1e-2):\n"
                "    codes = encoder(X).detach().clone()\n"
                "    optimizer = torch.optim.Adam(list(decoder.parameters()), lr=lr)\n"
                "    history = []\n"
                "    step = 0\n"
                "    while step < steps:\n"
                "        optimizer.zero_grad()\n"
                "        err = torch.nn.functional.mse_loss(decoder(codes), X)\n"
                "        err.backward()\n"
                "        history.append(err.item())\n"
                "        optimizer.step()\n"
                "        step += 1\n"
                "    return history\n"),
            "relerr-solution": (
                "def relative_error(x_hat, x):\n"
                "    return torch.linalg.norm(x_hat - x, ord=2, dim=1) / torch.linalg.norm(x, ord=2, dim=1)\n"),
            "latent-solution": (
                "def recover_latent(G, x, z_starts, steps=300, lr=0.05):\n"
                "    Z = z_starts.detach().clone()\n"
                "    Z.requires_grad = True\n"
                "    opt = torch.optim.Adam([Z], lr=lr)\n"
                "    for _ in range(steps):\n"
                "        loss = (G(Z) - x).pow(2).sum(dim=1).sum()\n"
                "        opt.zero_grad()\n"
                "        loss.backward()\n"
                "        opt.step()\n"
                "    with torch.no_grad():\n"
                "        res = (G(Z) - x).norm(dim=1)\n"
                "    i = res.argmin().item()\n"
                "    return Z.detach()[i], res[i].item()\n"),
        },
    },
}

RIGHT["global_rng_quantile_loop_latent_per_row"] = {
    "replace": {
        # torch.manual_seed(seed) + the default generator draws the same numbers as a fresh seeded Generator
        "ood-solution": (
            "def median_noisy_error(encoder, decoder, X, sigma, seed):\n"
            "    torch.manual_seed(seed)\n"
            "    x_in = X.clone()\n"
            "    x_in.add_(sigma * torch.randn(X.shape, dtype=X.dtype))\n"
            "    with torch.no_grad():\n"
            "        x_hat = decoder(encoder(x_in))\n"
            "    e = torch.linalg.vector_norm(x_hat - x_in, dim=1) / torch.linalg.vector_norm(x_in, dim=1)\n"
            "    return torch.quantile(e.double(), 0.5).item()\n"
            "\n"
            "clean = median_noisy_error(ENC, DEC, X, 0.0, 0)\n"
            "SIGMA_DOUBLES = next(s for s in SIGMAS if median_noisy_error(ENC, DEC, X, s, 0) >= 2 * clean)\n"),
        # Adam is elementwise and the rows do not interact: one optimiser per start gives the same iterates
        "latent-solution": (
            "def recover_latent(G, x, z_starts, steps=300, lr=0.05):\n"
            "    best = None\n"
            "    for i in range(z_starts.shape[0]):\n"
            "        z = z_starts[i:i + 1].detach().clone().requires_grad_(True)\n"
            "        opt = torch.optim.Adam([z], lr=lr)\n"
            "        for _ in range(steps):\n"
            "            opt.zero_grad()\n"
            "            ((G(z) - x) ** 2).sum().backward()\n"
            "            opt.step()\n"
            "        with torch.no_grad():\n"
            "            r = float(torch.linalg.norm(G(z)[0] - x))\n"
            "        if best is None or r < best[1]:\n"
            "            best = (z.detach()[0], r)\n"
            "    return best\n"),
        "relerr-solution": (
            "def relative_error(x_hat, x):\n"
            "    return torch.sqrt(((x_hat - x) ** 2).sum(dim=1)) / torch.sqrt((x ** 2).sum(dim=1))\n"),
    },
}
