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
        "loses": ["train-test-recon", "train-test-frozen"],
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
        "loses": ["relerr-test", "ood-test"],
    },
    "relerr_divides_by_the_reconstruction": {
        "replace": {"relerr-solution": (
            "def relative_error(x_hat, x):\n"
            "    return torch.linalg.norm(x_hat - x, dim=1) / torch.linalg.norm(x_hat, dim=1)\n")},
        "loses": ["relerr-test", "ood-test"],
    },
    "relerr_squared_norms": {
        "replace": {"relerr-solution": (
            "def relative_error(x_hat, x):\n"
            "    return ((x_hat - x) ** 2).sum(dim=1) / (x ** 2).sum(dim=1)\n")},
        "loses": ["relerr-test", "ood-test"],
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


def _train(params="decoder.parameters()", loss=_RIGHT_LOSS, opt_in_loop=False, zero=True, record="before"):
    make = f"        opt = torch.optim.Adam({params}, lr=lr)\n" if opt_in_loop else ""
    return (
        "def train_decoder(encoder, decoder, X, steps=300, lr=1e-2):\n"
        + ("" if opt_in_loop else f"    opt = torch.optim.Adam({params}, lr=lr)\n")
        + "    losses = []\n"
        "    for _ in range(steps):\n"
        + make
        + ("        opt.zero_grad()\n" if zero else "")
        + f"        loss = {loss}\n"
        "        loss.backward()\n"
        "        opt.step()\n"
        + ("        losses.append(loss.item())\n" if record == "before" else
           f"        losses.append(({_RIGHT_LOSS}).item())\n")
        + "    return losses\n")


def _relerr(body):
    return "def relative_error(x_hat, x):\n" + body


def _ood(body, sigma_doubles="0.3"):
    return ("def median_noisy_error(encoder, decoder, X, sigma, seed):\n" + body
            + f"\nSIGMA_DOUBLES = {sigma_doubles}\n")


_OOD_RIGHT = (
    "    gen = torch.Generator().manual_seed(seed)\n"
    "    x_in = X + sigma * torch.randn(X.shape, generator=gen, dtype=X.dtype)\n"
    "    with torch.no_grad():\n"
    "        x_hat = decoder(encoder(x_in))\n"
    "    return float(relative_error(x_hat, x_in).median())\n")

WRONG.update({
    # --- Part A: pass the visible tests ---
    "train_ignores_lr": {
        "replace": {"train-solution": _train().replace("lr=lr", "lr=1e-2")},
        "loses": ["train-test-recon"],
    },
    "train_new_optimizer_every_step": {  # Adam's moments restart at every step
        "replace": {"train-solution": _train(opt_in_loop=True)},
        "loses": ["train-test-recon"],
    },
    "train_never_zeroes_the_gradient": {
        "replace": {"train-solution": _train(zero=False)},
        "loses": ["train-test-recon"],
    },
    "train_sum_instead_of_mean": {  # Adam barely notices the scale; the reported losses are 64 n times too big
        "replace": {"train-solution": _train(loss="torch.nn.functional.mse_loss(decoder(encoder(X)), X, reduction='sum')")},
        "loses": ["train-test-recon"],
    },
    "train_records_the_loss_after_the_update": {
        "replace": {"train-solution": _train(record="after")},
        "loses": ["train-test-recon"],
    },
    "train_a_copy_of_the_decoder": {  # the caller's decoder is never trained
        "replace": {"train-solution": _train().replace(
            "    opt = torch.optim.Adam(decoder.parameters(), lr=lr)\n",
            "    import copy\n    decoder = copy.deepcopy(decoder)\n    opt = torch.optim.Adam(decoder.parameters(), lr=lr)\n")},
        "loses": ["train-test-recon", "train-test-frozen"],
    },
    # --- Part B ---
    "relerr_epsilon_in_the_denominator": {
        "replace": {"relerr-solution": _relerr(
            "    return torch.linalg.norm(x_hat - x, dim=1) / (torch.linalg.norm(x, dim=1) + 1e-8)\n")},
        "loses": ["relerr-test"],
    },
    "relerr_float32_cast_back": {
        "replace": {"relerr-solution": _relerr(
            "    a, b = x_hat.float(), x.float()\n"
            "    return (torch.linalg.norm(a - b, dim=1) / torch.linalg.norm(b, dim=1)).to(x.dtype)\n")},
        "loses": ["relerr-test"],
    },
    "relerr_squeeze_loses_the_batch_of_one": {
        "replace": {"relerr-solution": _relerr(
            "    num = torch.linalg.norm(x_hat - x, dim=1, keepdim=True)\n"
            "    den = torch.linalg.norm(x, dim=1, keepdim=True)\n"
            "    return (num / den).squeeze()\n")},
        "loses": ["relerr-test"],
    },
    # --- Part C ---
    "latent_squared_residual": {
        "replace": {"latent-solution": _LATENT.format(pick="    i = int(res.argmin())\n    res = res ** 2\n")},
        "loses": ["latent-test"],
    },
    "latent_rms_residual": {
        "replace": {"latent-solution": _LATENT.format(
            pick="    res = res / x.numel() ** 0.5\n    i = int(res.argmin())\n")},
        "loses": ["latent-test"],
    },
    "latent_residual_before_the_last_step": {
        "replace": {"latent-solution": (
            "def recover_latent(G, x, z_starts, steps=300, lr=0.05):\n"
            "    Z = z_starts.detach().clone().requires_grad_(True)\n"
            "    opt = torch.optim.Adam([Z], lr=lr)\n"
            "    for _ in range(steps):\n"
            "        opt.zero_grad()\n"
            "        rows = ((G(Z) - x) ** 2).sum(dim=1)\n"
            "        rows.sum().backward()\n"
            "        opt.step()\n"
            "    res = rows.detach().sqrt()\n"
            "    i = int(res.argmin())\n"
            "    return Z[i].detach(), float(res[i])\n")},
        "loses": ["latent-test"],
    },
    "latent_ignores_lr": {
        "replace": {"latent-solution": _LATENT.format(pick="    i = int(res.argmin())\n").replace(
            "Adam([Z], lr=lr)", "Adam([Z], lr=0.05)")},
        "loses": ["latent-test"],
    },
    # --- Part E (experiment) ---
    "ood_error_against_the_clean_digits": {
        "replace": {"ood-solution": _ood(_OOD_RIGHT.replace("relative_error(x_hat, x_in)", "relative_error(x_hat, X)"),
                                         sigma_doubles="0.5")},
        "loses": ["ood-test"],
    },
    "ood_mean_instead_of_median": {
        "replace": {"ood-solution": _ood(_OOD_RIGHT.replace(".median()", ".mean()"))},
        "loses": ["ood-test"],
    },
    "ood_ignores_the_seed": {
        "replace": {"ood-solution": _ood(_OOD_RIGHT.replace("manual_seed(seed)", "manual_seed(0)"))},
        "loses": ["ood-test"],
    },
    "ood_noise_added_to_X_in_place": {
        "replace": {"ood-solution": _ood(_OOD_RIGHT.replace(
            "    x_in = X + sigma * torch.randn(X.shape, generator=gen, dtype=X.dtype)\n",
            "    x_in = X\n    x_in += sigma * torch.randn(X.shape, generator=gen, dtype=X.dtype)\n"))},
        "loses": ["ood-test"],
    },
    "ood_last_sigma_below_doubling": {
        "replace": {"ood-solution": _ood(_OOD_RIGHT, sigma_doubles="0.2")},
        "loses": ["ood-test"],
    },
})

# --- found by a blind attack from the release (issue 15): the first kept full marks before the hidden tests were
# fixed; the others are kinds of mistake not listed above ---
_LT = (
    "def recover_latent(G, x, z_starts, steps=300, lr=0.05):\n"
    "    Z = z_starts.detach().clone().requires_grad_(True)\n"
    "    opt = torch.optim.Adam([Z], lr=lr)\n"
    "    for _ in range(steps):\n"
    "        opt.zero_grad()\n"
    "        loss = ((G(Z) - x) ** 2).sum()\n"
    "        loss.backward()\n"
    "        opt.step()\n"
    "    with torch.no_grad():\n"
    "        r = torch.linalg.norm(G(Z) - x, dim=1)\n"
    "    i = int(torch.argmin(r))\n"
    "    return Z[i].detach().clone(), float(r[i])\n")

WRONG.update({
    "relerr_computes_in_the_dtype_of_x_hat": {  # x cast DOWN to a float32 x_hat's dtype: float32 result and error
        "replace": {"relerr-solution": _relerr(
            "    x = x.to(x_hat.dtype)\n"
            "    return torch.linalg.norm(x_hat - x, dim=1) / torch.linalg.norm(x, dim=1)\n")},
        "loses": ["relerr-test"],
    },
    "relerr_changes_x_hat_in_place": {
        "replace": {"relerr-solution": _relerr(
            "    diff = x_hat.sub_(x)\n"
            "    return torch.linalg.norm(diff, dim=1) / torch.linalg.norm(x, dim=1)\n")},
        "loses": ["relerr-test"],
    },
    "relerr_largest_entry_norm": {
        "replace": {"relerr-solution": _relerr(
            "    return (x_hat - x).abs().amax(dim=1) / x.abs().amax(dim=1)\n")},
        "loses": ["relerr-test", "ood-test"],
    },
    "train_ignores_steps": {  # always 300 steps: the visible frozen test does not count the losses
        "replace": {"train-solution": _train().replace("range(steps)", "range(300)")},
        "loses": ["train-test-recon"],
    },
    "train_records_the_rms": {
        "replace": {"train-solution": _train().replace(".item())", ".item() ** 0.5)")},
        "loses": ["train-test-recon"],
    },
    "train_sgd_instead_of_adam": {
        "replace": {"train-solution": _train().replace("torch.optim.Adam(", "torch.optim.SGD(")},
        "loses": ["train-test-recon"],
    },
    "train_random_minibatches": {
        "replace": {"train-solution": (
            "def train_decoder(encoder, decoder, X, steps=300, lr=1e-2):\n"
            "    opt = torch.optim.Adam(decoder.parameters(), lr=lr)\n"
            "    with torch.no_grad():\n"
            "        Z = encoder(X)\n"
            "    losses = []\n"
            "    for _ in range(steps):\n"
            "        idx = torch.randint(0, len(X), (256,))\n"
            "        opt.zero_grad()\n"
            "        loss = torch.nn.functional.mse_loss(decoder(Z[idx]), X[idx])\n"
            "        loss.backward()\n"
            "        opt.step()\n"
            "        losses.append(loss.item())\n"
            "    return losses\n")},
        "loses": ["train-test-recon"],
    },
    "latent_one_step_short": {
        "replace": {"latent-solution": _LT.replace("range(steps)", "range(steps - 1)")},
        "loses": ["latent-test"],
    },
    "latent_l1_residual": {
        "replace": {"latent-solution": _LT.replace("torch.linalg.norm(G(Z) - x, dim=1)", "(G(Z) - x).abs().sum(dim=1)")},
        "loses": ["latent-test"],
    },
    "latent_detach_shares_the_starts": {  # .detach() without .clone(): Adam updates z_starts in place
        "replace": {"latent-solution": _LT.replace("z_starts.detach().clone()", "z_starts.detach()")},
        "loses": ["latent-test"],
    },
    "latent_returns_the_start_row": {
        "replace": {"latent-solution": _LT.replace("return Z[i].detach().clone()", "return z_starts[i].clone()")},
        "loses": ["latent-test"],
    },
    "latent_best_iterate_over_time": {  # the best row at any step, not after the last one
        "replace": {"latent-solution": (
            "def recover_latent(G, x, z_starts, steps=300, lr=0.05):\n"
            "    Z = z_starts.detach().clone().requires_grad_(True)\n"
            "    opt = torch.optim.Adam([Z], lr=lr)\n"
            "    best_r, best_z = float('inf'), None\n"
            "    for _ in range(steps):\n"
            "        opt.zero_grad()\n"
            "        res = torch.linalg.norm(G(Z) - x, dim=1)\n"
            "        j = int(torch.argmin(res))\n"
            "        if float(res[j]) < best_r:\n"
            "            best_r, best_z = float(res[j]), Z[j].detach().clone()\n"
            "        (res ** 2).sum().backward()\n"
            "        opt.step()\n"
            "    return best_z, best_r\n")},
        "loses": ["latent-test"],
    },
    "latent_sgd_instead_of_adam": {
        "replace": {"latent-solution": _LT.replace("torch.optim.Adam(", "torch.optim.SGD(")},
        "loses": ["latent-test"],
    },
    "latent_code_not_detached": {
        "replace": {"latent-solution": _LT.replace("return Z[i].detach().clone()", "return Z[i]")},
        "loses": ["latent-test"],
    },
    "ood_unseeded_noise": {
        "replace": {"ood-solution": _ood(_OOD_RIGHT.replace(
            "    gen = torch.Generator().manual_seed(seed)\n", "").replace(
            "torch.randn(X.shape, generator=gen, dtype=X.dtype)", "torch.randn_like(X)"))},
        "loses": ["ood-test"],
    },
    "ood_sigma_squared_as_the_scale": {  # variance where the standard deviation is asked
        "replace": {"ood-solution": _ood(_OOD_RIGHT.replace("X + sigma * ", "X + sigma ** 2 * "))},
        "loses": ["ood-test"],
    },
    "ood_clamps_the_input_to_pixel_range": {
        "replace": {"ood-solution": _ood(_OOD_RIGHT.replace(
            "x_in = X + sigma * torch.randn(X.shape, generator=gen, dtype=X.dtype)",
            "x_in = (X + sigma * torch.randn(X.shape, generator=gen, dtype=X.dtype)).clamp(0, 1)"))},
        "loses": ["ood-test"],
    },
    "ood_one_noise_row_for_all_samples": {
        "replace": {"ood-solution": _ood(_OOD_RIGHT.replace(
            "torch.randn(X.shape, generator=gen, dtype=X.dtype)", "torch.randn(X.shape[1], generator=gen, dtype=X.dtype)"))},
        "loses": ["ood-test"],
    },
    "ood_noise_drawn_in_float64": {  # another random stream than the float32 draw the protocol names
        "replace": {"ood-solution": _ood(_OOD_RIGHT.replace(
            "torch.randn(X.shape, generator=gen, dtype=X.dtype)",
            "torch.randn(X.shape, generator=gen, dtype=torch.float64).to(X.dtype)"))},
        "loses": ["ood-test"],
    },
    "ood_doubling_against_the_previous_sigma": {  # no step doubles its predecessor: falls through to the last
        "replace": {"ood-solution": _ood(_OOD_RIGHT, sigma_doubles="0.5")},
        "loses": ["ood-test"],
    },
    "ood_first_nonzero_sigma": {
        "replace": {"ood-solution": _ood(_OOD_RIGHT, sigma_doubles="0.05")},
        "loses": ["ood-test"],
    },
})
