// The add-device form's map: click where the sensor hangs and its latitude and longitude are filled in.
// A slippy map of web-mercator tiles (the URL template of SUITCASE_MAP_TILES_URL), dragged with the mouse or a
// finger, zoomed with its buttons, the wheel or + and -. The two number fields stay the way to type a
// location; without scripts, or without tiles, they are all there is.
"use strict";
(function () {
  const box = document.getElementById("map");
  const lat = document.getElementById("lat");
  const lon = document.getElementById("lon");
  if (!box || !lat || !lon) return;
  const TILE = 256;
  const MAX_ZOOM = 19;
  const template = box.dataset.tiles;
  const sites = JSON.parse(box.dataset.sites || "{}");
  const layer = box.querySelector(".map-tiles");
  const marker = box.querySelector(".map-marker");
  let zoom = Number(box.dataset.zoom);
  let center = project(Number(box.dataset.lat), Number(box.dataset.lon), zoom);

  // Web mercator (EPSG:3857) in pixels of the whole world at a zoom level, as tile servers cut it.
  function project(latitude, longitude, z) {
    const world = TILE * 2 ** z;
    const sin = Math.min(Math.max(Math.sin((latitude * Math.PI) / 180), -0.9999), 0.9999);
    return {
      x: ((longitude + 180) / 360) * world,
      y: (0.5 - Math.log((1 + sin) / (1 - sin)) / (4 * Math.PI)) * world,
    };
  }
  function unproject(x, y, z) {
    const world = TILE * 2 ** z;
    const n = Math.PI - (2 * Math.PI * y) / world;
    return { lat: (180 / Math.PI) * Math.atan(Math.sinh(n)), lon: (x / world) * 360 - 180 };
  }
  function typed() {
    const la = Number.parseFloat(lat.value);
    const lo = Number.parseFloat(lon.value);
    return Number.isFinite(la) && Number.isFinite(lo) ? { lat: la, lon: lo } : null;
  }
  function topLeft() {
    return { x: center.x - box.clientWidth / 2, y: center.y - box.clientHeight / 2 };
  }

  function render() {
    const corner = topLeft();
    const count = 2 ** zoom;
    const tiles = [];
    for (let ty = Math.floor(corner.y / TILE); ty * TILE < corner.y + box.clientHeight; ty++) {
      if (ty < 0 || ty >= count) continue;
      for (let tx = Math.floor(corner.x / TILE); tx * TILE < corner.x + box.clientWidth; tx++) {
        const img = document.createElement("img");
        const wrapped = ((tx % count) + count) % count;
        img.src = template.replace("{z}", zoom).replace("{x}", wrapped).replace("{y}", ty);
        img.alt = "";
        img.draggable = false;
        img.style.left = `${tx * TILE - corner.x}px`;
        img.style.top = `${ty * TILE - corner.y}px`;
        img.onerror = () => img.remove();
        tiles.push(img);
      }
    }
    layer.replaceChildren(...tiles);
    const place = typed();
    marker.hidden = place === null;
    if (place) {
      const at = project(place.lat, place.lon, zoom);
      marker.style.left = `${at.x - corner.x}px`;
      marker.style.top = `${at.y - corner.y}px`;
    }
  }

  function zoomTo(z, around) {
    const next = Math.min(Math.max(z, 1), MAX_ZOOM);
    if (next === zoom) return;
    const point = around || { x: box.clientWidth / 2, y: box.clientHeight / 2 };
    const corner = topLeft();
    const scale = 2 ** (next - zoom);
    const fixed = { x: (corner.x + point.x) * scale, y: (corner.y + point.y) * scale };
    center = { x: fixed.x - point.x + box.clientWidth / 2, y: fixed.y - point.y + box.clientHeight / 2 };
    zoom = next;
    render();
  }
  function centreOn(place) {
    center = project(place.lat, place.lon, zoom);
    render();
  }
  function choose(offsetX, offsetY) {
    const corner = topLeft();
    const place = unproject(corner.x + offsetX, corner.y + offsetY, zoom);
    lat.value = place.lat.toFixed(6);
    lon.value = place.lon.toFixed(6);
    render();
  }

  let press = null;
  box.addEventListener("pointerdown", (event) => {
    if (event.target.closest("button")) return;
    press = { x: event.clientX, y: event.clientY, center: { ...center }, moved: false };
    box.setPointerCapture(event.pointerId);
  });
  box.addEventListener("pointermove", (event) => {
    if (!press) return;
    const dx = event.clientX - press.x;
    const dy = event.clientY - press.y;
    if (Math.abs(dx) + Math.abs(dy) > 4) press.moved = true;
    if (!press.moved) return;
    center = { x: press.center.x - dx, y: press.center.y - dy };
    render();
  });
  // Where an event is inside the map's border, where the tiles are drawn.
  function inside(event) {
    const rect = box.getBoundingClientRect();
    return { x: event.clientX - rect.left - box.clientLeft, y: event.clientY - rect.top - box.clientTop };
  }
  box.addEventListener("pointerup", (event) => {
    if (press && !press.moved) {
      const at = inside(event);
      choose(at.x, at.y);
    }
    press = null;
  });
  box.addEventListener("pointercancel", () => {
    press = null;
  });
  box.addEventListener(
    "wheel",
    (event) => {
      event.preventDefault();
      zoomTo(zoom + (event.deltaY < 0 ? 1 : -1), inside(event));
    },
    { passive: false },
  );
  box.addEventListener("keydown", (event) => {
    const step = 64;
    const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
    if (moves[event.key]) {
      center = { x: center.x + moves[event.key][0], y: center.y + moves[event.key][1] };
      render();
    } else if (event.key === "+" || event.key === "=") {
      zoomTo(zoom + 1);
    } else if (event.key === "-") {
      zoomTo(zoom - 1);
    } else if (event.key === "Enter") {
      choose(box.clientWidth / 2, box.clientHeight / 2); // the centre, for those who steer by keyboard
    } else {
      return;
    }
    event.preventDefault();
  });
  box.querySelector(".map-zoom-in").addEventListener("click", () => zoomTo(zoom + 1));
  box.querySelector(".map-zoom-out").addEventListener("click", () => zoomTo(zoom - 1));
  for (const field of [lat, lon]) {
    field.addEventListener("change", () => {
      const place = typed();
      if (place) centreOn(place);
    });
  }
  const site = document.getElementById("site");
  if (site) {
    site.addEventListener("change", () => {
      const known = sites[site.value];
      if (known && !typed()) centreOn({ lat: known[0], lon: known[1] });
    });
  }
  box.hidden = false;
  render();
})();
