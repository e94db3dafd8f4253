"""The Decentlab codec: the generic v2 frame (protocol.py) read through each model's sensor table (sensors.py)."""

from __future__ import annotations

from collections.abc import Mapping

from iot_suitcase.devices.codecs.base import CodecError, DeviceModel, load_models
from iot_suitcase.devices.codecs.decentlab.protocol import build_frame, parse_frame
from iot_suitcase.devices.codecs.decentlab.sensors import SENSORS, Sensor
from iot_suitcase.devices.reading import RawReading

ENCODED_DEVICE_ID = 0  # the device's own 2-byte id is not a reading; encoded frames carry 0


class DecentlabCodec:
    """Decentlab DL-* devices. The frame says by itself which sensors it carries, so the fPort is not consulted."""

    vendor = "decentlab"

    def __init__(self) -> None:
        self.models: Mapping[str, DeviceModel] = load_models("iot_suitcase.devices.codecs.decentlab")

    def _sensors(self, model: str) -> tuple[Sensor, ...]:
        if model not in self.models or model not in SENSORS:
            raise CodecError(f"decentlab: unknown model {model!r}; known: {', '.join(sorted(self.models))}")
        return SENSORS[model]

    def decode(self, model: str, fport: int, payload: bytes) -> list[RawReading]:
        sensors = self._sensors(model)
        frame = parse_frame(model, payload, [len(sensor.fields) for sensor in sensors])
        readings = []
        for index, words in frame.sensors.items():
            sensor = sensors[index]
            if not sensor.valid(words):
                continue
            for field, word in zip(sensor.fields, words, strict=True):
                if field.quantity is not None:
                    readings.append(RawReading(field.quantity, field.value(word), field.unit))
        return readings

    def encode(self, model: str, fport: int, values: Mapping[str, float]) -> bytes:
        """Values in decode's units (V, ug/m3, degC, %, Pa, mm); a sensor's quantities go together or not at all."""
        sensors = self._sensors(model)
        known = {quantity for sensor in sensors for quantity in sensor.quantities}
        unknown = sorted(set(values) - known)
        if unknown:
            raise CodecError(f"{model}: cannot encode {', '.join(unknown)}; it sends {', '.join(sorted(known))}")
        words: dict[int, list[int]] = {}
        for index, sensor in enumerate(sensors):
            given = [quantity for quantity in sensor.quantities if quantity in values]
            if not given:
                continue
            missing = [quantity for quantity in sensor.quantities if quantity not in values]
            if missing:
                together = ", ".join(sensor.quantities)
                raise CodecError(f"{model}: sensor {index} sends {together} together; missing {', '.join(missing)}")
            words[index] = [
                field.default if field.quantity is None else field.word(model, values[field.quantity])
                for field in sensor.fields
            ]
        return build_frame(ENCODED_DEVICE_ID, words)
