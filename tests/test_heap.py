"""Freed memory is kept for reuse in processes that ask for it (``likeness.heap``)."""

import subprocess
import sys

import pytest

#: Runs P-Net (random weights) over a 12 MP photo's first pyramid level eight times, as an
#: import worker does photo after photo, and prints the page faults of the last five.
SCRIPT = """
import resource, sys
import torch
if sys.argv[1] == "reuse":
    from likeness.heap import reuse_freed_memory
    assert reuse_freed_memory()
torch.set_num_threads(1)
from likeness.faces.mtcnn import build_networks
pnet = build_networks()[0].eval()
level = torch.ones(1, 3, 907, 1210)

def photo():
    with torch.inference_mode():
        pnet(level)

for _ in range(3):
    photo()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    photo()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def faults(mode: str) -> int:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, check=True
    )
    return int(out.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt is Linux's")
@pytest.mark.slow  # 8 s; `make test-all`
def test_a_workers_feature_maps_reuse_freed_memory_instead_of_faulting_it_in_again():
    # Without it, every feature map is mapped afresh: about 70,000 pages of 4 KiB a pass.
    # With it, none on most runs; now and then one map is (how the heap happens to lie).
    default = faults("default")
    assert default > 150_000  # five passes
    assert faults("reuse") < default / 10
