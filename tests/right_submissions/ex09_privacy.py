"""Correct answers to ex09_privacy written another way than the solution; each must earn full marks."""

RIGHT = {
    "backward_float64_loop_all_rows": {
        "replace": {
            "fgsm-solution": (
                "def fgsm(model, x, label, eps):\n"
                "    xx = x.clone().detach().requires_grad_(True)\n"
                "    torch.nn.functional.cross_entropy(model(xx), label).backward()\n"
                "    return torch.clamp(xx + eps * torch.sign(xx.grad), 0.0, 1.0).detach()\n"),
            "success-solution": (
                "def attack_success_rate(model, x, label, x_adv):\n"
                "    with torch.no_grad():\n"
                "        ok = (model(x).argmax(1) == label).tolist()\n"
                "        bad = (model(x_adv).argmax(1) != label).tolist()\n"
                "    n = sum(ok)\n"
                "    if n == 0:\n"
                "        raise ValueError('no clean input is classified correctly')\n"
                "    return sum(a and b for a, b in zip(ok, bad)) / n\n"),
            "matching-solution": (
                "def gradient_matching_loss(dummy_grads, true_grads):\n"
                "    total = torch.zeros((), dtype=dummy_grads[0].dtype)\n"
                "    for a, b in zip(dummy_grads, true_grads):\n"
                "        total = total + torch.sum((a - b) ** 2)\n"
                "    return total\n"),
            "recover-solution": (
                "def input_from_first_layer_gradients(grad_W1, grad_b1):\n"
                "    nrm = grad_b1 @ grad_b1\n"
                "    if nrm == 0:\n"
                "        raise ValueError('all bias gradients are zero: nothing to recover')\n"
                "    return (grad_b1 @ grad_W1) / nrm\n"),
            "experiment-solution": (
                "def blind_fraction(model, x, target, decimals, h):\n"
                "    n, d = x.shape\n"
                "    blind = 0\n"
                "    for i in range(n):\n"
                "        c = int(target[i])\n"
                "        base = rounded_confidences(model, x[i:i + 1], decimals)[0, c]\n"
                "        for j in range(d):\n"
                "            probe = x[i:i + 1].clone()\n"
                "            probe[0, j] = probe[0, j] + h\n"
                "            if rounded_confidences(model, probe, decimals)[0, c] == base:\n"
                "                blind += 1\n"
                "    return blind / (n * d)\n"
                "\n"
                "BLIND_AT_2 = []\n"
                "for h in H_GRID:\n"
                "    BLIND_AT_2.append(blind_fraction(victim, x_probe, target_probe, 2, h))\n"
                "SMALLEST_H_2 = next(h for h, b in zip(H_GRID, BLIND_AT_2) if b <= 0.5)\n"
                "ROUNDING_HIDES_GRADIENT = SMALLEST_H_2 is None\n"),
            "rounding-solution": (
                "def rounded_confidences(model, x, decimals):\n"
                "    with torch.no_grad():\n"
                "        p = torch.nn.functional.softmax(model(x), dim=1)\n"
                "        return torch.round(p, decimals=decimals)\n"),
        },
    },
    "sum_reduction_float32_rate_stack_loop": {
        "replace": {
            "fgsm-solution": (
                "def fgsm(model, x, label, eps):\n"
                "    x0 = x.detach().clone().requires_grad_()\n"
                "    loss = torch.nn.functional.cross_entropy(model(x0), label, reduction='sum')\n"
                "    g = torch.autograd.grad(loss, x0)[0]\n"
                "    return (x0.detach() + eps * g.sign()).clamp(min=0, max=1)\n"),
            "success-solution": (
                "def attack_success_rate(model, x, label, x_adv):\n"
                "    with torch.no_grad():\n"
                "        a = model(x).argmax(dim=1) == label\n"
                "        b = model(x_adv).argmax(dim=1) != label\n"
                "    if not a.any():\n"
                "        raise ValueError('the model gets every clean input wrong')\n"
                "    return ((a & b).sum() / a.sum()).item()\n"),
            "matching-solution": (
                "def gradient_matching_loss(dummy_grads, true_grads):\n"
                "    return torch.stack([(a - b).pow(2).sum() for a, b in zip(dummy_grads, true_grads)]).sum()\n"),
            "recover-solution": (
                "def input_from_first_layer_gradients(grad_W1, grad_b1):\n"
                "    best = None\n"
                "    for i in range(grad_b1.shape[0]):\n"
                "        if grad_b1[i] != 0 and (best is None or abs(grad_b1[i]) > abs(grad_b1[best])):\n"
                "            best = i\n"
                "    if best is None:\n"
                "        raise ValueError('every delta is zero')\n"
                "    return grad_W1[best] / grad_b1[best]\n"),
            "experiment-solution": (
                "def blind_fraction(model, x, target, decimals, h):\n"
                "    n, d = x.shape\n"
                "    probes = x.repeat_interleave(d, dim=0) + h * torch.eye(d, dtype=x.dtype).repeat(n, 1)\n"
                "    t = target.repeat_interleave(d)\n"
                "    with torch.no_grad():\n"
                "        p0 = torch.round(model(x).softmax(dim=1), decimals=decimals).gather(1, target[:, None])\n"
                "        p1 = torch.round(model(probes).softmax(dim=1), decimals=decimals).gather(1, t[:, None])\n"
                "    same = p1.reshape(n, d) == p0\n"
                "    return same.sum().item() / same.numel()\n"
                "\n"
                "BLIND_AT_2 = [blind_fraction(victim, x_probe, target_probe, 2, h) for h in H_GRID]\n"
                "SMALLEST_H_2 = H_GRID[[b <= 0.5 for b in BLIND_AT_2].index(True)]\n"
                "ROUNDING_HIDES_GRADIENT = False\n"),
            "rounding-solution": (
                "def rounded_confidences(model, x, decimals):\n"
                "    with torch.no_grad():\n"
                "        z = model(x)\n"
                "        e = torch.exp(z - z.max(dim=1, keepdim=True).values)\n"
                "        return torch.round(e / e.sum(dim=1, keepdim=True), decimals=decimals)\n"),
        },
    },
    "nll_log_softmax_masked_mean_dot": {
        "replace": {
            "fgsm-solution": (
                "def fgsm(model, x, label, eps):\n"
                "    v = x.detach().clone()\n"
                "    v.requires_grad_(True)\n"
                "    out = torch.nn.functional.log_softmax(model(v), dim=1)\n"
                "    loss = torch.nn.functional.nll_loss(out, label)\n"
                "    (g,) = torch.autograd.grad(loss, [v])\n"
                "    return torch.clamp(v.detach() + eps * torch.sign(g), 0, 1)\n"),
            "success-solution": (
                "def attack_success_rate(model, x, label, x_adv):\n"
                "    with torch.no_grad():\n"
                "        correct = model(x).argmax(1).eq(label)\n"
                "        flipped = model(x_adv).argmax(1).ne(label)\n"
                "    if int(correct.sum()) == 0:\n"
                "        raise ValueError('no correctly classified clean input')\n"
                "    return float(flipped[correct].double().mean())\n"),
            "matching-solution": (
                "def gradient_matching_loss(dummy_grads, true_grads):\n"
                "    out = 0\n"
                "    for a, b in zip(dummy_grads, true_grads):\n"
                "        d = (a - b).flatten()\n"
                "        out = out + torch.dot(d, d)\n"
                "    return out\n"),
            "recover-solution": (
                "def input_from_first_layer_gradients(grad_W1, grad_b1):\n"
                "    mags = grad_b1.abs()\n"
                "    i = int(torch.argmax(mags))\n"
                "    if mags[i].item() == 0.0:\n"
                "        raise ValueError('no information: every bias gradient is zero')\n"
                "    return grad_W1[i] * (1.0 / grad_b1[i])\n"),
            "experiment-solution": (
                "def blind_fraction(model, x, target, decimals, h):\n"
                "    n, d = x.shape\n"
                "    scale = 10.0 ** decimals\n"
                "    def service(v):\n"
                "        with torch.no_grad():\n"
                "            z = model(v)\n"
                "            e = torch.exp(z - z.max(dim=1, keepdim=True).values)\n"
                "            return torch.round(e / e.sum(dim=1, keepdim=True) * scale) / scale\n"
                "    base = service(x)[torch.arange(n), target]\n"
                "    count = 0\n"
                "    for j in range(d):\n"
                "        step = torch.zeros_like(x)\n"
                "        step[:, j] = h\n"
                "        count += int((service(x + step)[torch.arange(n), target] == base).sum())\n"
                "    return count / (n * d)\n"
                "\n"
                "BLIND_AT_2 = [blind_fraction(victim, x_probe, target_probe, 2, h) for h in H_GRID]\n"
                "SMALLEST_H_2 = [h for h, b in zip(H_GRID, BLIND_AT_2) if b <= 0.5][0]\n"
                "ROUNDING_HIDES_GRADIENT = BLIND_AT_2[-1] > 0.5\n"),
            "rounding-solution": (
                "def rounded_confidences(model, x, decimals):\n"
                "    with torch.no_grad():\n"
                "        p = model(x).softmax(dim=1)\n"
                "    scale = 10.0 ** decimals\n"
                "    return torch.round(p * scale) / scale\n"),
        },
    },
    # ---- issue 15, outsider attack (atk5, written blind from the release) ----
    "atk5_backward_sum_loss_python_counts_cat_dot_torch_max_logsumexp_eye": {
        "replace": {
            "fgsm-solution": (
                'def fgsm(model: torch.nn.Module, x: torch.Tensor, label: torch.Tensor, eps: float) -> torch.Tensor:\n'
                '    """Return clip(x + eps * sign(grad_x cross_entropy(model(x), label)), 0, 1)."""\n'
                '    x_in = x.clone().detach()\n'
                '    x_in.requires_grad = True\n'
                '    loss = torch.nn.functional.nll_loss(torch.log_softmax(model(x_in), dim=1), label, reduction="sum")\n'
                '    loss.backward()\n'
                '    step = eps * x_in.grad.sign()\n'
                '    with torch.no_grad():\n'
                '        out = x + step\n'
                '        out = torch.where(out > 1, torch.ones_like(out), out)\n'
                '        out = torch.where(out < 0, torch.zeros_like(out), out)\n'
                '    return out.detach()\n'
            ),
            "success-solution": (
                'def attack_success_rate(model: torch.nn.Module, x: torch.Tensor, label: torch.Tensor, x_adv: torch.Tensor) -> float:\n'
                '    """Fraction of the correctly classified inputs that the attack makes the model misclassify."""\n'
                '    with torch.no_grad():\n'
                '        clean = model(x).max(dim=1).indices.tolist()\n'
                '        adv = model(x_adv).max(dim=1).indices.tolist()\n'
                '    labels = label.tolist()\n'
                '    correct = fooled = 0\n'
                '    for c, a, l in zip(clean, adv, labels):\n'
                '        if c == l:\n'
                '            correct += 1\n'
                '            if a != l:\n'
                '                fooled += 1\n'
                '    if correct == 0:\n'
                '        raise ValueError("no clean input is classified correctly")\n'
                '    return fooled / correct\n'
            ),
            "matching-solution": (
                'def gradient_matching_loss(dummy_grads: list[torch.Tensor], true_grads: list[torch.Tensor]) -> torch.Tensor:\n'
                '    """Return sum_j ||dummy_grads[j] - true_grads[j]||^2 as a differentiable 0-d tensor."""\n'
                '    diff = torch.cat([(d - t).reshape(-1) for d, t in zip(dummy_grads, true_grads)])\n'
                '    return torch.dot(diff, diff)\n'
            ),
            "recover-solution": (
                'def input_from_first_layer_gradients(grad_W1: torch.Tensor, grad_b1: torch.Tensor) -> torch.Tensor:\n'
                '    """Return x = grad_W1[i] / grad_b1[i] for the row i with the largest |grad_b1[i]|."""\n'
                '    val, i = torch.max(torch.abs(grad_b1), dim=0)\n'
                '    if val.item() == 0.0:\n'
                '        raise ValueError("every delta_i is zero: the gradient carries no information about x")\n'
                '    return torch.div(grad_W1[i], grad_b1[i])\n'
            ),
            "rounding-solution": (
                'def rounded_confidences(model: torch.nn.Module, x: torch.Tensor, decimals: int) -> torch.Tensor:\n'
                '    """Return softmax(model(x)) rounded to `decimals` decimals, without gradient history."""\n'
                '    with torch.no_grad():\n'
                '        z = model(x)\n'
                '        p = torch.exp(z - torch.logsumexp(z, dim=1, keepdim=True))\n'
                '        return p.round(decimals=decimals)\n'
            ),
            "experiment-solution": (
                'def blind_fraction(model: torch.nn.Module, x: torch.Tensor, target: torch.Tensor, decimals: int, h: float) -> float:\n'
                '    """Fraction of the n * d finite-difference probes x_i + h e_j whose rounded target confidence does not change."""\n'
                '    n, d = x.shape\n'
                '    probes = x[:, None, :] + h * torch.eye(d, dtype=x.dtype)[None]          # (n, d, d)\n'
                '    base = rounded_confidences(model, x, decimals)[torch.arange(n), target]  # (n,)\n'
                '    seen = rounded_confidences(model, probes.reshape(n * d, d), decimals).reshape(n, d, -1)\n'
                '    seen_t = seen[torch.arange(n), :, target]                                # (n, d)\n'
                '    return float((seen_t == base[:, None]).double().mean())\n'
                '\n'
                '\n'
                'BLIND_AT_2 = []\n'
                'for h in H_GRID:\n'
                '    BLIND_AT_2.append(blind_fraction(victim, x_probe, target_probe, 2, h))\n'
                'SMALLEST_H_2 = next(h for h, b in zip(H_GRID, BLIND_AT_2) if b <= 0.5)\n'
                'ROUNDING_HIDES_GRADIENT = not any(b <= 0.5 for b in BLIND_AT_2)\n'
            ),
        },
    },
    "atk5_row_loop_float32_rate_mse_dist_least_squares_scale_round_probe_loop": {
        "replace": {
            "fgsm-solution": (
                'def fgsm(model: torch.nn.Module, x: torch.Tensor, label: torch.Tensor, eps: float) -> torch.Tensor:\n'
                '    """Return clip(x + eps * sign(grad_x cross_entropy(model(x), label)), 0, 1)."""\n'
                '    rows = []\n'
                '    for i in range(x.shape[0]):\n'
                '        xi = x[i : i + 1].detach().clone().requires_grad_(True)\n'
                '        loss = torch.nn.functional.cross_entropy(model(xi), label[i : i + 1])\n'
                '        (gi,) = torch.autograd.grad(loss, xi)\n'
                '        rows.append(torch.clamp(xi.detach() + eps * torch.sign(gi), min=0.0, max=1.0))\n'
                '    return torch.cat(rows)\n'
            ),
            "success-solution": (
                'def attack_success_rate(model: torch.nn.Module, x: torch.Tensor, label: torch.Tensor, x_adv: torch.Tensor) -> float:\n'
                '    """Fraction of the correctly classified inputs that the attack makes the model misclassify."""\n'
                '    with torch.no_grad():\n'
                '        a = model(x).argmax(1) == label\n'
                '        b = model(x_adv).argmax(1) != label\n'
                '    if a.sum() == 0:\n'
                '        raise ValueError("the model classifies no clean input correctly")\n'
                '    return ((a & b).float().sum() / a.float().sum()).item()\n'
            ),
            "matching-solution": (
                'def gradient_matching_loss(dummy_grads: list[torch.Tensor], true_grads: list[torch.Tensor]) -> torch.Tensor:\n'
                '    """Return sum_j ||dummy_grads[j] - true_grads[j]||^2 as a differentiable 0-d tensor."""\n'
                '    terms = []\n'
                '    for j, (d, t) in enumerate(zip(dummy_grads, true_grads)):\n'
                '        if j % 2 == 0:\n'
                '            terms.append(torch.nn.functional.mse_loss(d, t, reduction="sum"))\n'
                '        else:\n'
                '            terms.append(torch.dist(d, t) ** 2)\n'
                '    return torch.stack(terms).sum()\n'
            ),
            "recover-solution": (
                'def input_from_first_layer_gradients(grad_W1: torch.Tensor, grad_b1: torch.Tensor) -> torch.Tensor:\n'
                '    """Return x = grad_W1[i] / grad_b1[i] for the row i with the largest |grad_b1[i]|."""\n'
                '    nrm = torch.dot(grad_b1, grad_b1)\n'
                '    if nrm == 0:\n'
                '        raise ValueError("every delta_i is zero: no information about x")\n'
                '    return grad_b1 @ grad_W1 / nrm\n'
            ),
            "rounding-solution": (
                'def rounded_confidences(model: torch.nn.Module, x: torch.Tensor, decimals: int) -> torch.Tensor:\n'
                '    """Return softmax(model(x)) rounded to `decimals` decimals, without gradient history."""\n'
                '    logits = model(x).detach()\n'
                '    p = torch.nn.functional.softmax(logits, dim=-1)\n'
                '    scale = 10.0 ** decimals\n'
                '    return torch.round(p * scale) / scale\n'
            ),
            "experiment-solution": (
                'def blind_fraction(model: torch.nn.Module, x: torch.Tensor, target: torch.Tensor, decimals: int, h: float) -> float:\n'
                '    """Fraction of the n * d finite-difference probes x_i + h e_j whose rounded target confidence does not change."""\n'
                '    n, d = x.shape\n'
                '    blind = 0\n'
                '    with torch.no_grad():\n'
                '        for i in range(n):\n'
                '            xi = x[i : i + 1]\n'
                '            c = int(target[i])\n'
                '            base = torch.round(torch.softmax(model(xi), dim=1), decimals=decimals)[0, c].item()\n'
                '            for j in range(d):\n'
                '                e = torch.zeros_like(xi)\n'
                '                e[0, j] = h\n'
                '                got = torch.round(torch.softmax(model(xi + e), dim=1), decimals=decimals)[0, c].item()\n'
                '                blind += got == base\n'
                '    return float(blind) / (n * d)\n'
                '\n'
                '\n'
                'BLIND_AT_2 = [blind_fraction(victim, x_probe, target_probe, 2, h) for h in H_GRID]\n'
                'SMALLEST_H_2 = [h for h, b in zip(H_GRID, BLIND_AT_2) if b <= 0.5][0]\n'
                'ROUNDING_HIDES_GRADIENT = False\n'
            ),
        },
    },
    "atk5_recover_loop_over_rows": {
        "replace": {
            "recover-solution": (
                'def input_from_first_layer_gradients(grad_W1: torch.Tensor, grad_b1: torch.Tensor) -> torch.Tensor:\n'
                '    """Return x = grad_W1[i] / grad_b1[i] for the row i with the largest |grad_b1[i]|."""\n'
                '    best, best_abs = None, 0.0\n'
                '    for i in range(grad_b1.shape[0]):\n'
                '        a = abs(float(grad_b1[i]))\n'
                '        if a > best_abs:\n'
                '            best, best_abs = i, a\n'
                '    if best is None:\n'
                '        raise ValueError("all bias gradients are zero: x cannot be recovered")\n'
                '    return grad_W1[best].clone() / grad_b1[best]\n'
            ),
        },
    },
}
