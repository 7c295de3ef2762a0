import pytest

from seambench.errors import SpecError
from seambench.plugins import build_registry
from seambench.specs import parse_spec


@pytest.fixture(scope="module")
def registry():
    return build_registry(entry_points=False)


def test_parse_positional_and_options():
    parsed = parse_spec("timm:resnet18,pretrained=false")
    assert parsed.name == "timm"
    assert parsed.positional == "resnet18"
    assert parsed.options == (("pretrained", "false"),)


def test_parse_options_only():
    parsed = parse_spec(" umap:d=16,n_neighbors=15 ")
    assert (parsed.name, parsed.positional) == ("umap", None)
    assert parsed.options == (("d", "16"), ("n_neighbors", "15"))


@pytest.mark.parametrize("text, fragment", [
    ("", "empty"),
    (":d=3", "no component name"),
    ("umap:d=3,,k=2", "empty item"),
    ("umap:d=3,foo", "key=value"),
    ("umap:d=3,d=4", "twice"),
])
def test_parse_errors(text, fragment):
    with pytest.raises(SpecError, match=fragment):
        parse_spec(text)


def test_resolve_types_and_defaults(registry):
    spec = registry.resolve("reducer", "umap:d=8,min_dist=0.25")
    assert spec.options == {"d": 8, "n_neighbors": 15, "min_dist": 0.25, "metric": "euclidean", "seed": 0}
    spec = registry.resolve("backbone", "timm:resnet18,pretrained=no")
    assert spec.options["pretrained"] is False and spec.options["model"] == "resnet18"


def test_canonical_label_drops_defaults_and_orders_options(registry):
    a = registry.resolve("reducer", "umap:n_neighbors=10,d=16")
    b = registry.resolve("reducer", "umap:d=16,n_neighbors=10")
    assert a.label == b.label == "umap:n_neighbors=10"
    assert registry.resolve("detector", "knn:k=5").label == "knn"
    assert registry.resolve("backbone", "timm:resnet18,pretrained=false").label == "timm:resnet18,pretrained=false"


def test_unknown_component_lists_available(registry):
    with pytest.raises(SpecError) as err:
        registry.resolve("detector", "lof:k=3")
    message = str(err.value)
    assert "unknown detector 'lof'" in message
    assert "knn" in message and "pynndescent" in message
    assert "\n" not in message


def test_unknown_option_lists_options(registry):
    with pytest.raises(SpecError, match=r"unknown option 'dims'.*d=16.*n_neighbors=15"):
        registry.resolve("reducer", "umap:dims=3")


def test_ill_typed_option(registry):
    with pytest.raises(SpecError, match=r"k='five' is not a valid int"):
        registry.resolve("detector", "knn:k=five")
    with pytest.raises(SpecError, match=r"pretrained='maybe' is not a valid bool"):
        registry.resolve("backbone", "timm:resnet18,pretrained=maybe")


def test_bare_argument_where_none_is_taken(registry):
    with pytest.raises(SpecError, match="takes no bare argument"):
        registry.resolve("detector", "knn:5")


def test_required_option(registry):
    with pytest.raises(SpecError, match="needs option 'model'"):
        registry.resolve("backbone", "timm")
