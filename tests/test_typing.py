"""albert_np ships py.typed: its public API (everything in albert_np.__all__, their methods, the outputs and
the tokenizer's BatchEncoding) is annotated, so a type checker sees more than Any."""

import inspect
import pathlib
import tomllib
import typing

import albert_np as an
from albert_np import outputs
from albert_np.tokenizer.encoding import BatchEncoding

ROOT = pathlib.Path(an.__file__).parent


def public_callables():
    """(qualified name, function) for every public function and method albert_np defines and exports."""
    seen = set()
    objects = [getattr(an, name) for name in an.__all__] + [BatchEncoding]
    for obj in objects:
        if inspect.isfunction(obj):
            yield obj.__name__, obj
        if not inspect.isclass(obj):
            continue
        for klass in obj.__mro__:
            if not klass.__module__.startswith("albert_np"):
                continue
            for attr, member in vars(klass).items():
                if attr.startswith("_") and attr not in ("__init__", "__call__"):
                    continue
                if isinstance(member, (classmethod, staticmethod)):
                    member = member.__func__
                if isinstance(member, property):
                    member = member.fget
                if inspect.isfunction(member) and (klass.__name__, attr) not in seen:
                    seen.add((klass.__name__, attr))
                    yield f"{klass.__name__}.{attr}", member


def missing_annotations(name, function):
    sig = inspect.signature(function)
    missing = [p.name for p in sig.parameters.values()
               if p.name not in ("self", "cls") and p.annotation is inspect.Parameter.empty]
    if sig.return_annotation is inspect.Signature.empty and not name.endswith("__init__"):
        missing.append("return")
    return missing


def test_every_public_function_and_method_is_annotated():
    found = dict(public_callables())
    assert len(found) > 120 and "AlbertForMaskedLM.forward" in found and "AlbertPreTrainedModel.to" in found
    bad = {name: m for name, f in found.items() if (m := missing_annotations(name, f))}
    assert not bad, bad


def test_annotations_resolve_to_real_types():
    for name in ("AlbertForMaskedLM", "AlbertForQuestionAnswering", "AlbertConfig", "AlbertTokenizer"):
        klass = getattr(an, name)
        for attr in ("forward", "from_pretrained", "__call__", "to_dict", "to"):
            if hasattr(klass, attr):
                typing.get_type_hints(getattr(klass, attr))   # raises on a name that does not exist
    assert typing.get_type_hints(an.AlbertForMaskedLM.forward)["return"] == outputs.MaskedLMOutput | tuple
    assert typing.get_type_hints(an.AlbertTokenizer.__call__)["return"] is BatchEncoding


def test_every_output_field_is_annotated():
    for klass in vars(outputs).values():
        if isinstance(klass, type) and issubclass(klass, outputs.ModelOutput) and klass is not outputs.ModelOutput:
            assert list(klass.__annotations__) == list(klass.fields), klass.__name__


def test_py_typed_ships_with_the_package():
    assert (ROOT / "py.typed").is_file()
    project = tomllib.loads((ROOT.parent / "pyproject.toml").read_text())
    assert "py.typed" in project["tool"]["setuptools"]["package-data"]["albert_np"]
