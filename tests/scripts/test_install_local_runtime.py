"""scripts/install_local_runtime.sh: the first install shows the llama.cpp compile's progress
instead of minutes of silence, builds only what the binding loads, and on failure shows why.
A stand-in for pip prints what ``pip install -v`` prints while scikit-build runs ninja."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "install_local_runtime.sh"


def fake_pip(tmp_path: Path, *, fail: bool) -> Path:
    pip = tmp_path / "pip"
    steps = "\n".join(f"echo '  [{i}/25] /usr/bin/g++ -c ggml-{i}.cpp'" for i in range(1, 26))
    pip.write_text(
        "#!/usr/bin/env bash\n"
        'echo "CMAKE_ARGS=$CMAKE_ARGS"\n'
        f"{steps}\n"
        + (
            "echo 'error: ninja failed' >&2; exit 1\n"
            if fail
            else "echo 'Successfully installed llama-cpp-python-0.3'\n"
        )
    )
    pip.chmod(0o755)
    return pip


def run(pip: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CMAKE_ARGS"}
    return subprocess.run(
        ["bash", str(SCRIPT), str(pip), "-e", ".[local]"], capture_output=True, text=True, env=env, timeout=60
    )


def test_progress_is_shown_and_only_the_binding_libraries_are_built(tmp_path):
    result = run(fake_pip(tmp_path, fail=False))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "first time, llama.cpp compiles from source" in out
    assert [line.strip() for line in out.splitlines() if "compiling llama.cpp" in line] == [
        "compiling llama.cpp [1/25]",
        "compiling llama.cpp [11/25]",
        "compiling llama.cpp [21/25]",
    ]
    assert "Successfully installed llama-cpp-python" in out
    assert "local model runtime ready in" in out
    assert "CMAKE_ARGS" not in out  # pip's own chatter stays in the log


def test_a_failed_build_says_so_with_the_end_of_its_log(tmp_path):
    result = run(fake_pip(tmp_path, fail=True))
    assert result.returncode == 1
    assert "installing the local model runtime failed" in result.stderr
    assert "error: ninja failed" in result.stderr
    assert "-DLLAVA_BUILD=OFF" in result.stderr  # the log shows what was asked of cmake
    if platform.machine() == "x86_64":  # portable AVX2 kernels, not the build machine's AMX ones
        assert "-DGGML_NATIVE=OFF" in result.stderr and "-DGGML_AVX2=ON" in result.stderr
