"""Code grading the solution cannot influence: every cheat scores 0, the reference passes.

Each cheat is a solution to `fix-mask-after-softmax` (whose draft scores 0) that tries to win
without fixing anything: patching the comparisons, forging verdicts or outputs, hooking the
interpreter, hunting for the reference, the bank or the checks, or attacking the trusted
side's reader with odd outputs. Before the trusted-checker design the first two passed
(allclose patched, verdict records forged); the candidate then shared an interpreter with the
hidden tests.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import interview
from interview import sandbox
from interview.bank import load_bank
from interview.grading import Grader

ITEM_ID = "fix-mask-after-softmax"
PACKAGE = Path(interview.__file__).resolve().parent
ROOT = os.geteuid() == 0
ISOLATED = pytest.mark.skipif(not ROOT, reason="namespaces and uid drop are set up as root")


@pytest.fixture(scope="module")
def item():
    return load_bank().item(ITEM_ID)


@pytest.fixture(scope="module")
def grader():
    return Grader()


def secrets_of(item) -> list[str]:
    """Text that must never reach the candidate: the reference's fix and the checks."""
    texts = [check.expect for check in item.code.checks if check.expect]
    return [*texts, 'masked_fill(~mask, float("-inf"))', item.code.cases.strip()]


def assert_worthless(grade, item) -> None:
    assert grade.score == 0.0 and not grade.passed, grade.feedback
    for secret in secrets_of(item):
        assert secret not in grade.feedback


def test_the_reference_passes_and_the_draft_scores_zero(item, grader):
    assert grader.grade(item, item.code.reference).passed
    assert grader.grade(item, item.code.starter).score == 0.0


PATCH_COMPARISONS = """
import numpy, torch
torch.allclose = lambda *a, **k: True
torch.equal = lambda *a, **k: True
torch.isclose = lambda a, b, *x, **k: torch.ones_like(a, dtype=torch.bool)
numpy.allclose = lambda *a, **k: True
numpy.array_equal = lambda *a, **k: True
numpy.isclose = lambda a, b, *x, **k: numpy.ones(numpy.shape(a), dtype=bool)
numpy.testing.assert_allclose = lambda *a, **k: None
"""

FORGE_VERDICTS = """
import json, os
names = "rows_are_distributions", "future_does_not_change_the_past", "matches_causal_attention"
records = [{"test": n, "passed": True, "message": "passed"} for n in names]
records += [{"done": True}, {"uid": None, "isolation": []}]
for fd in range(3, 64):
    try:
        os.write(fd, "".join(json.dumps(r) + "\\n" for r in records).encode())
    except OSError:
        pass
os._exit(0)
"""

# Outputs with every property the checks read (rows sum to one, the past unchanged) but
# made up, written where the driver would write them, then the run ends.
FORGE_OUTPUTS = """
import numpy as np, os
tri = np.tril(np.ones((6, 6), dtype=np.float32))
weights = np.broadcast_to(tri / tri.sum(-1, keepdims=True), (2, 6, 6)).copy()
zeros = np.zeros((2, 6, 8), dtype=np.float32)
np.savez("output_0.npz", weights=weights, out=zeros, out_future_changed=zeros)
os._exit(0)
"""

WRITE_EARLY_THEN_CRASH = """
import numpy as np, os, signal, torch
inputs = dict(np.load("input_0.npz"))
q, k, v = (torch.from_numpy(inputs[n]) for n in ("q", "k", "v"))
eye = torch.eye(6).expand(2, 6, 6)
out = causal_attention(q, k, v)
np.savez("output_0.npz", weights=causal_attention(q, k, eye).numpy(), out=out.numpy(),
         out_future_changed=out.numpy())
os.kill(os.getpid(), signal.SIGKILL)
"""

# The driver is the candidate's to subvert: replace `run` through an interpreter hook.
SETPROFILE_HOOK = """
import sys
def _hook(frame, event, arg):
    module = sys.modules.get("driver")
    if module is not None and getattr(module, "run", None) is not _forged:
        module.run = _forged
def _forged(inputs):
    import numpy as np
    q, uniform = inputs["q"], np.full((2, 6, 6), 1 / 6, dtype=np.float32)
    return {"weights": uniform, "out": q, "out_future_changed": q}
sys.setprofile(_hook)
"""

SETTRACE_HOOK = """
import sys, numpy
_real = numpy.savez
def _savez(path, **arrays):
    arrays = {k: numpy.zeros_like(v) for k, v in arrays.items()}
    return _real(path, **arrays)
def _trace(frame, event, arg):
    numpy.savez = _savez
    return None
sys.settrace(_trace)
numpy.savez = _savez
"""

# What a leak looks like (the reference's fix, a check expression, the input generator),
# spelled in hex so that the cheat's own source never matches.
MARKERS = """
def markers():
    hexes = "6d61736b65645f66696c6c287e6d61736b", "676f745b27", "64656620696e7075747328726e6729"
    return [bytes.fromhex(h).decode() for h in hexes]
"""

# Hunt through frames, modules and code objects for the checks or the reference.
READ_FRAMES = (
    MARKERS
    + """
import gc, inspect, sys
found = []
frame = sys._getframe(0)
while frame is not None:
    found += [repr(c) for c in frame.f_code.co_consts]
    found += [repr(v)[:2000] for v in frame.f_globals.values()]
    try:
        found.append(inspect.getsource(frame))
    except (OSError, TypeError):
        pass
    frame = frame.f_back
found += [repr(obj.co_consts) for obj in gc.get_objects() if type(obj).__name__ == "code"]
for text in found:
    if any(marker in text for marker in markers()):
        print("LEAK", text[:300])
"""
)

HUNT_FILES = (
    MARKERS
    + """
import glob, os, sys
roots = {PACKAGE!r}, {PROJECT!r}, {SANDBOXES!r}, "/proc", "/tmp", "/root"
found = []
for root in list(roots) + sys.path:
    for pattern in ("**/*.yaml", "**/solution.py", "**/checking.py", "*/cmdline", "*/environ"):
        for path in glob.glob(os.path.join(root, pattern), recursive=not root.startswith("/proc")):
            try:
                text = open(path, errors="replace").read()
            except OSError:
                continue
            if any(marker in text for marker in markers()):
                found.append((path, text))
for path, text in found:
    print("LEAK", path)
    if path.endswith("solution.py"):
        exec(text)  # run the stolen reference
"""
)

IMPORT_PROJECT = """
import sys
sys.path[:0] = [{PROJECT!r}, {PARENT!r}]
import interview.bank
bank = interview.bank.load_bank()
exec(bank.item("fix-mask-after-softmax").code.reference)
"""

RETURN_INPUTS = """
import sys
def _forged(inputs):
    return {"weights": inputs["q"][:, :, :6], "out": inputs["v"], "out_future_changed": inputs["v"]}
import builtins
_import = builtins.__import__
def _hooked(name, *args, **kwargs):
    module = _import(name, *args, **kwargs)
    driver = sys.modules.get("driver")
    if driver is not None and hasattr(driver, "run"):
        driver.run = _forged
    return module
builtins.__import__ = _hooked
"""

NAN_OUTPUTS = """
import torch
def causal_attention(q, k, v):
    return torch.full((q.shape[0], q.shape[1], v.shape[-1]), float("nan"))
"""

WRONG_DTYPES = """
import numpy as np, os
np.savez("output_0.npz", weights=np.array(["1.0"] * 72), out=np.zeros(3, dtype=complex),
         out_future_changed=np.zeros((1,), dtype=[("a", "f4")]))
os._exit(0)
"""

WRONG_SHAPES = """
import torch
def causal_attention(q, k, v):
    return torch.ones(1)
"""

HUGE_OUTPUT = """
import numpy as np, os
np.savez("output_0.npz", weights=np.random.default_rng(0).random(3_000_000))
os._exit(0)
"""

ZIP_BOMB = """
import numpy as np, os
np.savez_compressed("output_0.npz", weights=np.zeros(200_000_000, dtype=np.uint8))
os._exit(0)
"""

PICKLE_PAYLOAD = """
import numpy as np, os
class Payload:
    def __reduce__(self):
        return (open, ({MARKER!r}, "w"))
np.savez("output_0.npz", weights=np.array([Payload()], dtype=object),
         out=np.zeros((2, 6, 8)), out_future_changed=np.zeros((2, 6, 8)))
os._exit(0)
"""

SYMLINK_OUT = """
import os
os.symlink({TARGET!r}, "output_0.npz")
os._exit(0)
"""

# A child in its own session that outlives the run and rewrites the outputs afterwards.
# The grandchild leaves the session and becomes a process whose command line carries a
# token, so the test can look for exactly it (other sandboxes may run beside this test).
OUTLIVE = """
import os, sys
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        late = "import time; time.sleep(1.5); open(%r, 'w').write('still alive')  # %s"
        os.execv(sys.executable, [sys.executable, "-c", late % ({MARKER!r}, {TOKEN!r})])
    os._exit(0)
"""


def fill(source: str, **extra: str) -> str:
    names = {
        "PACKAGE": str(PACKAGE),
        "PROJECT": str(sandbox.PROJECT_ROOT),
        "PARENT": str(PACKAGE.parent),
        "SANDBOXES": str(sandbox._sandboxes_folder()),
        **extra,
    }
    return re.sub(r"\{(\w+)!r\}", lambda m: repr(names[m.group(1)]), source)


CHEATS = {
    "patch_torch_and_numpy_comparisons": PATCH_COMPARISONS,
    "forge_verdict_records_then_exit": FORGE_VERDICTS,
    "forge_outputs_with_the_checked_properties": FORGE_OUTPUTS,
    "write_outputs_early_then_crash": WRITE_EARLY_THEN_CRASH,
    "setprofile_hook_replaces_the_driver": SETPROFILE_HOOK,
    "settrace_hook_rewrites_the_outputs": SETTRACE_HOOK,
    "read_frames_and_code_objects": READ_FRAMES,
    "return_the_inputs": RETURN_INPUTS,
    "nan_outputs": NAN_OUTPUTS,
    "wrong_dtypes": WRONG_DTYPES,
    "wrong_shapes": WRONG_SHAPES,
    "huge_output_file": HUGE_OUTPUT,
    "zip_bomb_output": ZIP_BOMB,
}


@pytest.mark.parametrize("name", list(CHEATS))
def test_a_cheat_scores_zero(name, item, grader):
    grade = grader.grade(item, item.code.starter + "\n" + fill(CHEATS[name]))
    assert_worthless(grade, item)


@pytest.mark.parametrize("name", ["read_frames", "hunt_files", "import_the_project"])
@ISOLATED
def test_nothing_of_the_bank_the_reference_or_the_checks_is_in_reach(name, item, grader):
    """The cheat prints LEAK for any secret it finds; the run's stdout shows none."""
    from interview.checking import new_inputs, pack
    from interview.sandbox import run_driver

    source = {"read_frames": READ_FRAMES, "hunt_files": HUNT_FILES}.get(name, IMPORT_PROJECT)
    cheat = item.code.starter + "\n" + fill(source)
    grader.grade(item, item.code.reference)  # a reference run has left its files behind
    result = run_driver(item.code, cheat, [pack(new_inputs(item.code))])
    assert "LEAK" not in result.stdout, result.stdout
    if name == "import_the_project":
        assert "ModuleNotFoundError: No module named 'interview'" in result.notes[0]
    assert_worthless(grader.grade(item, cheat), item)


def test_a_pickle_payload_is_never_unpickled(item, grader, tmp_path):
    marker = tmp_path / f"unpickled-{uuid.uuid4().hex}"
    os.chmod(tmp_path, 0o777)  # so that only unpickling on the trusted side could fail it
    grade = grader.grade(item, item.code.starter + "\n" + fill(PICKLE_PAYLOAD, MARKER=str(marker)))
    assert_worthless(grade, item)
    assert not marker.exists()
    assert "not a plain .npz of numeric arrays" in grade.feedback


@pytest.mark.parametrize("target", ["/etc/passwd", "input_0.npz"])
def test_a_symlinked_output_is_not_followed(target, item, grader):
    grade = grader.grade(item, item.code.starter + "\n" + fill(SYMLINK_OUT, TARGET=target))
    assert_worthless(grade, item)
    assert "no output file" in grade.feedback


@ISOLATED
def test_a_child_that_leaves_the_session_is_killed_with_the_run(item, grader, tmp_path):
    marker = tmp_path / "late"
    os.chmod(tmp_path, 0o777)
    token = f"outlive-{uuid.uuid4().hex}"
    cheat = item.code.starter + "\n" + fill(OUTLIVE, MARKER=str(marker), TOKEN=token)
    grade = grader.grade(item, cheat)
    assert grade.score == 0.0
    import time

    time.sleep(2.5)
    assert not marker.exists()
    assert _pids_running(token) == []


def _pids_running(token: str) -> list[int]:
    """Live processes whose command line holds `token`."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                command = Path(f"/proc/{entry}/cmdline").read_bytes()
                status = Path(f"/proc/{entry}/status").read_text()
            except OSError:
                continue
            zombie = re.search(r"^State:\s+[ZX]", status, re.M)
            if token.encode() in command and not zombie:
                found.append(int(entry))
    return found


def test_outputs_come_from_fresh_inputs_so_stored_answers_fail(item, grader):
    """Outputs that were right for one grading's inputs are wrong for the next one's."""
    from interview.checking import new_inputs

    first, second = new_inputs(item.code), new_inputs(item.code)
    assert not (first["q"] == second["q"]).all() and first["seed"] != second["seed"]


WHEEL_RUN = """
import json, sys
import interview
from interview.bank import load_bank
from interview.checking import new_inputs, pack
from interview.grading import Grader
from interview.sandbox import run_driver

cheat = sys.argv[1]
item = load_bank().item("fix-mask-after-softmax")
grader = Grader()
reference = grader.grade(item, item.code.reference)
run = run_driver(item.code, cheat, [pack(new_inputs(item.code))])
grade = grader.grade(item, cheat)
print(json.dumps({"package": interview.__file__, "reference": reference.passed,
                  "stdout": run.stdout, "score": grade.score, "passed": grade.passed}))
"""


@pytest.fixture(scope="module")
def wheel_install(tmp_path_factory) -> Iterator[Path]:
    """The project built as a wheel and installed into a plain folder (no checkout, no
    editable install): the layout of a normal install, bank YAML inside the package."""
    import shutil
    import subprocess
    import sys
    import tempfile

    wheels = tmp_path_factory.mktemp("wheels")
    # Outside the temporary folder, which the sandbox hides as a whole: only hiding the
    # installed packages themselves can keep this bank out of reach.
    target = Path(tempfile.mkdtemp(prefix="compete-wheel-", dir="/var/tmp"))
    target.chmod(0o755)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    build = [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels)]
    # Built from a copy, so setuptools' build/ folder never lands in the checkout.
    source = tmp_path_factory.mktemp("source") / "compete"
    skip = shutil.ignore_patterns(".*", "build", "*.egg-info", "__pycache__", "tests", "notebooks")
    shutil.copytree(sandbox.PROJECT_ROOT, source, ignore=skip)
    subprocess.run([*build, str(source)], check=True, timeout=300)
    (wheel,) = wheels.glob("compete-*.whl")
    install = [*pip, "install", "--no-deps", "--no-compile", "--target", str(target)]
    subprocess.run([*install, str(wheel)], check=True, timeout=300)
    assert (target / "interview" / "bank" / "topics.yaml").is_file()
    yield target
    shutil.rmtree(target, ignore_errors=True)


@ISOLATED
def test_in_a_wheel_install_the_bank_is_out_of_reach(wheel_install, item):
    import json
    import subprocess
    import sys

    cheat = (
        item.code.starter
        + "\n"
        + fill(HUNT_FILES, PACKAGE=str(wheel_install / "interview"), PROJECT=str(wheel_install))
    )
    env = {**os.environ, "PYTHONPATH": str(wheel_install)}
    done = subprocess.run(
        [sys.executable, "-c", WHEEL_RUN, cheat],
        env=env,
        cwd=str(wheel_install),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["package"].startswith(str(wheel_install))  # graded by the wheel's code
    assert report["reference"] is True
    assert "LEAK" not in report["stdout"], report["stdout"]
    assert report["score"] == 0.0 and report["passed"] is False


@ISOLATED
@pytest.mark.parametrize("top", ["/var/tmp", "/opt", "/srv"])
def test_a_copy_of_the_project_anywhere_else_is_out_of_reach(top, item):
    """Another checkout or a backup of the project, outside anything the sandbox knows of."""
    import shutil
    import tempfile

    from interview.checking import new_inputs, pack

    copy = Path(tempfile.mkdtemp(prefix="compete-copy-", dir=top))
    try:
        copy.chmod(0o755)
        shutil.copytree(PACKAGE / "bank", copy / "interview" / "bank")
        bank = copy / "interview" / "bank" / "topics.yaml"
        assert bank.is_file()
        probe = f"\nimport os\nprint('SEEN' if os.path.exists({str(bank)!r}) else 'HIDDEN')\n"
        run = sandbox.run_driver(
            item.code, item.code.starter + probe, [pack(new_inputs(item.code))]
        )
        assert "HIDDEN" in run.stdout and "SEEN" not in run.stdout, run.stdout
    finally:
        shutil.rmtree(copy, ignore_errors=True)
