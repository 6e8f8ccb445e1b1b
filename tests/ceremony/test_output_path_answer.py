"""An empty answer where a new bundle file is asked for is named, with the next step (seen in the
lead's walk: 'Give a file path.' came with the generic next step)."""

from __future__ import annotations

import pytest

from vault.ceremony.prompts import TextAnswer
from vault.ceremony.steps.keys import _output_path
from vault.errors import AnswerInvalid


@pytest.mark.parametrize("typed", ["", "   "])
def test_an_empty_bundle_path_says_what_is_missing_and_what_to_type(typed):
    with pytest.raises(AnswerInvalid) as refused:
        _output_path(TextAnswer(typed))
    assert refused.value.message == "No path was given: the bundle needs a new file to be written to."
    assert refused.value.next_step == "Type the path of a new file on the removable medium."
