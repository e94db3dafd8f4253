"""Vendor JavaScript decoders in the sandbox (#16 point 4): a decoder in The Things Network's format, written
here, decodes; one that loops, one that allocates without bound and one that reads a file each become a
codec_error, and the decoder works again on the next uplink."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iot_suitcase.devices import codecs
from iot_suitcase.devices.codecs.base import CodecError
from iot_suitcase.devices.codecs.javascript import JavaScriptDecoder, load_models_file
from iot_suitcase.devices.errors import RejectCode
from iot_suitcase.devices.reading import RawReading

TESTDATA = Path(__file__).parent / "testdata"
GOOD = bytes.fromhex("08ca" + "2a" + "0ce4")  # 22.50 degC, 42 %, 3300 mV


@pytest.fixture(scope="module")
def decoder() -> JavaScriptDecoder:
    return JavaScriptDecoder((TESTDATA / "acme-soil.js").read_text(), "acme/soil-probe")


def test_a_decoder_in_the_device_repository_format_decodes(decoder: JavaScriptDecoder) -> None:
    output = decoder.decode_uplink(2, GOOD)
    assert output.data == {
        "temperature": 22.5,
        "soil": {"moisture": 42},
        "battery": {"voltage": 3300, "low": False},
        "model": "ACME Soil",
    }
    assert output.warnings == []
    assert decoder.decode_uplink(2, bytes.fromhex("ff38" + "00" + "0b54")).warnings == ["battery low"]


@pytest.mark.parametrize(
    ("fport", "said"),
    [
        (99, "ran past its time limit of 100 ms"),
        (98, "went past its memory limit of 32 MiB"),
        (97, "require is not defined"),
        (2, "the decoder reports errors: expected 5 bytes, got 1"),
    ],
)
def test_a_misbehaving_decoder_is_a_codec_error_and_the_next_uplink_decodes(
    decoder: JavaScriptDecoder, fport: int, said: str
) -> None:
    with pytest.raises(CodecError) as caught:
        decoder.decode_uplink(fport, b"\x01")
    assert caught.value.code is RejectCode.CODEC_ERROR
    assert said in caught.value.reason
    assert decoder.decode_uplink(2, GOOD).data["temperature"] == 22.5, "a fresh isolate after a failure"


def test_a_script_is_checked_when_it_is_registered() -> None:
    with pytest.raises(CodecError, match="defines no function decodeUplink"):
        JavaScriptDecoder("function decode(bytes) { return {}; }", "x/y")
    with pytest.raises(CodecError, match="does not load"):
        JavaScriptDecoder("function decodeUplink(input) {", "x/y")


def test_the_models_file_maps_the_output_to_catalog_quantities() -> None:
    [codec] = load_models_file(TESTDATA / "decoders.toml").values()
    model = codec.models["acme/soil-probe"]
    assert (model.kind, model.quantities, model.fport) == ("climate", ("external_temperature", "battery_voltage"), 2)
    readings = codec.decode("acme/soil-probe", 2, GOOD)
    assert list(readings) == [RawReading("external_temperature", 22.5, None), RawReading("battery_voltage", 3300, "mV")]
    assert readings.skipped == 2, "soil.moisture and battery.low: read past, counted"


@pytest.fixture
def installed() -> Iterator[None]:
    """The process's codec tables as they were, afterwards: other tests walk every model."""
    codecs_before, models_before = dict(codecs.CODECS), dict(codecs.MODELS)
    yield
    codecs.CODECS.clear()
    codecs.CODECS.update(codecs_before)
    codecs.MODELS.clear()
    codecs.MODELS.update(models_before)
    codecs.forget_javascript_models()


@pytest.mark.usefixtures("installed")
def test_installed_models_decode_like_every_other_codec() -> None:
    codecs.install_javascript_models(TESTDATA / "decoders.toml")
    assert "acme/soil-probe" in codecs.MODELS
    assert [r.quantity for r in codecs.decode_uplink("acme/soil-probe", 2, GOOD)] == [
        "external_temperature",
        "battery_voltage",
    ]


HEAD = '[models."acme/x"]\nkind = "climate"\ndecoder = "acme-soil.js"\n'
FIELDS = '[models."acme/x".fields]\n'


@pytest.mark.parametrize(
    ("toml", "said"),
    [
        (HEAD, "give a [fields] map"),
        (HEAD.replace("climate", "nope") + FIELDS + 't = "temperature"\n', "not a catalog kind"),
        (HEAD + FIELDS + 't = "soil"\n', "no catalog quantity"),
        (HEAD.replace("acme-soil", "gone") + FIELDS + 't = "temperature"\n', "gone.js"),
        ('[models."ACME"]\nkind = "climate"\n', "vendor/model in lower case"),
    ],
)
def test_a_wrong_models_file_says_what_is_wrong(tmp_path: Path, toml: str, said: str) -> None:
    (tmp_path / "acme-soil.js").write_text((TESTDATA / "acme-soil.js").read_text())
    (tmp_path / "decoders.toml").write_text(toml)
    with pytest.raises(ValueError, match=re.escape(said)):
        load_models_file(tmp_path / "decoders.toml")


@pytest.mark.usefixtures("installed")
def test_a_vendor_with_a_codec_here_cannot_be_given_scripts(tmp_path: Path) -> None:
    (tmp_path / "acme-soil.js").write_text((TESTDATA / "acme-soil.js").read_text())
    text = (TESTDATA / "decoders.toml").read_text().replace("acme/soil-probe", "elsys/soil-probe")
    (tmp_path / "decoders.toml").write_text(text)
    with pytest.raises(ValueError, match="elsys has a codec here already"):
        codecs.install_javascript_models(tmp_path / "decoders.toml")


def test_codec_test_runs_a_script_from_the_command_line() -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "iot_suitcase", "codec", "test", str(TESTDATA / "acme-soil.js"), *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)

    good = run("--fport", "2", GOOD.hex())
    assert good.returncode == 0, good.stderr
    assert json.loads(good.stdout)["data"]["soil"] == {"moisture": 42}
    looping = run("--fport", "99", "00")
    assert looping.returncode == 1
    assert json.loads(looping.stdout)["error"] == "codec_error"


@settings(max_examples=60, deadline=None)
@given(fport=st.integers(-3, 260), payload=st.binary(max_size=40))
def test_random_uplinks_give_readings_or_a_codec_error(fport: int, payload: bytes) -> None:
    [codec] = load_models_file(TESTDATA / "decoders.toml").values()
    if fport in (97, 98, 99):
        fport = 2
    try:
        readings = codec.decode("acme/soil-probe", fport, payload)
    except CodecError:
        return
    assert len(payload) == 5
    assert {r.quantity for r in readings} == {"external_temperature", "battery_voltage"}


@pytest.mark.usefixtures("installed")
def test_a_model_its_network_server_decodes_is_mapped_from_the_decoded_payload() -> None:
    """#16 point 3: a sensor without a codec here whose network server runs the vendor's payload formatter:
    its decoded payload lands in canonical units through the model's field map."""
    codecs.install_javascript_models(TESTDATA / "decoders.toml")
    assert codecs.decoded_by_network_server("acme/air-probe")
    assert not codecs.decoded_by_network_server("acme/soil-probe")
    assert not codecs.decoded_by_network_server("elsys/ers")
    decoded = {"co2ppm": 640, "air": {"temp": 21.5, "humidity": 40, "pressure": 1013}, "status": "ok"}
    readings = codecs.map_decoded("acme/air-probe", decoded)
    assert list(readings) == [
        RawReading("co2", 640, None),
        RawReading("temperature", 21.5, None),
        RawReading("humidity", 40, "%"),
    ]
    assert readings.skipped == 1, "air.pressure: a number the map does not name (the status is text)"
    with pytest.raises(CodecError, match="turn the formatter on"):
        codecs.decode_uplink("acme/air-probe", 1, b"\x01\x02")


def test_a_decoder_that_keeps_overrunning_is_suspended_for_a_while() -> None:
    """Each overrun holds the service up for the time limit; a flood of looping uplinks must not add up."""
    looping = JavaScriptDecoder((TESTDATA / "acme-soil.js").read_text(), "acme/soil-probe", suspension_s=1.5)
    for _ in range(3):
        with pytest.raises(CodecError, match="time limit"):
            looping.decode_uplink(99, b"\x00")
    with pytest.raises(CodecError, match="suspended for"):
        looping.decode_uplink(2, GOOD)  # not even run: the script is suspended
    time.sleep(1.6)
    assert looping.decode_uplink(2, GOOD).data["temperature"] == 22.5, "after the window, it runs again"
