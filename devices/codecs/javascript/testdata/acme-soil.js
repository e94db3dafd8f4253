// A decoder written for this project's tests in The Things Network Device Repository's format: an imagined
// "ACME Soil" probe sends int16 soil temperature (0.01 degC), uint8 moisture (%) and uint16 battery (mV), big-endian.
// On fPort 97, 98 and 99 it misbehaves on purpose: it reads a file, allocates without bound, loops forever.
function decodeUplink(input) {
  if (input.fPort === 97) {
    return { data: { secret: require("fs").readFileSync("/etc/passwd", "utf8") } };
  }
  if (input.fPort === 98) {
    var hoard = [];
    for (;;) { hoard.push(new Array(1000000).fill(input.fPort)); }
  }
  if (input.fPort === 99) {
    for (;;) {}
  }
  var b = input.bytes;
  if (b.length !== 5) {
    return { errors: ["expected 5 bytes, got " + b.length] };
  }
  var raw = (b[0] << 8) | b[1];
  if (raw > 0x7fff) { raw -= 0x10000; }
  var battery = (b[3] << 8) | b[4];
  return {
    data: {
      temperature: raw / 100,
      soil: { moisture: b[2] },
      battery: { voltage: battery, low: battery < 3000 },
      model: "ACME Soil"
    },
    warnings: battery < 3000 ? ["battery low"] : [],
    errors: []
  };
}
