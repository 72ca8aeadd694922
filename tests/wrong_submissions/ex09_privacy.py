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
    # ---- issue 15, outsider attack (atk5, written blind from the release): the first five and the naive softmax
    # kept full marks before the hidden tests had a zero-gradient pixel, a class-swapping model and logits of
    # +-1000; the others are new kinds of mistake ----
    "fgsm_clamps_only_above": {
        "replace": {
            "fgsm-solution": (
                'def fgsm(model: torch.nn.Module, x: torch.Tensor, label: torch.Tensor, eps: float) -> torch.Tensor:\n'
                '    """Return clip(x + eps * sign(grad_x cross_entropy(model(x), label)), 0, 1)."""\n'
                '    xr = x.detach().clone().requires_grad_(True)\n'
                '    loss = torch.nn.functional.cross_entropy(model(xr), label)\n'
                '    (grad,) = torch.autograd.grad(loss, xr)\n'
                '    x_adv = x.detach() + eps * torch.sign(grad)\n'
                '    out = x_adv.clamp(max=1.0)\n'
                '    return out.detach()\n'
            ),
        },
        "loses": ["fgsm-test"],
    },
    "fgsm_casts_to_float32": {
        "replace": {
            "fgsm-solution": (
                'def fgsm(model: torch.nn.Module, x: torch.Tensor, label: torch.Tensor, eps: float) -> torch.Tensor:\n'
                '    """Return clip(x + eps * sign(grad_x cross_entropy(model(x), label)), 0, 1)."""\n'
                '    xr = x.detach().clone().requires_grad_(True)\n'
                '    loss = torch.nn.functional.cross_entropy(model(xr), label)\n'
                '    (grad,) = torch.autograd.grad(loss, xr)\n'
                '    x_adv = x.detach() + eps * torch.sign(grad)\n'
                '    out = x_adv.clamp(0.0, 1.0)\n'
                '    return out.detach().float()\n'
            ),
        },
        "loses": ["fgsm-test"],
    },
    "fgsm_sign_by_division_nan_at_zero_gradient": {
        "replace": {
            "fgsm-solution": (
                'def fgsm(model: torch.nn.Module, x: torch.Tensor, label: torch.Tensor, eps: float) -> torch.Tensor:\n'
                '    """Return clip(x + eps * sign(grad_x cross_entropy(model(x), label)), 0, 1)."""\n'
                '    xr = x.detach().clone().requires_grad_(True)\n'
                '    loss = torch.nn.functional.cross_entropy(model(xr), label)\n'
                '    (grad,) = torch.autograd.grad(loss, xr)\n'
                '    x_adv = x.detach() + eps * grad / grad.abs()\n'
                '    out = x_adv.clamp(0.0, 1.0)\n'
                '    return out.detach()\n'
            ),
        },
        "loses": ["fgsm-test"],
    },
    "fgsm_zero_gradient_moves_up": {
        "replace": {
            "fgsm-solution": (
                'def fgsm(model: torch.nn.Module, x: torch.Tensor, label: torch.Tensor, eps: float) -> torch.Tensor:\n'
                '    """Return clip(x + eps * sign(grad_x cross_entropy(model(x), label)), 0, 1)."""\n'
                '    xr = x.detach().clone().requires_grad_(True)\n'
                '    loss = torch.nn.functional.cross_entropy(model(xr), label)\n'
                '    (grad,) = torch.autograd.grad(loss, xr)\n'
                '    x_adv = x.detach() + eps * torch.where(grad >= 0, 1.0, -1.0).to(x.dtype)\n'
                '    out = x_adv.clamp(0.0, 1.0)\n'
                '    return out.detach()\n'
            ),
        },
        "loses": ["fgsm-test"],
    },
    "success_forgets_to_call_the_model": {
        "replace": {
            "success-solution": (
                'def attack_success_rate(model: torch.nn.Module, x: torch.Tensor, label: torch.Tensor, x_adv: torch.Tensor) -> float:\n'
                '    """Fraction of the correctly classified inputs that the attack makes the model misclassify."""\n'
                '    with torch.no_grad():\n'
                '        pred = x.argmax(dim=1)\n'
                '        pred_adv = x_adv.argmax(dim=1)\n'
                '    correct = pred == label\n'
                '    n_correct = int(correct.sum())\n'
                '    if n_correct == 0:\n'
                '        raise ValueError("the model classifies no clean input correctly: the success rate is undefined")\n'
                '    fooled = int((correct & (pred_adv != label)).sum())\n'
                '    return float(fooled / n_correct)\n'
            ),
        },
        "loses": ["success-test"],
    },
    "success_probability_threshold_not_argmax": {
        "replace": {
            "success-solution": (
                'def attack_success_rate(model: torch.nn.Module, x: torch.Tensor, label: torch.Tensor, x_adv: torch.Tensor) -> float:\n'
                '    """Fraction of the correctly classified inputs that the attack makes the model misclassify."""\n'
                '    with torch.no_grad():\n'
                '        p = torch.softmax(model(x), 1)\n'
                '        pa = torch.softmax(model(x_adv), 1)\n'
                '    rows = torch.arange(len(label))\n'
                '    correct = p[rows, label] > 0.5\n'
                '    if not bool(correct.any()):\n'
                '        raise ValueError("no input is classified correctly")\n'
                '    return float((correct & (pa[rows, label] <= 0.5)).sum()) / float(correct.sum())\n'
            ),
        },
        "loses": ["success-test"],
    },
    "success_hardcoded_half": {
        "replace": {
            "success-solution": (
                'def attack_success_rate(model: torch.nn.Module, x: torch.Tensor, label: torch.Tensor, x_adv: torch.Tensor) -> float:\n'
                '    """Fraction of the correctly classified inputs that the attack makes the model misclassify."""\n'
                '    if not bool((model(x).argmax(1) == label).any()):\n'
                '        raise ValueError("no input is classified correctly")\n'
                '    return 0.5\n'
            ),
        },
        "loses": ["success-test"],
    },
    "matching_loop_overwrites": {
        "replace": {
            "matching-solution": (
                'def gradient_matching_loss(dummy_grads: list[torch.Tensor], true_grads: list[torch.Tensor]) -> torch.Tensor:\n'
                '    """Return sum_j ||dummy_grads[j] - true_grads[j]||^2 as a differentiable 0-d tensor."""\n'
                '    for d, t in zip(dummy_grads, true_grads):\n'
                '        loss = ((d - t) ** 2).sum()\n'
                '    return loss\n'
            ),
        },
        "loses": ["matching-test"],
    },
    "matching_python_float_loses_graph": {
        "replace": {
            "matching-solution": (
                'def gradient_matching_loss(dummy_grads: list[torch.Tensor], true_grads: list[torch.Tensor]) -> torch.Tensor:\n'
                '    """Return sum_j ||dummy_grads[j] - true_grads[j]||^2 as a differentiable 0-d tensor."""\n'
                '    total = 0.0\n'
                '    for d, t in zip(dummy_grads, true_grads):\n'
                '        total += float(((d - t) ** 2).sum())\n'
                '    return torch.tensor(total)\n'
            ),
        },
        "loses": ["matching-test"],
    },
    "matching_mean_over_tensors": {
        "replace": {
            "matching-solution": (
                'def gradient_matching_loss(dummy_grads: list[torch.Tensor], true_grads: list[torch.Tensor]) -> torch.Tensor:\n'
                '    """Return sum_j ||dummy_grads[j] - true_grads[j]||^2 as a differentiable 0-d tensor."""\n'
                '    losses = [((d - t) ** 2).sum() for d, t in zip(dummy_grads, true_grads)]\n'
                '    return torch.stack(losses).mean()\n'
            ),
        },
        "loses": ["matching-test"],
    },
    "recover_signed_max_zero_check": {
        "replace": {
            "recover-solution": (
                'def input_from_first_layer_gradients(grad_W1: torch.Tensor, grad_b1: torch.Tensor) -> torch.Tensor:\n'
                '    """Return x = grad_W1[i] / grad_b1[i] for the row i with the largest |grad_b1[i]|."""\n'
                '    if grad_b1.max() == 0:\n'
                '        raise ValueError("every bias gradient is zero: no information about x")\n'
                '    i = int(grad_b1.abs().argmax())\n'
                '    return grad_W1[i] / grad_b1[i]\n'
            ),
        },
        "loses": ["recover-test"],
    },
    "recover_smallest_nonzero_row": {
        "replace": {
            "recover-solution": (
                'def input_from_first_layer_gradients(grad_W1: torch.Tensor, grad_b1: torch.Tensor) -> torch.Tensor:\n'
                '    """Return x = grad_W1[i] / grad_b1[i] for the row i with the largest |grad_b1[i]|."""\n'
                '    a = grad_b1.abs()\n'
                '    if not bool((a > 0).any()):\n'
                '        raise ValueError("every bias gradient is zero: no information about x")\n'
                '    i = int(torch.where(a > 0, a, torch.inf).argmin())\n'
                '    return grad_W1[i] / grad_b1[i]\n'
            ),
        },
        "loses": ["recover-test"],
    },
    "recover_casts_to_float32": {
        "replace": {
            "recover-solution": (
                'def input_from_first_layer_gradients(grad_W1: torch.Tensor, grad_b1: torch.Tensor) -> torch.Tensor:\n'
                '    """Return x = grad_W1[i] / grad_b1[i] for the row i with the largest |grad_b1[i]|."""\n'
                '    i = int(grad_b1.abs().argmax())\n'
                '    if grad_b1[i] == 0:\n'
                '        raise ValueError("every bias gradient is zero: no information about x")\n'
                '    return (grad_W1[i] / grad_b1[i]).float()\n'
            ),
        },
        "loses": ["recover-test"],
    },
    "rounding_naive_softmax_overflows": {
        "replace": {
            "rounding-solution": (
                'def rounded_confidences(model: torch.nn.Module, x: torch.Tensor, decimals: int) -> torch.Tensor:\n'
                '    """Return softmax(model(x)) rounded to `decimals` decimals, without gradient history."""\n'
                '    with torch.no_grad():\n'
                '        e = torch.exp(model(x))\n'
                '        return torch.round(e / e.sum(dim=1, keepdim=True), decimals=decimals)\n'
            ),
        },
        "loses": ["rounding-test"],
    },
    "rounding_float32_softmax_cast_back": {
        "replace": {
            "rounding-solution": (
                'def rounded_confidences(model: torch.nn.Module, x: torch.Tensor, decimals: int) -> torch.Tensor:\n'
                '    """Return softmax(model(x)) rounded to `decimals` decimals, without gradient history."""\n'
                '    with torch.no_grad():\n'
                '        z = model(x)\n'
                '        return torch.round(torch.softmax(z.float(), dim=1), decimals=decimals).to(z.dtype)\n'
            ),
        },
        "loses": ["rounding-test"],
    },
    "experiment_probes_minus_h": {
        "replace": {
            "experiment-solution": (
                'def blind_fraction(model: torch.nn.Module, x: torch.Tensor, target: torch.Tensor, decimals: int, h: float) -> float:\n'
                '    """Fraction of the n * d finite-difference probes x_i + h e_j whose rounded target confidence does not change."""\n'
                '    n, d = x.shape\n'
                '    rows = torch.arange(n)\n'
                '    \n'
                '    with torch.no_grad():\n'
                '        v = x\n'
                '        base = torch.round(torch.softmax(model(v), dim=1), decimals=decimals)[rows, target]\n'
                '        blind = 0\n'
                '        for j in range(d):\n'
                '            v = x.clone()\n'
                '            v[:, j] = x[:, j] - h\n'
                '            new = torch.round(torch.softmax(model(v), dim=1), decimals=decimals)[rows, target]\n'
                '            blind += int((new == base).sum())\n'
                '    return blind / (n * d)\n'
                '\n'
                '\n'
                'BLIND_AT_2 = [blind_fraction(victim, x_probe, target_probe, 2, h) for h in H_GRID]\n'
                'SMALLEST_H_2 = min(h for h, b in zip(H_GRID, BLIND_AT_2) if b <= 0.5)\n'
                'ROUNDING_HIDES_GRADIENT = False\n'
            ),
        },
        "loses": ["experiment-test"],
    },
    "experiment_first_target_for_every_row": {
        "replace": {
            "experiment-solution": (
                'def blind_fraction(model: torch.nn.Module, x: torch.Tensor, target: torch.Tensor, decimals: int, h: float) -> float:\n'
                '    """Fraction of the n * d finite-difference probes x_i + h e_j whose rounded target confidence does not change."""\n'
                '    n, d = x.shape\n'
                '    rows = torch.arange(n)\n'
                '    \n'
                '    with torch.no_grad():\n'
                '        v = x\n'
                '        base = torch.round(torch.softmax(model(v), dim=1), decimals=decimals)[:, int(target[0])]\n'
                '        blind = 0\n'
                '        for j in range(d):\n'
                '            v = x.clone()\n'
                '            v[:, j] = x[:, j] + h\n'
                '            new = torch.round(torch.softmax(model(v), dim=1), decimals=decimals)[:, int(target[0])]\n'
                '            blind += int((new == base).sum())\n'
                '    return blind / (n * d)\n'
                '\n'
                '\n'
                'BLIND_AT_2 = [blind_fraction(victim, x_probe, target_probe, 2, h) for h in H_GRID]\n'
                'SMALLEST_H_2 = min(h for h, b in zip(H_GRID, BLIND_AT_2) if b <= 0.5)\n'
                'ROUNDING_HIDES_GRADIENT = False\n'
            ),
        },
        "loses": ["experiment-test"],
    },
    "experiment_unrounded_change_below_half_unit": {
        "replace": {
            "experiment-solution": (
                'def blind_fraction(model: torch.nn.Module, x: torch.Tensor, target: torch.Tensor, decimals: int, h: float) -> float:\n'
                '    """Fraction of the n * d finite-difference probes x_i + h e_j whose rounded target confidence does not change."""\n'
                '    n, d = x.shape\n'
                '    rows = torch.arange(n)\n'
                '    \n'
                '    with torch.no_grad():\n'
                '        v = x\n'
                '        base = torch.softmax(model(v), dim=1)[rows, target]\n'
                '        blind = 0\n'
                '        for j in range(d):\n'
                '            v = x.clone()\n'
                '            v[:, j] = x[:, j] + h\n'
                '            new = torch.softmax(model(v), dim=1)[rows, target]\n'
                '            blind += int(((new - base).abs() < 0.5 * 10.0 ** (-decimals)).sum())\n'
                '    return blind / (n * d)\n'
                '\n'
                '\n'
                'BLIND_AT_2 = [blind_fraction(victim, x_probe, target_probe, 2, h) for h in H_GRID]\n'
                'SMALLEST_H_2 = min(h for h, b in zip(H_GRID, BLIND_AT_2) if b <= 0.5)\n'
                'ROUNDING_HIDES_GRADIENT = False\n'
            ),
        },
        "loses": ["experiment-test"],
    },
    "experiment_blind_measured_at_3_decimals": {
        "replace": {
            "experiment-solution": (
                'def blind_fraction(model: torch.nn.Module, x: torch.Tensor, target: torch.Tensor, decimals: int, h: float) -> float:\n'
                '    """Fraction of the n * d finite-difference probes x_i + h e_j whose rounded target confidence does not change."""\n'
                '    n, d = x.shape\n'
                '    rows = torch.arange(n)\n'
                '    \n'
                '    with torch.no_grad():\n'
                '        v = x\n'
                '        base = torch.round(torch.softmax(model(v), dim=1), decimals=decimals)[rows, target]\n'
                '        blind = 0\n'
                '        for j in range(d):\n'
                '            v = x.clone()\n'
                '            v[:, j] = x[:, j] + h\n'
                '            new = torch.round(torch.softmax(model(v), dim=1), decimals=decimals)[rows, target]\n'
                '            blind += int((new == base).sum())\n'
                '    return blind / (n * d)\n'
                '\n'
                '\n'
                'BLIND_AT_2 = [blind_fraction(victim, x_probe, target_probe, 3, h) for h in H_GRID]\n'
                'SMALLEST_H_2 = min(h for h, b in zip(H_GRID, BLIND_AT_2) if b <= 0.5)\n'
                'ROUNDING_HIDES_GRADIENT = False\n'
            ),
        },
        "loses": ["experiment-test"],
    },
    "experiment_first_ten_rows": {
        "replace": {
            "experiment-solution": (
                'def blind_fraction(model: torch.nn.Module, x: torch.Tensor, target: torch.Tensor, decimals: int, h: float) -> float:\n'
                '    """Fraction of the n * d finite-difference probes x_i + h e_j whose rounded target confidence does not change."""\n'
                '    n, d = x.shape\n'
                '    rows = torch.arange(n)\n'
                '    \n'
                '    with torch.no_grad():\n'
                '        v = x\n'
                '        base = torch.round(torch.softmax(model(v), dim=1), decimals=decimals)[rows, target]\n'
                '        blind = 0\n'
                '        for j in range(d):\n'
                '            v = x.clone()\n'
                '            v[:, j] = x[:, j] + h\n'
                '            new = torch.round(torch.softmax(model(v), dim=1), decimals=decimals)[rows, target]\n'
                '            blind += int((new == base).sum())\n'
                '    return blind / (n * d)\n'
                '\n'
                '\n'
                'BLIND_AT_2 = [blind_fraction(victim, x_probe[:10], target_probe[:10], 2, h) for h in H_GRID]\n'
                'SMALLEST_H_2 = min(h for h, b in zip(H_GRID, BLIND_AT_2) if b <= 0.5)\n'
                'ROUNDING_HIDES_GRADIENT = False\n'
            ),
        },
        "loses": ["experiment-test"],
    },
}
