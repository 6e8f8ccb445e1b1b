"""RFC 7512 token URIs: parsing, percent-decoding, refusals (pure, no token needed)."""

import pytest

from vault.hsm.uri import TokenUri, TokenUriInvalid, format_uri, parse_token_uri


def test_label_and_serial():
    uri = parse_token_uri("pkcs11:token=root-hsm;serial=eb2192415ec8403e")
    assert uri == TokenUri(token="root-hsm", serial="eb2192415ec8403e")


def test_percent_decoding_and_utf8():
    uri = parse_token_uri("pkcs11:token=Root%20HSM%3Bv2;manufacturer=SoftHSM%20project;model=Caf%C3%A9")
    assert uri.token == "Root HSM;v2"
    assert uri.manufacturer == "SoftHSM project"
    assert uri.model == "Café"


def test_empty_path_matches_everything():
    assert parse_token_uri("pkcs11:") == TokenUri()
    assert TokenUri().matches("a", "b", "c", "d")


def test_matches_all_given_fields():
    uri = TokenUri(token="a", serial="1")
    assert uri.matches("a", "1", "m", "x")
    assert not uri.matches("a", "2", "m", "x")


def test_format_round_trip():
    text = format_uri(token="Root HSM;v2", serial="0011")
    assert text == "pkcs11:token=Root%20HSM%3Bv2;serial=0011"
    assert parse_token_uri(text) == TokenUri(token="Root HSM;v2", serial="0011")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("token=x", "starts with 'pkcs11:'"),
        ("pkcs11:token=a;token=b", "appears twice"),
        ("pkcs11:token", "has no '='"),
        ("pkcs11:token=", "is empty"),
        ("pkcs11:token=a%2", "two hex digits"),
        ("pkcs11:token=a%zz", "two hex digits"),
        ("pkcs11:token=%ff", "not UTF-8"),
        ("pkcs11:slot-id=3", "slot ids change"),
        ("pkcs11:object=master;type=private", "names a key"),
        ("pkcs11:token=a?pin-value=1234", "a PIN never goes into a URI"),
        ("pkcs11:token=a?module-path=/usr/lib/x.so", "custodian.toml"),
        ("pkcs11:colour=blue", "Unknown or unsupported attribute 'colour'"),
        ("pkcs11:x-vendor=1", "Unknown or unsupported attribute 'x-vendor'"),
        ("pkcs11:Token=a", "Unknown or unsupported attribute 'Token'"),
    ],
)
def test_refused_with_a_clear_message(text, words):
    with pytest.raises(TokenUriInvalid) as info:
        parse_token_uri(text)
    assert words in str(info.value)
    assert info.value.code == "HSM_URI"


def test_refused_pin_is_not_echoed():
    with pytest.raises(TokenUriInvalid) as info:
        parse_token_uri("pkcs11:token=a?pin-value=s3cret-pin")
    assert "s3cret-pin" not in str(info.value)
