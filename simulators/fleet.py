"""A simulated fleet: N devices per site, their models, kinds, formats, places and radio links.

Models are dealt round-robin from the candidates (every native kind asked for, every LoRaWAN model of
those kinds), so a fleet of any size covers them all as evenly as it can; each model's devices take the
formats that suit it in turn. Everything follows from the seed: the same arguments give the same fleet.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from iot_suitcase.devices.catalog import load_catalog
from iot_suitcase.devices.codecs import MODELS
from iot_suitcase.simulators import geo
from iot_suitcase.simulators.formats import FORMATS, LORAWAN_FORMATS
from iot_suitcase.simulators.model import NATIVE, SimDevice
from iot_suitcase.simulators.signals import Context, Radio
from iot_suitcase.simulators.signals.noise import mix, text_key

DEFAULT_NATIVE_INTERVAL_S = 300.0
AIRROHR_INTERVAL_S = 145.0  # the airrohr firmware's default measuring interval
# Organisationally unique identifiers (the first bytes of a vendor's DevEUIs), so EUIs look like the vendor's.
_EUI_PREFIX = {
    "elsys": "a81758fffe",
    "milesight-iot": "24e124",
    "decentlab": "70b3d57ba0",
    "dragino": "a84041",
    "sensative": "70b3d52c00",
}
_MAX_TTS_ID = 36  # The Things Stack: device ids of 3-36 lower-case letters, digits and dashes


class FleetError(ValueError):
    """Arguments that cannot make a fleet; the message says what to change."""


@dataclass(frozen=True, slots=True)
class FleetSpec:
    sites: tuple[str, ...]
    devices_per_site: int
    seed: int
    kinds: tuple[str, ...] = ()  # empty: every kind
    models: tuple[str, ...] = ()  # empty: chosen by kind; "native" or vendor/model
    formats: tuple[str, ...] = tuple(FORMATS)
    interval_s: float | None = None  # None: the model's own (native: 300 s, sensor.community: 145 s)
    id_prefix: str = "sim"


@dataclass(frozen=True, slots=True)
class _Candidate:
    model: str
    kind: str
    formats: tuple[str, ...]
    quantities: dict[str, tuple[str, ...]]  # per format


def _candidates(spec: FleetSpec) -> list[_Candidate]:
    catalog = load_catalog()
    kinds = spec.kinds or tuple(catalog.kinds)
    unknown_kinds = sorted(set(kinds) - set(catalog.kinds))
    if unknown_kinds:
        raise FleetError(f"unknown kind {', '.join(unknown_kinds)}; kinds: {', '.join(catalog.kinds)}")
    pairs: list[tuple[str, str, bool]] = []  # model, kind, named explicitly
    if spec.models:
        for model in spec.models:
            if model == NATIVE:
                pairs += [(NATIVE, kind, True) for kind in kinds]
            elif model in MODELS:
                pairs.append((model, MODELS[model].kind, True))
            else:
                raise FleetError(f"unknown model {model!r}; `suitcase codec list` shows the models, or use 'native'")
    else:
        pairs += [(NATIVE, kind, False) for kind in kinds]
        pairs += [(model.id, model.kind, False) for model in MODELS.values() if model.kind in kinds]
    found = []
    for model, kind, named in pairs:
        wanted = catalog.kinds[kind].quantities if model == NATIVE else MODELS[model].quantities
        quantities = {name: FORMATS[name].quantities(model, wanted) for name in spec.formats}
        usable = tuple(name for name in spec.formats if quantities[name])
        if usable:
            found.append(_Candidate(model, kind, usable, {name: quantities[name] for name in usable}))
        elif named:
            suits = LORAWAN_FORMATS if model != NATIVE else ("native", "senml", "single_value", "sensor_community")
            raise FleetError(
                f"{model} ({kind}) cannot speak {', '.join(spec.formats)}; give --format with one of {', '.join(suits)}"
            )
    if not found:
        raise FleetError(f"no device of kinds {', '.join(kinds)} can speak {', '.join(spec.formats)}")
    return found


def _dev_eui(model: str, *keys: int) -> str:
    prefix = _EUI_PREFIX.get(model.split("/", 1)[0], "70b3d5")
    return (prefix + f"{mix(*keys):016x}")[:16]


def _chip_id(*keys: int) -> str:
    return str(1_000_000 + mix(*keys) % 15_000_000)


def _interval(spec: FleetSpec, model: str, fmt: str) -> float:
    if spec.interval_s is not None:
        return spec.interval_s
    if model != NATIVE:
        return float(MODELS[model].interval_s)
    return AIRROHR_INTERVAL_S if fmt == "sensor_community" else DEFAULT_NATIVE_INTERVAL_S


def build_fleet(spec: FleetSpec) -> list[SimDevice]:
    """``devices_per_site`` devices at each site, models dealt round-robin, formats in turn per model."""
    if spec.devices_per_site < 1 or not spec.sites:
        raise FleetError("a fleet needs at least one site and one device per site")
    unknown_formats = sorted(set(spec.formats) - set(FORMATS))
    if unknown_formats:
        raise FleetError(f"unknown format {', '.join(unknown_formats)}; formats: {', '.join(FORMATS)}")
    if len(set(spec.sites)) != len(spec.sites):
        raise FleetError("a site is named twice")
    candidates = _candidates(spec)
    seed_key = mix(spec.seed, text_key(spec.id_prefix))
    used_per_model: dict[str, int] = defaultdict(int)
    devices: list[SimDevice] = []
    taken_ids: set[str] = set()
    for site_number, site_name in enumerate(spec.sites):
        centre = geo.site(site_name, site_number)
        site_seed = mix(seed_key, text_key(site_name))
        for number in range(spec.devices_per_site):
            index = len(devices)
            candidate = candidates[index % len(candidates)]
            turn = used_per_model[candidate.model]
            used_per_model[candidate.model] += 1
            fmt = candidate.formats[turn % len(candidate.formats)]
            device = _device(
                spec,
                seed_key=seed_key,
                site_seed=site_seed,
                centre=centre,
                index=index,
                number=number,
                candidate=candidate,
                fmt=fmt,
                taken=taken_ids,
                ghost=False,
            )
            devices.append(device)
    return devices


def _device(
    spec: FleetSpec,
    *,
    seed_key: int,
    site_seed: int,
    centre: geo.Place,
    index: int,
    number: int,
    candidate: _Candidate,
    fmt: str,
    taken: set[str],
    ghost: bool,
) -> SimDevice:
    role = text_key("ghost" if ghost else "device")
    keys = (seed_key, role, index)
    if fmt == "sensor_community":
        device_id = f"esp8266-{_chip_id(*keys)}"
        bump = 0
        while device_id in taken:
            bump += 1
            device_id = f"esp8266-{_chip_id(*keys, bump)}"
    elif ghost:
        device_id = f"{spec.id_prefix}-ghost-{index + 1:04d}"
    else:
        device_id = f"{spec.id_prefix}-{centre.name}-{number + 1:03d}"
    if fmt == "tts" and len(device_id) > _MAX_TTS_ID:
        raise FleetError(f"device id {device_id!r} is longer than The Things Stack allows ({_MAX_TTS_ID}); shorten")
    taken.add(device_id)
    lat, lon = geo.place_device(centre, *keys)
    quantities = candidate.quantities[fmt]
    lorawan = candidate.model != NATIVE
    catalog = load_catalog().quantities
    indoor = candidate.kind != "weather" and any(catalog[quantity].indoor for quantity in quantities)
    gateway_km = geo.gateways_in_reach(lat, lon)[0][2]
    context = Context(
        seed=mix(*keys),
        site_seed=site_seed,
        lat=lat,
        lon=lon,
        indoor=indoor,
        radio=Radio.LORA if lorawan else Radio.WIFI,
        gateway_km=gateway_km,
    )
    what = load_catalog().kinds[candidate.kind].title.lower()
    place = "" if ghost else f" {number + 1}, {centre.name}"
    return SimDevice(
        id=device_id,
        index=index,
        model=candidate.model,
        kind=candidate.kind,
        site=centre.name,
        format=fmt,
        quantities=quantities,
        interval_s=_interval(spec, candidate.model, fmt),
        lat=lat,
        lon=lon,
        context=context,
        name=f"Simulated {what} sensor{place}" if not ghost else f"Unregistered twin of device {index + 1}",
        dev_eui=_dev_eui(candidate.model, *keys) if lorawan else None,
        ghost=ghost,
    )


def ghost_of(device: SimDevice, spec: FleetSpec) -> SimDevice:
    """A device like ``device`` that nobody registered: its messages test the unknown-device policy."""
    seed_key = mix(spec.seed, text_key(spec.id_prefix))
    candidate = _Candidate(device.model, device.kind, (device.format,), {device.format: device.quantities})
    centre = geo.Place(device.site, device.lat, device.lon)
    return _device(
        spec,
        seed_key=seed_key,
        site_seed=device.context.site_seed,
        centre=centre,
        index=device.index,
        number=0,
        candidate=candidate,
        fmt=device.format,
        taken=set(),
        ghost=True,
    )
