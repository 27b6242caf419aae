"""The /imagine fields: defaults, limits and errors naming the field."""

import pytest

import imagine_params
from imagine_params import ImageRequest, ParamError


def test_prompt_alone_gets_a_seed_from_the_prompt():
    req = imagine_params.parse({"prompt": "a cat"})
    assert req == ImageRequest("a cat", imagine_params.prompt_seed("a cat"), 0, 0, 0)
    assert req.seed != 0
    assert imagine_params.prompt_seed("a dog") != req.seed


def test_query_strings_and_json_numbers_both_parse():
    q = imagine_params.parse({"prompt": "x", "seed": "7", "steps": "20", "img_size": "128"})
    j = imagine_params.parse({"prompt": "x", "seed": 7, "steps": 20, "width": 128, "height": 128})
    assert q == j == ImageRequest("x", 7, 20, 128, 128)


def test_width_and_height_override_img_size():
    req = imagine_params.parse({"prompt": "x", "img_size": 256, "width": 64})
    assert (req.width, req.height) == (64, 256)


@pytest.mark.parametrize(
    "fields,field,says",
    [
        ({}, "prompt", "is required"),
        ({"prompt": "   "}, "prompt", "is required"),
        ({"prompt": 5}, "prompt", "is required"),
        ({"prompt": "x" * 1001}, "prompt", "at most 1000 characters, got 1001"),
        ({"prompt": "x", "steps": 500}, "steps", "from 1 to 150, got 500"),
        ({"prompt": "x", "steps": "many"}, "steps", "must be an integer, got 'many'"),
        ({"prompt": "x", "steps": True}, "steps", "must be an integer"),
        ({"prompt": "x", "width": 100}, "width", "multiple of 8 from 64 to 1024, got 100"),
        ({"prompt": "x", "height": 2048}, "height", "multiple of 8 from 64 to 1024, got 2048"),
        ({"prompt": "x", "img_size": 32}, "img_size", "got 32"),
        ({"prompt": "x", "seed": 1 << 64}, "seed", "64-bit integer"),
        ({"prompt": "x", "guidance": 3}, "guidance", "unknown field; allowed: prompt, seed"),
    ],
)
def test_bad_fields_are_named(fields, field, says):
    with pytest.raises(ParamError) as info:
        imagine_params.parse(fields)
    assert info.value.field == field
    assert says in str(info.value)
    assert info.value.as_json() == {"error": str(info.value), "field": field}
