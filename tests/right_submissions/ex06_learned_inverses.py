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

# --- written blind from the release (issue 15 attack) ---
RIGHT["encoder_in_graph_scaled_rows_parameter_sorted_median"] = {
    "replace": {
        # the encoder stays in the graph (it gets .grad) but only the decoder is optimised: its weights never move
        "train-solution": (
            "def train_decoder(encoder, decoder, X, steps=300, lr=1e-2):\n"
            "    opt = torch.optim.Adam(decoder.parameters(), lr=lr)\n"
            "    out = []\n"
            "    for _ in range(steps):\n"
            "        loss = ((decoder(encoder(X)) - X) ** 2).sum() / X.numel()\n"
            "        decoder.zero_grad(set_to_none=True)\n"
            "        loss.backward()\n"
            "        out.append(float(loss.detach()))\n"
            "        opt.step()\n"
            "    return out\n"),
        # each row scaled by its largest |x| first, so squaring neither overflows nor underflows
        "relerr-solution": (
            "def relative_error(x_hat, x):\n"
            "    x_hat = x_hat.to(x.dtype)\n"
            "    m = x.abs().amax(dim=1, keepdim=True)\n"
            "    return (((x_hat - x) / m) ** 2).sum(dim=1).sqrt() / ((x / m) ** 2).sum(dim=1).sqrt()\n"),
        "latent-solution": (
            "def recover_latent(G, x, z_starts, steps=300, lr=0.05):\n"
            "    Z = torch.nn.Parameter(z_starts.clone())\n"
            "    opt = torch.optim.Adam([Z], lr=lr)\n"
            "    target = x.expand(Z.shape[0], -1)\n"
            "    for _ in range(steps):\n"
            "        opt.zero_grad()\n"
            "        torch.nn.functional.mse_loss(G(Z), target, reduction='sum').backward()\n"
            "        opt.step()\n"
            "    with torch.no_grad():\n"
            "        res = (G(Z) - target).pow(2).sum(-1).sqrt()\n"
            "        i = res.argmin()\n"
            "    return Z.detach()[i].clone(), res[i].item()\n"),
        # sort and take the lower middle value: torch.median's convention
        "ood-solution": (
            "def median_noisy_error(encoder, decoder, X, sigma, seed):\n"
            "    g = torch.Generator()\n"
            "    g.manual_seed(seed)\n"
            "    x_in = X + sigma * torch.randn(X.shape, generator=g, dtype=X.dtype)\n"
            "    with torch.inference_mode():\n"
            "        rec = decoder(encoder(x_in))\n"
            "    err = (rec - x_in).norm(dim=1) / x_in.norm(dim=1)\n"
            "    srt = torch.sort(err).values\n"
            "    return srt[(len(srt) - 1) // 2].item()\n"
            "\n"
            "_errs = {s: median_noisy_error(ENC, DEC, X, s, 0) for s in SIGMAS}\n"
            "SIGMA_DOUBLES = min(s for s in SIGMAS if _errs[s] / _errs[0.0] >= 2)\n"),
    },
}
RIGHT["encoder_frozen_and_restored_closure_row_loop"] = {
    "replace": {
        "train-solution": (
            "def train_decoder(encoder, decoder, X, steps=300, lr=1e-2):\n"
            "    flags = [p.requires_grad for p in encoder.parameters()]\n"
            "    for p in encoder.parameters():\n"
            "        p.requires_grad_(False)\n"
            "    try:\n"
            "        opt = torch.optim.Adam(decoder.parameters(), lr=lr)\n"
            "        history = []\n"
            "        while len(history) < steps:\n"
            "            def closure():\n"
            "                opt.zero_grad()\n"
            "                loss = torch.nn.functional.mse_loss(decoder(encoder(X)), X)\n"
            "                loss.backward()\n"
            "                return loss\n"
            "            history.append(opt.step(closure).item())\n"
            "        return history\n"
            "    finally:\n"
            "        for p, fl in zip(encoder.parameters(), flags):\n"
            "            p.requires_grad_(fl)\n"),
        "relerr-solution": (
            "def relative_error(x_hat, x):\n"
            "    x_hat = x_hat.to(x.dtype)\n"
            "    return torch.stack([torch.linalg.vector_norm(x_hat[i] - x[i]) / torch.linalg.vector_norm(x[i])\n"
            "                        for i in range(x.shape[0])])\n"),
    },
}
