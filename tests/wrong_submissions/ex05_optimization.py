"""Plausible wrong answers to ex05_optimization; each must lose points where stated."""

_GD_HEAD = (
    "def gd_inverse(f, y, x0, lr=0.1, tol=1e-8, max_iter=1000):\n"
    "    x = x0.detach().clone()\n"
)

WRONG = {
    "gd_ascent_wrong_sign": {
        "replace": {"gd-solution": _GD_HEAD + (
            "    for k in range(max_iter):\n"
            "        x.requires_grad_(True)\n"
            "        r = f(x) - y\n"
            "        if torch.linalg.norm(r.detach()) <= tol:\n"
            "            return x.detach(), k\n"
            "        (g,) = torch.autograd.grad(0.5 * (r**2).sum(), x)\n"
            "        x = (x + lr * g).detach()\n"
            "    return x.detach(), max_iter\n")},
        "loses": ["gd-test-basic", "gd-test-stopping", "cond-test"],
    },
    "gd_no_convergence_check": {
        "replace": {"gd-solution": _GD_HEAD + (
            "    for k in range(max_iter):\n"
            "        x.requires_grad_(True)\n"
            "        r = f(x) - y\n"
            "        (g,) = torch.autograd.grad(0.5 * (r**2).sum(), x)\n"
            "        x = (x - lr * g).detach()\n"
            "    return x.detach(), max_iter\n")},
        "loses": ["gd-test-stopping", "cond-test"],
    },
    "gd_checks_after_the_step": {
        "replace": {"gd-solution": _GD_HEAD + (
            "    for k in range(max_iter):\n"
            "        x.requires_grad_(True)\n"
            "        r = f(x) - y\n"
            "        (g,) = torch.autograd.grad(0.5 * (r**2).sum(), x)\n"
            "        x = (x - lr * g).detach()\n"
            "        if torch.linalg.norm(f(x) - y) <= tol:\n"
            "            return x, k\n"
            "    return x.detach(), max_iter\n")},
        "loses": ["gd-test-stopping", "cond-test"],
    },
    "gn_solves_with_J_instead_of_normal_equations": {
        "replace": {"gn-solution": (
            "def gauss_newton_step(f, x, y):\n"
            "    J = torch.autograd.functional.jacobian(f, x)\n"
            "    return (x + torch.linalg.solve(J, y - f(x))).detach()\n")},
        "loses": ["gn-test-tall"],
    },
    "gn_forgot_residual_sign": {
        "replace": {"gn-solution": (
            "def gauss_newton_step(f, x, y):\n"
            "    J = torch.autograd.functional.jacobian(f, x)\n"
            "    s = torch.linalg.solve(J.T @ J, J.T @ (f(x) - y))\n"
            "    return (x + s).detach()\n")},
        "loses": ["gn-test-square", "gn-test-tall"],
    },
    "tv_missing_abs": {
        "replace": {"tv-solution": (
            "def total_variation(images):\n"
            "    down = (images[:, 1:, :] - images[:, :-1, :]).sum(dim=(1, 2))\n"
            "    across = (images[:, :, 1:] - images[:, :, :-1]).sum(dim=(1, 2))\n"
            "    return down + across\n")},
        "loses": ["tv-test"],
    },
    "tv_batch_axis_instead_of_rows": {
        "replace": {"tv-solution": (
            "def total_variation(images):\n"
            "    across = (images[:, :, 1:] - images[:, :, :-1]).abs().sum(dim=(1, 2))\n"
            "    batch = (images[1:] - images[:-1]).abs().sum()\n"
            "    return across + batch\n")},
        "loses": ["tv-test"],
    },
    "tv_squared_differences": {
        "replace": {"tv-solution": (
            "def total_variation(images):\n"
            "    down = ((images[:, 1:, :] - images[:, :-1, :]) ** 2).sum(dim=(1, 2))\n"
            "    across = ((images[:, :, 1:] - images[:, :, :-1]) ** 2).sum(dim=(1, 2))\n"
            "    return down + across\n")},
        "loses": ["tv-test"],
    },
    "restart_keeps_the_last": {
        "replace": {"restart-solution": (
            "def best_of_restarts(f, y, solver, starts):\n"
            "    for x0 in starts:\n"
            "        x = solver(f, y, x0)\n"
            "    return x, float(torch.linalg.norm(f(x) - y))\n")},
        "loses": ["restart-test"],
    },
    "restart_judges_the_start_not_the_result": {
        "replace": {"restart-solution": (
            "def best_of_restarts(f, y, solver, starts):\n"
            "    r = torch.stack([torch.linalg.norm(f(x0) - y) for x0 in starts])\n"
            "    x = solver(f, y, starts[int(r.argmin())])\n"
            "    return x, float(torch.linalg.norm(f(x) - y))\n")},
        "loses": ["restart-test"],
    },
}


def _gd(loss="0.5 * (r**2).sum()", check="torch.linalg.norm(r.detach()) <= tol", step="x - lr * g",
        head="    x = x0.detach().clone()\n", loop="range(max_iter)", tail="    return x.detach(), max_iter\n"):
    return (
        "def gd_inverse(f, y, x0, lr=0.1, tol=1e-8, max_iter=1000):\n"
        + head
        + f"    for k in {loop}:\n"
        "        x.requires_grad_(True)\n"
        "        r = f(x) - y\n"
        f"        if {check}:\n"
        "            return x.detach(), k\n"
        f"        (g,) = torch.autograd.grad({loss}, x)\n"
        f"        x = ({step}).detach()\n"
        + tail)


def _gn(body):
    return ("def gauss_newton_step(f, x, y):\n"
            "    x = x.detach()\n"
            "    J = torch.autograd.functional.jacobian(f, x)\n"
            "    r = f(x).detach() - y\n" + body)


def _tv(body):
    return "def total_variation(images):\n" + body


def _restart(resid, better="r < best_r"):
    return ("def best_of_restarts(f, y, solver, starts):\n"
            "    best_x, best_r = None, float('inf')\n"
            "    for x0 in starts:\n"
            "        x = solver(f, y, x0)\n"
            f"        r = float({resid})\n"
            f"        if {better}:\n"
            "            best_x, best_r = x, r\n"
            "    return best_x, best_r\n")


def _cond(s="kappa ** -0.5", y="f(torch.ones(2, dtype=torch.float64))", call="lr=1.0, tol=tol", growth='"linear"'):
    return ("def gd_steps_for_condition(kappa, tol=1e-8):\n"
            f"    s = torch.tensor([1.0, {s}], dtype=torch.float64)\n"
            "    f = lambda x: s * x\n"
            f"    y = {y}\n"
            f"    _, steps = gd_inverse(f, y, torch.zeros(2, dtype=torch.float64), {call}, max_iter=5_000)\n"
            "    return steps\n"
            f"STEPS_GROWTH = {growth}\n")


WRONG.update({
    # --- Part A, gd-test-basic / gd-test-stopping: all pass the visible tests ---
    "gd_mean_loss_instead_of_sum": {  # mse_loss: the mean with no half, 2/d times the gradient (d = 2 happens to agree)
        "replace": {"gd-solution": _gd(loss="torch.nn.functional.mse_loss(f(x), y)")},
        "loses": ["gd-test-basic", "gd-test-stopping"],
    },
    "gd_ignores_lr": {
        "replace": {"gd-solution": _gd(step="x - 0.1 * g")},
        "loses": ["gd-test-basic", "gd-test-stopping", "cond-test"],
    },
    "gd_loss_without_the_half": {
        "replace": {"gd-solution": _gd(loss="(r**2).sum()")},
        "loses": ["gd-test-basic", "gd-test-stopping", "cond-test"],
    },
    "gd_one_step_more_than_max_iter": {
        "replace": {"gd-solution": _gd(loop="range(max_iter + 1)")},
        "loses": ["gd-test-basic"],
    },
    "gd_float32_inside_cast_back": {
        "replace": {"gd-solution": _gd(head="    x = x0.detach().clone().float()\n    y = y.float()\n",
                                       tail="    return x.detach().to(x0.dtype), max_iter\n").replace(
            "return x.detach(), k", "return x.detach().to(x0.dtype), k")},
        "loses": ["gd-test-basic", "gd-test-stopping", "cond-test"],
    },
    "gd_stops_on_squared_norm": {
        "replace": {"gd-solution": _gd(check="(r.detach() ** 2).sum() <= tol")},
        "loses": ["gd-test-basic", "gd-test-stopping", "cond-test"],
    },
    "gd_stops_on_largest_entry": {
        "replace": {"gd-solution": _gd(check="r.detach().abs().max() <= tol")},
        "loses": ["gd-test-basic", "gd-test-stopping"],
    },
    "gd_stops_on_rms": {
        "replace": {"gd-solution": _gd(check="r.detach().pow(2).mean().sqrt() <= tol")},
        "loses": ["gd-test-basic", "gd-test-stopping", "cond-test"],
    },
    # --- Part B ---
    "gn_float32_cast_back": {
        "replace": {"gn-solution": _gn(
            "    s = torch.linalg.solve((J.T @ J).float(), (-J.T @ r).float())\n"
            "    return (x + s.double()).detach()\n")},
        "loses": ["gn-test-square", "gn-test-tall"],
    },
    "gn_fixed_damping": {  # a "safe" Levenberg-Marquardt term: negligible at scale 1, dominant at scale 1e-8
        "replace": {"gn-solution": _gn(
            "    s = torch.linalg.solve(J.T @ J + 1e-8 * torch.eye(x.shape[0], dtype=x.dtype), -J.T @ r)\n"
            "    return x + s\n")},
        "loses": ["gn-test-square", "gn-test-tall"],
    },
    "gn_returns_the_step_not_the_point": {  # the visible cases start from x = 0, where x + s == s
        "replace": {"gn-solution": _gn("    return torch.linalg.solve(J.T @ J, -J.T @ r)\n")},
        "loses": ["gn-test-square", "gn-test-tall"],
    },
    "gn_pinv_absolute_cutoff": {
        "replace": {"gn-solution": _gn("    return x - torch.linalg.pinv(J, atol=1e-6) @ r\n")},
        "loses": ["gn-test-square", "gn-test-tall"],
    },
    "gn_solves_the_top_square_block": {  # exact for consistent systems, wrong for least squares
        "replace": {"gn-solution": _gn("    d = x.shape[0]\n    return x + torch.linalg.solve(J[:d], -r[:d])\n")},
        "loses": ["gn-test-tall"],
    },
    # --- Part C ---
    "tv_abs_after_the_sum": {
        "replace": {"tv-solution": _tv(
            "    down = (images[:, 1:, :] - images[:, :-1, :]).sum(dim=(1, 2)).abs()\n"
            "    across = (images[:, :, 1:] - images[:, :, :-1]).sum(dim=(1, 2)).abs()\n"
            "    return down + across\n")},
        "loses": ["tv-test"],
    },
    "tv_float32_cast_back": {
        "replace": {"tv-solution": _tv(
            "    u = images.float()\n"
            "    tv = (u[:, 1:] - u[:, :-1]).abs().sum(dim=(1, 2)) + (u[:, :, 1:] - u[:, :, :-1]).abs().sum(dim=(1, 2))\n"
            "    return tv.to(images.dtype)\n")},
        "loses": ["tv-test"],
    },
    "tv_wraps_around": {  # torch.roll pairs the last row with the first: extra jumps, zero for the visible cases
        "replace": {"tv-solution": _tv(
            "    down = (torch.roll(images, -1, dims=1) - images).abs().sum(dim=(1, 2))\n"
            "    across = (torch.roll(images, -1, dims=2) - images).abs().sum(dim=(1, 2))\n"
            "    return (down + across) / 2\n")},
        "loses": ["tv-test"],
    },
    # --- Part D ---
    "restart_ties_keep_the_latest": {
        "replace": {"restart-solution": _restart("torch.linalg.norm(f(x) - y)", better="r <= best_r")},
        "loses": ["restart-test"],
    },
    "restart_squared_residual": {
        "replace": {"restart-solution": _restart("((f(x) - y) ** 2).sum()")},
        "loses": ["restart-test"],
    },
    "restart_largest_entry_residual": {
        "replace": {"restart-solution": _restart("(f(x) - y).abs().max()")},
        "loses": ["restart-test"],
    },
    "restart_rms_residual": {
        "replace": {"restart-solution": _restart("((f(x) - y) ** 2).mean().sqrt()")},
        "loses": ["restart-test"],
    },
    # --- Part E (experiment) ---
    "cond_kappa_on_J_not_JtJ": {  # s = (1, 1/kappa): cond(J) = kappa, so cond(J^T J) = kappa**2
        "replace": {"cond-solution": _cond(s="1.0 / kappa")},
        "loses": ["cond-test"],
    },
    "cond_ignores_tol": {
        "replace": {"cond-solution": _cond(call="lr=1.0, tol=1e-8")},
        "loses": ["cond-test"],
    },
    "cond_random_target": {
        "replace": {"cond-solution": _cond(y="f(torch.randn(2, dtype=torch.float64))")},
        "loses": ["cond-test"],
    },
    "cond_growth_sqrt": {
        "replace": {"cond-solution": _cond(growth='"sqrt"')},
        "loses": ["cond-test"],
    },
    "cond_default_lr": {
        "replace": {"cond-solution": _cond(call="tol=tol")},
        "loses": ["cond-test"],
    },
})

# --- found by a blind attack from the release (issue 15): each kept points before the hidden tests were fixed,
# or is a kind of mistake not listed above ---
WRONG.update({
    "gd_stops_strictly_below_tol": {  # "< tol": a residual exactly on tol takes steps instead of stopping
        "replace": {"gd-solution": _gd(check="torch.linalg.norm(r.detach()) < tol")},
        "loses": ["gd-test-stopping"],
    },
    "gd_returns_the_best_iterate_seen": {  # equals x_max_iter only while the residual keeps decreasing
        "replace": {"gd-solution": (
            "def gd_inverse(f, y, x0, lr=0.1, tol=1e-8, max_iter=1000):\n"
            "    x = x0.detach().clone()\n"
            "    best_x, best_r = x.clone(), float('inf')\n"
            "    for k in range(max_iter):\n"
            "        x.requires_grad_(True)\n"
            "        r = f(x) - y\n"
            "        rn = float(torch.linalg.norm(r.detach()))\n"
            "        if rn <= tol:\n"
            "            return x.detach(), k\n"
            "        if rn < best_r:\n"
            "            best_x, best_r = x.detach().clone(), rn\n"
            "        (g,) = torch.autograd.grad(0.5 * (r**2).sum(), x)\n"
            "        x = (x - lr * g).detach()\n"
            "    if float(torch.linalg.norm(f(x) - y)) < best_r:\n"
            "        best_x = x\n"
            "    return best_x.detach(), max_iter\n")},
        "loses": ["gd-test-basic"],
    },
    "gd_ignores_tol": {
        "replace": {"gd-solution": _gd(check="torch.linalg.norm(r.detach()) <= 1e-10")},
        "loses": ["gd-test-stopping", "cond-test"],
    },
    "gd_stops_on_the_gradient_norm": {
        "replace": {"gd-solution": (
            "def gd_inverse(f, y, x0, lr=0.1, tol=1e-8, max_iter=1000):\n"
            "    x = x0.detach().clone()\n"
            "    for k in range(max_iter):\n"
            "        x.requires_grad_(True)\n"
            "        r = f(x) - y\n"
            "        (g,) = torch.autograd.grad(0.5 * (r**2).sum(), x)\n"
            "        if torch.linalg.norm(g) <= tol:\n"
            "            return x.detach(), k\n"
            "        x = (x - lr * g).detach()\n"
            "    return x.detach(), max_iter\n")},
        "loses": ["gd-test-basic", "gd-test-stopping", "cond-test"],
    },
    "gd_stops_on_the_largest_row_norm": {  # one norm per row, then the max: not the norm of the whole difference
        "replace": {"gd-solution": _gd(check="torch.linalg.norm(r.detach(), dim=-1).max() <= tol")},
        "loses": ["gd-test-basic", "gd-test-stopping"],
    },
    "gd_updates_x0_in_place": {  # x0.detach() shares x0's memory
        "replace": {"gd-solution": _gd(head="    x = x0.detach()\n", step="x.detach().sub_(lr * g)")},
        "loses": ["gd-test-basic"],
    },
    "gn_jacobian_at_zero": {  # right for every linear map, wrong where J depends on x
        "replace": {"gn-solution": (
            "def gauss_newton_step(f, x, y):\n"
            "    J = torch.autograd.functional.jacobian(f, torch.zeros_like(x))\n"
            "    r = (f(x.detach()) - y).detach()\n"
            "    return (x.detach() + torch.linalg.solve(J.T @ J, -J.T @ r)).detach()\n")},
        "loses": ["gn-test-tall"],
    },
    "gn_linear_solve_ignoring_f_of_x": {  # x_new = (J^T J)^-1 J^T (y - f(0)): exact only for affine maps
        "replace": {"gn-solution": (
            "def gauss_newton_step(f, x, y):\n"
            "    J = torch.autograd.functional.jacobian(f, x.detach())\n"
            "    b = (y - f(torch.zeros_like(x))).detach()\n"
            "    return torch.linalg.solve(J.T @ J, J.T @ b).detach()\n")},
        "loses": ["gn-test-tall"],
    },
    "tv_isotropic_with_zero_padding": {  # sqrt(dv^2 + dh^2) per pixel: equals the anisotropic TV on 0/1 jumps
        "replace": {"tv-solution": _tv(
            "    dv = torch.zeros_like(images)\n"
            "    dh = torch.zeros_like(images)\n"
            "    dv[:, :-1, :] = images[:, 1:, :] - images[:, :-1, :]\n"
            "    dh[:, :, :-1] = images[:, :, 1:] - images[:, :, :-1]\n"
            "    return torch.sqrt(dv ** 2 + dh ** 2).sum(dim=(1, 2))\n")},
        "loses": ["tv-test"],
    },
    "tv_numpy_not_differentiable": {
        "replace": {"tv-solution": _tv(
            "    import numpy as np\n"
            "    u = images.detach().cpu().numpy()\n"
            "    tv = np.abs(np.diff(u, axis=1)).sum(axis=(1, 2)) + np.abs(np.diff(u, axis=2)).sum(axis=(1, 2))\n"
            "    return torch.tensor(tv, dtype=images.dtype)\n")},
        "loses": ["tv-test"],
    },
    "restart_l1_residual": {
        "replace": {"restart-solution": _restart("(f(x) - y).abs().sum()")},
        "loses": ["restart-test"],
    },
    "restart_overwrites_starts": {
        "replace": {"restart-solution": (
            "def best_of_restarts(f, y, solver, starts):\n"
            "    for i in range(len(starts)):\n"
            "        starts[i] = solver(f, y, starts[i])\n"
            "    res = [float(torch.linalg.norm(f(starts[i]) - y)) for i in range(len(starts))]\n"
            "    i = min(range(len(res)), key=res.__getitem__)\n"
            "    return starts[i].clone(), res[i]\n")},
        "loses": ["restart-test"],
    },
    "restart_passes_2d_slices": {  # solver gets starts[i:i+1] (1, d): the answer comes back as (1, d)
        "replace": {"restart-solution": (
            "def best_of_restarts(f, y, solver, starts):\n"
            "    best_x, best_r = None, float('inf')\n"
            "    for i in range(starts.shape[0]):\n"
            "        x = solver(f, y, starts[i:i + 1])\n"
            "        r = float(torch.linalg.norm(f(x) - y))\n"
            "        if r < best_r:\n"
            "            best_x, best_r = x, r\n"
            "    return best_x, best_r\n")},
        "loses": ["restart-test"],
    },
    "cond_default_max_iter": {  # gd_inverse's default max_iter = 1000 caps the ill-conditioned counts
        "replace": {"cond-solution": _cond().replace(", max_iter=5_000", "")},
        "loses": ["cond-test"],
    },
    "cond_target_ones_not_f_of_ones": {
        "replace": {"cond-solution": _cond(y="torch.ones(2, dtype=torch.float64)")},
        "loses": ["cond-test"],
    },
    "cond_float32": {  # tol 1e-8 is below float32's resolution: every kappa runs to max_iter
        "replace": {"cond-solution": _cond().replace(", dtype=torch.float64", "")},
        "loses": ["cond-test"],
    },
    "cond_growth_quadratic": {
        "replace": {"cond-solution": _cond(growth='"quadratic"')},
        "loses": ["cond-test"],
    },
})
