"""Plausible wrong answers to ex09_privacy; each must lose points where stated."""

_FGSM = "def fgsm(model, x, label, eps):\n    x = x.detach().clone().requires_grad_()\n    loss = torch.nn.functional.cross_entropy(model(x), label)\n    (grad,) = torch.autograd.grad(loss, x)\n"

_EXP_TAIL = (
    "\nBLIND_AT_2 = [blind_fraction(victim, x_probe, target_probe, 2, h) for h in H_GRID]\n"
    "SMALLEST_H_2 = min(h for h, b in zip(H_GRID, BLIND_AT_2) if b <= 0.5)\n"
    "ROUNDING_HIDES_GRADIENT = False\n"
)


def _blind(same: str, probes: str = "x[:, None, :] + h * torch.eye(d, dtype=x.dtype)", tail: str = _EXP_TAIL) -> str:
    """blind_fraction with probes (n, m, d) built by `probes` and the blind test `same` on p (n, m, k), base (n, k)."""
    return (
        "def blind_fraction(model, x, target, decimals, h):\n"
        "    n, d = x.shape\n"
        "    rows = torch.arange(n)\n"
        "    with torch.no_grad():\n"
        "        base = torch.round(torch.softmax(model(x), dim=1), decimals=decimals)\n"
        f"        probes = {probes}\n"
        "        m = probes.shape[1]\n"
        "        p = torch.round(torch.softmax(model(probes.reshape(n * m, d)), dim=1), decimals=decimals).reshape(n, m, -1)\n"
        f"    return float(({same}).double().mean())\n" + tail
    )


_SAME = "p[rows, :, target] == base[rows, target][:, None]"

WRONG = {
    "fgsm_subtracts": {
        "replace": {"fgsm-solution": _FGSM + "    return (x - eps * grad.sign()).clamp(0, 1).detach()\n"},
        "loses": ["fgsm-test"],
    },
    "fgsm_forgets_clamp": {
        "replace": {"fgsm-solution": _FGSM + "    return (x + eps * grad.sign()).detach()\n"},
        "loses": ["fgsm-test"],
    },
    "fgsm_gradient_not_sign": {
        "replace": {"fgsm-solution": _FGSM + "    return (x + eps * grad).clamp(0, 1).detach()\n"},
        "loses": ["fgsm-test"],
    },
    "success_counts_already_wrong": {
        "replace": {"success-solution": (
            "def attack_success_rate(model, x, label, x_adv):\n"
            "    with torch.no_grad():\n"
            "        fooled = model(x_adv).argmax(dim=1) != label\n"
            "    return float(fooled.double().mean())\n")},
        "loses": ["success-test"],
    },
    "success_divides_by_all": {
        "replace": {"success-solution": (
            "def attack_success_rate(model, x, label, x_adv):\n"
            "    with torch.no_grad():\n"
            "        correct = model(x).argmax(dim=1) == label\n"
            "        fooled = model(x_adv).argmax(dim=1) != label\n"
            "    return float((correct & fooled).sum()) / len(label)\n")},
        "loses": ["success-test"],
    },
    "matching_norm_not_squared": {
        "replace": {"matching-solution": (
            "def gradient_matching_loss(dummy_grads, true_grads):\n"
            "    return sum((gd - gt).norm() for gd, gt in zip(dummy_grads, true_grads))\n")},
        "loses": ["matching-test"],
    },
    "matching_mean_not_sum": {
        "replace": {"matching-solution": (
            "def gradient_matching_loss(dummy_grads, true_grads):\n"
            "    return sum(((gd - gt) ** 2).mean() for gd, gt in zip(dummy_grads, true_grads))\n")},
        "loses": ["matching-test"],
    },
    "matching_detached": {
        "replace": {"matching-solution": (
            "def gradient_matching_loss(dummy_grads, true_grads):\n"
            "    return sum(((gd - gt) ** 2).sum() for gd, gt in zip(dummy_grads, true_grads)).detach()\n")},
        "loses": ["matching-test"],
    },
    "recover_always_row_zero": {
        "replace": {"recover-solution": (
            "def input_from_first_layer_gradients(grad_W1, grad_b1):\n"
            "    return grad_W1[0] / grad_b1[0]\n")},
        "loses": ["recover-test"],
    },
    "recover_transposed": {
        "replace": {"recover-solution": (
            "def input_from_first_layer_gradients(grad_W1, grad_b1):\n"
            "    i = grad_b1.abs().argmax()\n"
            "    if grad_b1[i] == 0:\n"
            "        raise ValueError('no information')\n"
            "    return grad_W1[:, i] / grad_b1[i]\n")},
        "loses": ["recover-test"],
    },
    "rounding_rounds_logits": {
        "replace": {"rounding-solution": (
            "def rounded_confidences(model, x, decimals):\n"
            "    with torch.no_grad():\n"
            "        return torch.softmax(torch.round(model(x), decimals=decimals), dim=1)\n")},
        "loses": ["rounding-test"],
    },
    "rounding_not_rounded": {
        "replace": {"rounding-solution": (
            "def rounded_confidences(model, x, decimals):\n"
            "    with torch.no_grad():\n"
            "        return torch.softmax(model(x), dim=1)\n")},
        "loses": ["rounding-test"],
    },
    # ---- Part A: mistakes that pass the visible test ----
    "fgsm_uses_predicted_label": {
        "replace": {"fgsm-solution": (
            "def fgsm(model, x, label, eps):\n"
            "    x = x.detach().clone().requires_grad_()\n"
            "    logits = model(x)\n"
            "    loss = torch.nn.functional.cross_entropy(logits, logits.argmax(dim=1))\n"
            "    (grad,) = torch.autograd.grad(loss, x)\n"
            "    return (x + eps * grad.sign()).clamp(0, 1).detach()\n")},
        "loses": ["fgsm-test"],
    },
    "fgsm_normalizes_by_max_abs": {
        "replace": {"fgsm-solution": _FGSM + "    return (x + eps * grad / grad.abs().max()).clamp(0, 1).detach()\n"},
        "loses": ["fgsm-test"],
    },
    "fgsm_clamps_to_minus_one_one": {
        "replace": {"fgsm-solution": _FGSM + "    return (x + eps * grad.sign()).clamp(-1, 1).detach()\n"},
        "loses": ["fgsm-test"],
    },
    "fgsm_steps_x_in_place": {
        "replace": {"fgsm-solution": (
            "def fgsm(model, x, label, eps):\n"
            "    xg = x.detach().requires_grad_()\n"
            "    loss = torch.nn.functional.cross_entropy(model(xg), label)\n"
            "    (grad,) = torch.autograd.grad(loss, xg)\n"
            "    with torch.no_grad():\n"
            "        xg += eps * grad.sign()\n"
            "        xg.clamp_(0, 1)\n"
            "    return xg.detach()\n")},
        "loses": ["fgsm-test"],
    },
    "fgsm_gradient_of_logits": {
        "replace": {"fgsm-solution": (
            "def fgsm(model, x, label, eps):\n"
            "    logits = model(x).detach().requires_grad_()\n"
            "    (grad,) = torch.autograd.grad(torch.nn.functional.cross_entropy(logits, label), logits)\n"
            "    return (x + eps * grad.sign()).clamp(0, 1).detach()\n")},
        "loses": ["fgsm-test"],
    },
    # ---- Part B ----
    "success_counts_changes_on_all_inputs": {
        "replace": {"success-solution": (
            "def attack_success_rate(model, x, label, x_adv):\n"
            "    with torch.no_grad():\n"
            "        pred, pred_adv = model(x).argmax(dim=1), model(x_adv).argmax(dim=1)\n"
            "    correct = pred == label\n"
            "    if not correct.any():\n"
            "        raise ValueError('no correct input')\n"
            "    return float((pred_adv != pred).sum()) / float(correct.sum())\n")},
        "loses": ["success-test"],
    },
    "success_divides_by_fooled": {
        "replace": {"success-solution": (
            "def attack_success_rate(model, x, label, x_adv):\n"
            "    with torch.no_grad():\n"
            "        correct = model(x).argmax(dim=1) == label\n"
            "        fooled = model(x_adv).argmax(dim=1) != label\n"
            "    if not correct.any():\n"
            "        raise ValueError('no correct input')\n"
            "    return float((correct & fooled).sum()) / float(fooled.sum())\n")},
        "loses": ["success-test"],
    },
    "success_returns_robust_accuracy": {
        "replace": {"success-solution": (
            "def attack_success_rate(model, x, label, x_adv):\n"
            "    with torch.no_grad():\n"
            "        correct = model(x).argmax(dim=1) == label\n"
            "        still = model(x_adv).argmax(dim=1) == label\n"
            "    if not correct.any():\n"
            "        raise ValueError('no correct input')\n"
            "    return float((correct & still).sum()) / float(correct.sum())\n")},
        "loses": ["success-test"],
    },
    "success_zero_when_none_correct": {
        "replace": {"success-solution": (
            "def attack_success_rate(model, x, label, x_adv):\n"
            "    with torch.no_grad():\n"
            "        correct = model(x).argmax(dim=1) == label\n"
            "        fooled = model(x_adv).argmax(dim=1) != label\n"
            "    return float((correct & fooled).sum()) / max(int(correct.sum()), 1)\n")},
        "loses": ["success-test"],
    },
    # ---- Part C ----
    "matching_first_tensor_only": {
        "replace": {"matching-solution": (
            "def gradient_matching_loss(dummy_grads, true_grads):\n"
            "    return ((dummy_grads[0] - true_grads[0]) ** 2).sum()\n")},
        "loses": ["matching-test"],
    },
    "matching_float32": {
        "replace": {"matching-solution": (
            "def gradient_matching_loss(dummy_grads, true_grads):\n"
            "    return sum(((gd.float() - gt.float()) ** 2).sum() for gd, gt in zip(dummy_grads, true_grads))\n")},
        "loses": ["matching-test"],
    },
    "matching_subtracts_in_place": {
        "replace": {"matching-solution": (
            "def gradient_matching_loss(dummy_grads, true_grads):\n"
            "    total = 0\n"
            "    for gd, gt in zip(dummy_grads, true_grads):\n"
            "        diff = gd\n"
            "        diff -= gt\n"
            "        total = total + (diff ** 2).sum()\n"
            "    return total\n")},
        "loses": ["matching-test"],
    },
    "matching_squared_sum_of_tensors": {
        "replace": {"matching-solution": (
            "def gradient_matching_loss(dummy_grads, true_grads):\n"
            "    return sum(((gd - gt) ** 2).sum() for gd, gt in zip(dummy_grads, true_grads)) / len(dummy_grads)\n")},
        "loses": ["matching-test"],
    },
    # ---- Part D ----
    "recover_first_nonzero_row": {
        "replace": {"recover-solution": (
            "def input_from_first_layer_gradients(grad_W1, grad_b1):\n"
            "    nz = torch.nonzero(grad_b1).flatten()\n"
            "    if len(nz) == 0:\n"
            "        raise ValueError('no information')\n"
            "    i = nz[0]\n"
            "    return grad_W1[i] / grad_b1[i]\n")},
        "loses": ["recover-test"],
    },
    "recover_signed_argmax": {
        "replace": {"recover-solution": (
            "def input_from_first_layer_gradients(grad_W1, grad_b1):\n"
            "    i = grad_b1.argmax()\n"
            "    if grad_b1[i] == 0:\n"
            "        raise ValueError('no information')\n"
            "    return grad_W1[i] / grad_b1[i]\n")},
        "loses": ["recover-test"],
    },
    "recover_mean_over_nonzero_rows": {
        "replace": {"recover-solution": (
            "def input_from_first_layer_gradients(grad_W1, grad_b1):\n"
            "    nz = grad_b1 != 0\n"
            "    if not nz.any():\n"
            "        raise ValueError('no information')\n"
            "    return (grad_W1[nz] / grad_b1[nz, None]).mean(dim=0)\n")},
        "loses": ["recover-test"],
    },
    "recover_divides_by_abs": {
        "replace": {"recover-solution": (
            "def input_from_first_layer_gradients(grad_W1, grad_b1):\n"
            "    i = grad_b1.abs().argmax()\n"
            "    if grad_b1[i] == 0:\n"
            "        raise ValueError('no information')\n"
            "    return grad_W1[i] / grad_b1[i].abs()\n")},
        "loses": ["recover-test"],
    },
    "recover_absolute_threshold": {
        "replace": {"recover-solution": (
            "def input_from_first_layer_gradients(grad_W1, grad_b1):\n"
            "    big = torch.nonzero(grad_b1.abs() > 1e-6).flatten()\n"
            "    if len(big) == 0:\n"
            "        raise ValueError('every delta is zero')\n"
            "    i = big[grad_b1[big].abs().argmax()]\n"
            "    return grad_W1[i] / grad_b1[i]\n")},
        "loses": ["recover-test"],
    },
    "recover_no_error_when_all_zero": {
        "replace": {"recover-solution": (
            "def input_from_first_layer_gradients(grad_W1, grad_b1):\n"
            "    i = grad_b1.abs().argmax()\n"
            "    return grad_W1[i] / grad_b1[i]\n")},
        "loses": ["recover-test"],
    },
    # ---- Part E ----
    "rounding_decimals_hardcoded": {
        "replace": {"rounding-solution": (
            "def rounded_confidences(model, x, decimals):\n"
            "    with torch.no_grad():\n"
            "        return torch.round(torch.softmax(model(x), dim=1), decimals=2)\n")},
        "loses": ["rounding-test"],
    },
    "rounding_keeps_gradient_history": {
        "replace": {"rounding-solution": (
            "def rounded_confidences(model, x, decimals):\n"
            "    return torch.round(torch.softmax(model(x), dim=1), decimals=decimals)\n")},
        "loses": ["rounding-test"],
    },
    "rounding_float32": {
        "replace": {"rounding-solution": (
            "def rounded_confidences(model, x, decimals):\n"
            "    with torch.no_grad():\n"
            "        return torch.round(torch.softmax(model(x).float(), dim=1), decimals=decimals)\n")},
        "loses": ["rounding-test"],
    },
    "rounding_softmax_over_all_entries": {
        "replace": {"rounding-solution": (
            "def rounded_confidences(model, x, decimals):\n"
            "    with torch.no_grad():\n"
            "        z = model(x)\n"
            "        p = torch.softmax(z.flatten(), dim=0).reshape(z.shape)\n"
            "        return torch.round(p, decimals=decimals)\n")},
        "loses": ["rounding-test"],
    },
    # ---- more that pass the visible tests ----
    "fgsm_mse_instead_of_cross_entropy": {
        "replace": {"fgsm-solution": (
            "def fgsm(model, x, label, eps):\n"
            "    x = x.detach().clone().requires_grad_()\n"
            "    logits = model(x)\n"
            "    target = torch.nn.functional.one_hot(label, logits.shape[1]).to(logits.dtype)\n"
            "    (grad,) = torch.autograd.grad(torch.nn.functional.mse_loss(logits, target), x)\n"
            "    return (x + eps * grad.sign()).clamp(0, 1).detach()\n")},
        "loses": ["fgsm-test"],
    },
    "success_mean_of_per_class_rates": {
        "replace": {"success-solution": (
            "def attack_success_rate(model, x, label, x_adv):\n"
            "    with torch.no_grad():\n"
            "        correct = model(x).argmax(dim=1) == label\n"
            "        fooled = model(x_adv).argmax(dim=1) != label\n"
            "    if not correct.any():\n"
            "        raise ValueError('no correct input')\n"
            "    rates = [float((correct & fooled & (label == c)).sum()) / float((correct & (label == c)).sum())\n"
            "             for c in label.unique().tolist() if (correct & (label == c)).any()]\n"
            "    return sum(rates) / len(rates)\n")},
        "loses": ["success-test"],
    },
    "success_rounds_to_two_decimals": {
        "replace": {"success-solution": (
            "def attack_success_rate(model, x, label, x_adv):\n"
            "    with torch.no_grad():\n"
            "        correct = model(x).argmax(dim=1) == label\n"
            "        fooled = model(x_adv).argmax(dim=1) != label\n"
            "    if not correct.any():\n"
            "        raise ValueError('no correct input')\n"
            "    return round(float((correct & fooled).sum()) / float(correct.sum()), 2)\n")},
        "loses": ["success-test"],
    },
    "rounding_renormalizes": {
        "replace": {"rounding-solution": (
            "def rounded_confidences(model, x, decimals):\n"
            "    with torch.no_grad():\n"
            "        r = torch.round(torch.softmax(model(x), dim=1), decimals=decimals)\n"
            "        return r / r.sum(dim=1, keepdim=True)\n")},
        "loses": ["rounding-test"],
    },
    # ---- Part F (experiment) ----
    "experiment_predicted_class_not_target": {
        "replace": {"experiment-solution": _blind("p[rows, :, base.argmax(dim=1)] == base.max(dim=1).values[:, None]")},
        "loses": ["experiment-test"],
    },
    "experiment_whole_vector_unchanged": {
        "replace": {"experiment-solution": _blind("(p == base[:, None, :]).all(dim=-1)")},
        "loses": ["experiment-test"],
    },
    "experiment_one_probe_per_row": {
        "replace": {"experiment-solution": _blind(_SAME, probes="(x + h)[:, None, :]")},
        "loses": ["experiment-test"],
    },
    "experiment_blind_rows_not_probes": {
        "replace": {"experiment-solution": _blind("(" + _SAME + ").all(dim=1)")},
        "loses": ["experiment-test"],
    },
    "experiment_decimals_hardcoded_2": {
        "replace": {"experiment-solution": _blind(_SAME).replace("decimals=decimals", "decimals=2")},
        "loses": ["experiment-test"],
    },
    "experiment_perturbs_x_in_place": {
        "replace": {"experiment-solution": (
            "def blind_fraction(model, x, target, decimals, h):\n"
            "    n, d = x.shape\n"
            "    rows = torch.arange(n)\n"
            "    service = lambda v: torch.round(torch.softmax(model(v), dim=1), decimals=decimals)[rows, target]\n"
            "    blind = 0\n"
            "    with torch.no_grad():\n"
            "        base = service(x)\n"
            "        for j in range(d):\n"
            "            x[:, j] += h\n"
            "            blind += int((service(x) == base).sum())\n"
            "            x[:, j] -= h\n"
            "    return blind / (n * d)\n" + _EXP_TAIL)},
        "loses": ["experiment-test"],
    },
    "experiment_smallest_h_misread": {
        "replace": {"experiment-solution": _blind(_SAME, tail=_EXP_TAIL.replace("if b <= 0.5", "if b >= 0.5"))},
        "loses": ["experiment-test"],
    },
    "experiment_rounding_hides_gradient": {
        "replace": {"experiment-solution": _blind(_SAME, tail=_EXP_TAIL.replace("= False", "= True"))},
        "loses": ["experiment-test"],
    },
}
