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
}
