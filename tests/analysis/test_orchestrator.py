"""How one request's modalities are handed to the analysis pool."""

from __future__ import annotations

import itertools

import pytest

from mindsync.analysis.base import MODALITIES
from mindsync.analysis.orchestrator import pack


@pytest.mark.parametrize("processes", [1, 2, 3, 8])
def test_every_modality_is_handed_over_once_in_at_most_one_group_per_process(
    processes: int,
) -> None:
    for n in range(1, len(MODALITIES) + 1):
        for chosen in itertools.combinations(MODALITIES, n):
            groups = pack(list(chosen), processes)
            flat = [m for g in groups for m in g]
            assert sorted(flat) == sorted(chosen)
            assert len(groups) == min(n, processes)
            for group in groups:  # modality order inside a group
                assert group == sorted(group, key=MODALITIES.index)


def test_two_processes_run_voice_alone_and_face_then_motion() -> None:
    assert pack(["face", "voice", "motion"], 2) == [["voice"], ["face", "motion"]]


def test_with_a_process_for_each_every_modality_runs_at_once() -> None:
    assert pack(["face", "voice", "motion"], 3) == [["face"], ["voice"], ["motion"]]
    assert pack(["face", "motion"], 2) == [["face"], ["motion"]]
